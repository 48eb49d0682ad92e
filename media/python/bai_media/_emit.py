"""Low-level emission of rich output.

Inside the Backend.AI runner's Python REPL a module named ``__bai__`` sits in
``sys.modules``; its ``emit(mime, data)`` and ``emit_html(html)`` functions send
media records to the agent, in order with stdout and stderr.  Anywhere else
(``python3 main.py`` in batch mode, a plain interpreter) there is no such
module, so a short placeholder line is printed to stdout instead.
"""

import sys

__all__ = ["emit", "emit_html", "channel"]


def channel():
    """Return the ``__bai__`` module when running inside the runner, else None."""
    mod = sys.modules.get("__bai__")
    if mod is not None:
        return mod
    try:
        import __bai__  # noqa: F401  (provided by the runner only)
    except ImportError:
        return None
    return sys.modules.get("__bai__")


def _flush_std():
    # The runner forwards stdout/stderr and media in the order it sees them;
    # flushing first keeps earlier prints ahead of this media item.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or odd stream must not break display
            pass


def _placeholder(mime, size):
    print("[media %s, %d bytes]" % (mime, size), flush=True)


def emit(mime, data, raw_size=None):
    """Send ``data`` (a str) with the given MIME type.

    ``raw_size`` is the size shown by the placeholder line; it defaults to the
    UTF-8 length of ``data`` (callers pass the decoded size for base64 data).
    """
    if not isinstance(data, str):
        raise TypeError("media data must be str, not %s" % type(data).__name__)
    ch = channel()
    if ch is None:
        _placeholder(mime, len(data.encode("utf-8")) if raw_size is None else raw_size)
        return
    _flush_std()
    ch.emit(mime, data)


def emit_html(html):
    """Send an HTML fragment (an ``html`` console item)."""
    if not isinstance(html, str):
        raise TypeError("html must be str, not %s" % type(html).__name__)
    ch = channel()
    if ch is None:
        _placeholder("text/html", len(html.encode("utf-8")))
        return
    _flush_std()
    fn = getattr(ch, "emit_html", None)
    if fn is not None:
        fn(html)
    else:
        ch.emit("text/html", html)
