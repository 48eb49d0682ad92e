"""Display helpers: turn Python objects into media records."""

import base64
import io
import os
import sys

from . import _emit

__all__ = [
    "display",
    "display_svg",
    "display_png",
    "display_html",
    "display_image",
    "sniff_image",
    "MIME_SVG",
    "MIME_PNG",
    "MIME_JPEG",
    "MIME_GIF",
    "MIME_HTML",
    "MIME_DRAWING",
]

MIME_SVG = "image/svg+xml"
MIME_PNG = "image/png"
MIME_JPEG = "image/jpeg"
MIME_GIF = "image/gif"
MIME_HTML = "text/html"
MIME_DRAWING = "application/x-bai-drawing"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sniff_image(data):
    """Return the image MIME type of ``data`` (bytes) by its magic, or None."""
    if data.startswith(_PNG_MAGIC):
        return MIME_PNG
    if data.startswith(b"\xff\xd8\xff"):
        return MIME_JPEG
    if data.startswith(b"GIF87a") or data.startswith(b"GIF89a"):
        return MIME_GIF
    head = data[:256].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096]):
        return MIME_SVG
    return None


def _read(src):
    """Return bytes from bytes-like data or a filesystem path."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return f.read()
    raise TypeError("expected bytes or a path, not %s" % type(src).__name__)


def _emit_binary(mime, data):
    _emit.emit(mime, base64.b64encode(data).decode("ascii"), raw_size=len(data))


def display_svg(svg):
    """Emit an SVG document (str or UTF-8 bytes) as image/svg+xml."""
    if isinstance(svg, (bytes, bytearray)):
        svg = bytes(svg).decode("utf-8")
    _emit.emit(MIME_SVG, svg)


def display_png(png):
    """Emit a PNG image given as bytes or a file path (sent base64-encoded)."""
    data = _read(png)
    if not data.startswith(_PNG_MAGIC):
        raise ValueError("not a PNG image")
    _emit_binary(MIME_PNG, data)


def display_html(html):
    """Emit an HTML fragment."""
    _emit.emit_html(html)


def display_image(src):
    """Emit a PNG, JPEG, GIF (base64) or SVG image from bytes or a path.

    The type is picked from the file's magic bytes, not its name.
    """
    data = _read(src)
    mime = sniff_image(data)
    if mime is None:
        raise ValueError("unknown image format")
    if mime == MIME_SVG:
        display_svg(data)
    else:
        _emit_binary(mime, data)


def _is_mpl_figure(obj):
    mod = sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(obj, mod.Figure)


def figure_svg(fig):
    """Return a matplotlib figure rendered as SVG text."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


def display(*objs):
    """Display each object in the richest form it offers.

    Order of preference: ``_bai_media_()`` (returns ``(mime, data)``, used by
    Canvas), ``_repr_html_()``, ``_repr_svg_()``, ``_repr_png_()``, a
    matplotlib Figure (as SVG), bytes holding a PNG/JPEG/GIF/SVG image, then
    plain text: a str is printed as is, anything else as its repr().
    """
    for obj in objs:
        _display_one(obj)


def _call(obj, name):
    fn = getattr(obj, name, None)
    if fn is None or not callable(fn) or isinstance(obj, type):
        return None
    try:
        return fn()
    except NotImplementedError:
        return None


def _display_one(obj):
    res = _call(obj, "_bai_media_")
    if res is not None:
        mime, data = res
        _emit.emit(mime, data)
        return
    html = _call(obj, "_repr_html_")
    if html is not None:
        display_html(html)
        return
    svg = _call(obj, "_repr_svg_")
    if svg is not None:
        display_svg(svg)
        return
    png = _call(obj, "_repr_png_")
    if png is not None:
        if isinstance(png, str):  # already base64
            _emit.emit(MIME_PNG, png)
        else:
            display_png(png)
        return
    if _is_mpl_figure(obj):
        display_svg(figure_svg(obj))
        return
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        if sniff_image(data) is not None:
            display_image(data)
            return
    if isinstance(obj, str):
        print(obj)
    else:
        print(repr(obj))
