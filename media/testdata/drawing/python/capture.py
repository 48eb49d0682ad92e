"""Runs a drawing program with a fake __bai__ channel and prints, as one
JSON object, every document it emitted and the final state of each canvas
as the Python reference renderer (Canvas.to_svg) draws it.

Usage: python3 capture.py PROGRAM.py  (drawing_python_test.go runs it)
"""

import json
import os
import sys
import types

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))

docs = []
channel = types.ModuleType("__bai__")
channel.emit = lambda mime, data: docs.append({"mime": mime, "data": data})
channel.emit_html = lambda html: None
sys.modules["__bai__"] = channel

from bai_media import drawing  # noqa: E402

canvases = []
_init = drawing.Canvas.__init__


def _record(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    canvases.append(self)


drawing.Canvas.__init__ = _record

path = sys.argv[1]
with open(path) as f:
    code = compile(f.read(), path, "exec")
exec(code, {"__name__": "__main__"})

json.dump({"docs": docs, "final": {c.id: c.to_svg() for c in canvases}}, sys.stdout)
