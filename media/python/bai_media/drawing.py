"""Animated vector drawings (media type application/x-bai-drawing).

A Canvas records shape objects.  Every change is also queued as a compact
command; ``Canvas.update()`` emits the queued commands (a diff) and
``Canvas.show()`` emits a full snapshot.  The JSON format is documented in
README.md because browser and Go renderers implement it.
"""

import itertools
import json
import math
import secrets
from xml.sax.saxutils import escape, quoteattr

from . import _emit
from .display import MIME_DRAWING

__all__ = ["Canvas", "Shape", "color", "MIME_DRAWING"]

# A per-process prefix keeps canvas ids unique across kernel restarts that
# share one console; the counter keeps them ordered inside one process.
_PROCESS_TAG = secrets.token_hex(3)
_CANVAS_SEQ = itertools.count(1)

# CSS colour names accepted by color(); anything else must be #hex or a tuple.
_NAMED = {
    "black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000",
    "blue": "#0000ff", "yellow": "#ffff00", "cyan": "#00ffff", "aqua": "#00ffff",
    "magenta": "#ff00ff", "fuchsia": "#ff00ff", "gray": "#808080", "grey": "#808080",
    "silver": "#c0c0c0", "maroon": "#800000", "olive": "#808000", "lime": "#00ff00",
    "teal": "#008080", "navy": "#000080", "purple": "#800080", "orange": "#ffa500",
    "pink": "#ffc0cb", "brown": "#a52a2a", "gold": "#ffd700", "violet": "#ee82ee",
    "indigo": "#4b0082", "turquoise": "#40e0d0", "salmon": "#fa8072",
    "khaki": "#f0e68c", "coral": "#ff7f50", "skyblue": "#87ceeb",
    "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3", "darkgray": "#a9a9a9",
    "darkgrey": "#a9a9a9", "lightblue": "#add8e6", "lightgreen": "#90ee90",
    "darkblue": "#00008b", "darkgreen": "#006400", "darkred": "#8b0000",
    "beige": "#f5f5dc", "tomato": "#ff6347", "crimson": "#dc143c",
    "steelblue": "#4682b4", "forestgreen": "#228b22", "transparent": "#00000000",
}


def color(c):
    """Normalise a colour to "#rrggbb" or "#rrggbbaa" (None stays None).

    Accepts CSS names from a fixed table, "#rgb", "#rrggbb", "#rrggbbaa", and
    tuples (r, g, b) or (r, g, b, a) with 0-255 channels; an alpha given as a
    float is a fraction in [0, 1], an int alpha is 0-255.
    """
    if c is None:
        return None
    if isinstance(c, str):
        s = c.strip().lower()
        if s in _NAMED:
            return _NAMED[s]
        if s.startswith("#"):
            h = s[1:]
            if len(h) == 3 and _is_hex(h):
                return "#" + "".join(ch * 2 for ch in h)
            if len(h) in (6, 8) and _is_hex(h):
                return "#" + (h[:6] if h[6:] == "ff" else h)
        raise ValueError("unknown colour %r" % c)
    if isinstance(c, (tuple, list)) and len(c) in (3, 4):
        chans = [_channel(v) for v in c[:3]]
        if len(c) == 4:
            a = c[3]
            if isinstance(a, float):
                if not 0.0 <= a <= 1.0:
                    raise ValueError("alpha fraction out of range: %r" % (a,))
                a = int(round(a * 255))
            chans.append(_channel(a))
            if chans[3] == 255:
                chans.pop()
        return "#" + "".join("%02x" % v for v in chans)
    raise ValueError("unknown colour %r" % (c,))


def _is_hex(s):
    return all(ch in "0123456789abcdef" for ch in s)


def _channel(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 255:
        raise ValueError("colour channel out of range: %r" % (v,))
    return int(round(v))


def _num(v):
    """Round a coordinate to 3 decimals; integral values become ints."""
    if isinstance(v, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(v, int):
        return v
    v = round(float(v), 3)
    if not math.isfinite(v):
        raise ValueError("coordinate must be finite")
    if v == int(v):
        return int(v)
    return v


_COLOR_KEYS = ("stroke", "fill")
_NUM_KEYS = ("x", "y", "x1", "y1", "x2", "y2", "w", "h", "r", "rx", "ry", "lw", "rot", "size")


def _norm(props):
    out = {}
    for k, v in props.items():
        if k in _COLOR_KEYS:
            v = color(v)
        elif k in _NUM_KEYS:
            v = _num(v)
        elif k == "points":
            v = [[_num(p[0]), _num(p[1])] for p in v]
        elif k == "text":
            v = str(v)
        elif k == "hidden":
            v = bool(v)
        out[k] = v
    return out


class Shape:
    """A shape on a Canvas; its setters queue "upd" commands.

    Setters return the shape, so calls chain: ``c.circle(5, 5, 3).fill("red").move(10, 0)``.
    """

    def __init__(self, canvas, oid, kind, props):
        self._canvas = canvas
        self.id = oid
        self.kind = kind
        self._props = props
        self.deleted = False

    @property
    def props(self):
        """A copy of the shape's current properties."""
        return json.loads(json.dumps(self._props))

    def __getitem__(self, key):
        return self._props[key]

    def set(self, **props):
        """Change any properties at once (see README.md for the names)."""
        if self.deleted:
            raise ValueError("shape %d was deleted" % self.id)
        unknown = set(props) - set(self._props)
        if unknown:
            raise KeyError("%s has no properties %s" % (self.kind, sorted(unknown)))
        props = _norm(props)
        changed = {k: v for k, v in props.items() if self._props.get(k) != v}
        if changed:
            self._props.update(changed)
            self._canvas._queue(["upd", self.id, changed])
        return self

    def move(self, dx, dy):
        """Move the shape by (dx, dy)."""
        p = self._props
        if self.kind == "line":
            return self.set(x1=p["x1"] + dx, y1=p["y1"] + dy, x2=p["x2"] + dx, y2=p["y2"] + dy)
        return self.set(x=p["x"] + dx, y=p["y"] + dy)

    def set_x(self, x):
        """Move the shape's anchor horizontally to x (a line keeps its length)."""
        return self.move(x - self._anchor()[0], 0)

    def set_y(self, y):
        """Move the shape's anchor vertically to y (a line keeps its length)."""
        return self.move(0, y - self._anchor()[1])

    def move_to(self, x, y):
        """Move the shape's anchor to (x, y)."""
        ax, ay = self._anchor()
        return self.move(x - ax, y - ay)

    def _anchor(self):
        if self.kind == "line":
            return self._props["x1"], self._props["y1"]
        return self._props["x"], self._props["y"]

    def rotate(self, degrees):
        """Turn the shape clockwise (on screen) by degrees around its anchor."""
        return self.set(rot=(self._props["rot"] + degrees) % 360)

    def set_rotation(self, degrees):
        """Set the absolute clockwise rotation in degrees around the anchor."""
        return self.set(rot=degrees % 360)

    def fill(self, c):
        """Set the fill colour (None for no fill)."""
        return self.set(fill=c)

    def stroke(self, c):
        """Set the outline colour (None for no outline)."""
        return self.set(stroke=c)

    def line_width(self, w):
        """Set the outline width in pixels."""
        return self.set(lw=w)

    def hide(self):
        """Hide the shape without deleting it."""
        return self.set(hidden=True)

    def show(self):
        """Show a hidden shape again."""
        return self.set(hidden=False)

    def delete(self):
        """Remove the shape from its canvas."""
        if not self.deleted:
            self._canvas._delete(self)
            self.deleted = True

    remove = delete

    def __repr__(self):
        return "<%s #%d %r>" % (self.kind, self.id, self._props)


class Canvas:
    """A drawing surface of width x height pixels; y grows downwards."""

    def __init__(self, width=400, height=300, bgcolor="white"):
        self.id = "%s-%d" % (_PROCESS_TAG, next(_CANVAS_SEQ))
        self.width = _num(width)
        self.height = _num(height)
        self.bgcolor = color(bgcolor)
        self._next_id = itertools.count(1)
        self._objects = {}  # id -> Shape, in creation (z) order
        self._pending = []

    # -- shapes -----------------------------------------------------------

    def _new(self, kind, geom, stroke, fill, lw, rot, extra=None):
        props = dict(geom)
        props.update(stroke=stroke, fill=fill, lw=lw, rot=rot, hidden=False)
        if extra:
            props.update(extra)
        props = _norm(props)
        oid = next(self._next_id)
        shape = Shape(self, oid, kind, props)
        self._objects[oid] = shape
        self._queue(["obj", oid, kind, dict(props)])
        return shape

    def line(self, x1, y1, x2, y2, stroke="black", lw=1, rot=0):
        """Add a line segment from (x1, y1) to (x2, y2)."""
        return self._new("line", dict(x1=x1, y1=y1, x2=x2, y2=y2), stroke, None, lw, rot)

    def rect(self, x, y, w, h, stroke="black", fill=None, lw=1, rot=0):
        """Add a rectangle whose top-left corner is (x, y)."""
        return self._new("rect", dict(x=x, y=y, w=w, h=h), stroke, fill, lw, rot)

    def circle(self, x, y, r, stroke="black", fill=None, lw=1, rot=0):
        """Add a circle centred on (x, y)."""
        return self._new("circle", dict(x=x, y=y, r=r), stroke, fill, lw, rot)

    def ellipse(self, x, y, rx, ry, stroke="black", fill=None, lw=1, rot=0):
        """Add an ellipse centred on (x, y) with radii rx and ry."""
        return self._new("ellipse", dict(x=x, y=y, rx=rx, ry=ry), stroke, fill, lw, rot)

    def polygon(self, points, x=0, y=0, stroke="black", fill=None, lw=1, rot=0):
        """Add a closed polygon; points are relative to the anchor (x, y)."""
        pts = [tuple(p) for p in points]
        if len(pts) < 2:
            raise ValueError("a polygon needs at least 2 points")
        return self._new("polygon", dict(x=x, y=y, points=pts), stroke, fill, lw, rot)

    def text(self, x, y, text, size=12, fill="black", font="sans-serif", align="left",
             stroke=None, lw=1, rot=0):
        """Add text whose baseline starts (align="left") at (x, y)."""
        if align not in ("left", "center", "right"):
            raise ValueError("align must be left, center or right")
        return self._new("text", dict(x=x, y=y, text=text), stroke, fill, lw, rot,
                         dict(size=size, font=str(font), align=align))

    # -- canvas-wide changes ----------------------------------------------

    def clear(self):
        """Delete every shape."""
        for s in self._objects.values():
            s.deleted = True
        self._objects.clear()
        self._pending = [c for c in self._pending if c[0] == "bg"]
        self._queue(["clear"])

    def set_bgcolor(self, c):
        """Change the background colour."""
        self.bgcolor = color(c)
        self._queue(["bg", self.bgcolor])

    def objects(self):
        """The live shapes in drawing order."""
        return list(self._objects.values())

    def _delete(self, shape):
        self._objects.pop(shape.id, None)
        self._queue(["del", shape.id])

    def _queue(self, cmd):
        last = self._pending[-1] if self._pending else None
        if cmd[0] == "upd" and last is not None and last[1:2] == [cmd[1]]:
            if last[0] == "upd":
                last[2].update(cmd[2])
                return
            if last[0] == "obj":
                last[3].update(cmd[2])
                return
        self._pending.append(cmd)

    # -- serialisation and emission ---------------------------------------

    def _doc(self, full, commands):
        return {
            "canvas": self.id,
            "width": self.width,
            "height": self.height,
            "bgcolor": self.bgcolor,
            "full": full,
            "commands": commands,
        }

    def snapshot(self):
        """The full-state document (as a dict); does not touch the diff queue."""
        cmds = [["obj", s.id, s.kind, s.props] for s in self._objects.values()]
        return self._doc(True, cmds)

    def pending(self):
        """The diff document (as a dict) that update() would emit now."""
        return self._doc(False, json.loads(json.dumps(self._pending)))

    def to_json(self, full=True):
        """Serialise the snapshot (full=True) or the pending diff compactly."""
        doc = self.snapshot() if full else self.pending()
        return json.dumps(doc, separators=(",", ":"))

    def _bai_media_(self):
        data = self.to_json(full=True)
        self._pending = []
        return MIME_DRAWING, data

    def show(self):
        """Emit the whole drawing (renderers replace what they had)."""
        mime, data = self._bai_media_()
        _emit.emit(mime, data)
        return self

    def update(self):
        """Emit the commands queued since the last show() or update().

        Returns True when something was emitted, False when nothing changed.
        """
        if not self._pending:
            return False
        data = self.to_json(full=False)
        self._pending = []
        _emit.emit(MIME_DRAWING, data)
        return True

    # -- static rendering -------------------------------------------------

    def to_svg(self):
        """Render the current state as a standalone SVG document."""
        out = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">'
            % (self.width, self.height, self.width, self.height),
            '<rect x="0" y="0" width="100%%" height="100%%" fill="%s"/>' % self.bgcolor,
        ]
        for s in self._objects.values():
            p = s._props
            if p["hidden"]:
                continue
            ax, ay = s._anchor()
            attrs = 'fill="%s" stroke="%s" stroke-width="%s"' % (
                p["fill"] or "none", p["stroke"] or "none", p["lw"])
            if p["rot"]:
                attrs += ' transform="rotate(%s %s %s)"' % (p["rot"], ax, ay)
            k = s.kind
            if k == "line":
                out.append('<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>'
                           % (p["x1"], p["y1"], p["x2"], p["y2"], attrs))
            elif k == "rect":
                out.append('<rect x="%s" y="%s" width="%s" height="%s" %s/>'
                           % (p["x"], p["y"], p["w"], p["h"], attrs))
            elif k == "circle":
                out.append('<circle cx="%s" cy="%s" r="%s" %s/>' % (p["x"], p["y"], p["r"], attrs))
            elif k == "ellipse":
                out.append('<ellipse cx="%s" cy="%s" rx="%s" ry="%s" %s/>'
                           % (p["x"], p["y"], p["rx"], p["ry"], attrs))
            elif k == "polygon":
                pts = " ".join("%s,%s" % (_num(p["x"] + px), _num(p["y"] + py))
                               for px, py in p["points"])
                out.append('<polygon points="%s" %s/>' % (pts, attrs))
            elif k == "text":
                anchor = {"left": "start", "center": "middle", "right": "end"}[p["align"]]
                out.append('<text x="%s" y="%s" font-size="%s" font-family=%s text-anchor="%s" %s>%s</text>'
                           % (p["x"], p["y"], p["size"], quoteattr(p["font"]), anchor, attrs,
                              escape(p["text"])))
        out.append("</svg>")
        return "\n".join(out)

    def _repr_svg_(self):
        return self.to_svg()

    def __repr__(self):
        return "<Canvas %s %sx%s, %d shapes>" % (self.id, self.width, self.height, len(self._objects))
