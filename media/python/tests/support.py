"""Shared test helpers: import path set-up and a fake __bai__ channel."""

import contextlib
import os
import sys
import types

# Do not leave __pycache__ in the package (it ships read-only to kernels).
sys.dont_write_bytecode = True

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)


class FakeBai:
    """Records what bai_media sends, in order, as (kind, mime, data)."""

    def __init__(self):
        self.items = []
        self.module = types.ModuleType("__bai__")
        self.module.emit = lambda mime, data: self.items.append(("media", mime, data))
        self.module.emit_html = lambda html: self.items.append(("html", "text/html", html))

    @contextlib.contextmanager
    def installed(self):
        """Place the fake module in sys.modules for the duration."""
        old = sys.modules.get("__bai__")
        sys.modules["__bai__"] = self.module
        try:
            yield self
        finally:
            if old is None:
                sys.modules.pop("__bai__", None)
            else:
                sys.modules["__bai__"] = old


def tiny_png():
    """A valid 1x1 red PNG built with the standard library."""
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
