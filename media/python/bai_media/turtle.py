"""Turtle graphics on top of Canvas.

Turtle coordinates follow the classic turtle module: (0, 0) is the home
position (by default the canvas centre), x grows to the right, y grows
upwards, headings are degrees counterclockwise from east.  Every pen-down
move adds a "line" shape to the canvas; the turtle itself is a polygon sprite
that is updated as it moves.
"""

import math

from .drawing import Canvas

__all__ = ["Turtle"]

# Arrowhead pointing east (+x) in sprite-local canvas coordinates.
_SPRITE = [[9, 0], [-6, -6], [-3, 0], [-6, 6]]


def _clean(v):
    # Drop floating-point noise such as 99.99999999999999 or 6e-15.
    v = round(v, 9)
    return 0.0 if v == 0 else v


class Turtle:
    """A drawing turtle; pass a Canvas or get a fresh 400x400 one."""

    def __init__(self, canvas=None, origin=None, animate=False, visible=True):
        self.canvas = canvas if canvas is not None else Canvas(400, 400)
        if origin is None:
            origin = (self.canvas.width / 2, self.canvas.height / 2)
        self.origin = (float(origin[0]), float(origin[1]))
        self.animate = animate
        self._x = 0.0
        self._y = 0.0
        self._heading = 0.0
        self._down = True
        self._pencolor = "black"
        self._pensize = 1
        self.lines = []  # shapes this turtle drew, oldest first
        sx, sy = self._to_canvas(0.0, 0.0)
        self.sprite = self.canvas.polygon(_SPRITE, x=sx, y=sy, stroke="black", fill="black")
        if not visible:
            self.sprite.hide()

    # -- coordinates ------------------------------------------------------

    def _to_canvas(self, x, y):
        return self.origin[0] + x, self.origin[1] - y

    def position(self):
        """The turtle's (x, y) in turtle coordinates."""
        return (_clean(self._x), _clean(self._y))

    pos = position

    def canvas_position(self):
        """The turtle's (x, y) in canvas pixel coordinates (y down)."""
        x, y = self._to_canvas(self._x, self._y)
        return (_clean(x), _clean(y))

    def xcor(self):
        """The x coordinate."""
        return _clean(self._x)

    def ycor(self):
        """The y coordinate."""
        return _clean(self._y)

    def heading(self):
        """The heading in degrees counterclockwise from east, in [0, 360)."""
        return _clean(self._heading % 360.0)

    # -- motion -----------------------------------------------------------

    def _step(self):
        sx, sy = self._to_canvas(self._x, self._y)
        self.sprite.set(x=sx, y=sy, rot=(-self._heading) % 360)
        if self.animate:
            self.canvas.update()

    def goto(self, x, y=None):
        """Move to (x, y), drawing a line when the pen is down."""
        if y is None:
            x, y = x
        x0, y0 = self._to_canvas(self._x, self._y)
        self._x, self._y = _clean(float(x)), _clean(float(y))
        if self._down:
            x1, y1 = self._to_canvas(self._x, self._y)
            self.lines.append(self.canvas.line(x0, y0, x1, y1, stroke=self._pencolor, lw=self._pensize))
        self._step()
        return self

    setpos = setposition = goto

    def setx(self, x):
        """Move horizontally to x."""
        return self.goto(x, self._y)

    def sety(self, y):
        """Move vertically to y."""
        return self.goto(self._x, y)

    def forward(self, distance):
        """Move forward by distance along the heading."""
        rad = math.radians(self._heading)
        return self.goto(self._x + distance * math.cos(rad), self._y + distance * math.sin(rad))

    fd = forward

    def backward(self, distance):
        """Move backward by distance."""
        return self.forward(-distance)

    bk = back = backward

    def left(self, angle):
        """Turn counterclockwise by angle degrees."""
        self._heading = (self._heading + angle) % 360.0
        self._step()
        return self

    lt = left

    def right(self, angle):
        """Turn clockwise by angle degrees."""
        return self.left(-angle)

    rt = right

    def setheading(self, angle):
        """Point to the absolute heading angle (0 east, 90 north)."""
        self._heading = angle % 360.0
        self._step()
        return self

    seth = setheading

    def home(self):
        """Go back to (0, 0) heading east (drawing if the pen is down)."""
        self.goto(0, 0)
        return self.setheading(0)

    def circle(self, radius, extent=None, steps=None):
        """Draw an arc of a circle whose centre is radius units to the left.

        A negative radius turns clockwise; extent (degrees, default 360)
        limits the arc; steps sets the number of chords.
        """
        if extent is None:
            extent = 360.0
        if steps is None:
            steps = max(4, int(min(12 + abs(radius) / 5.0, 72) * abs(extent) / 360.0))
        angle = float(extent) / steps
        if radius < 0:
            angle = -angle
        chord = 2.0 * abs(radius) * math.sin(math.radians(abs(angle) / 2.0))
        if extent < 0:
            chord = -chord
        self.left(angle / 2.0)
        for _ in range(steps):
            self.forward(chord)
            self.left(angle)
        self.left(-angle / 2.0)
        return self

    # -- pen --------------------------------------------------------------

    def penup(self):
        """Lift the pen: moves stop drawing."""
        self._down = False
        return self

    pu = up = penup

    def pendown(self):
        """Lower the pen: moves draw lines."""
        self._down = True
        return self

    pd = down = pendown

    def isdown(self):
        """Whether the pen is down."""
        return self._down

    def pencolor(self, c=None):
        """Get or set the line colour."""
        if c is None:
            return self._pencolor
        self._pencolor = c
        self.sprite.set(stroke=c, fill=c)
        return self

    color = pencolor

    def pensize(self, width=None):
        """Get or set the line width."""
        if width is None:
            return self._pensize
        self._pensize = width
        return self

    width = pensize

    def speed(self, _=None):
        """Accepted for compatibility; drawing speed is the renderer's."""
        return self

    def hideturtle(self):
        """Hide the sprite."""
        self.sprite.hide()
        return self

    ht = hideturtle

    def showturtle(self):
        """Show the sprite."""
        self.sprite.show()
        return self

    st = showturtle

    def dot(self, size=None, c=None):
        """Draw a filled dot at the current position."""
        size = size if size is not None else max(self._pensize + 4, 2 * self._pensize)
        c = c if c is not None else self._pencolor
        x, y = self._to_canvas(self._x, self._y)
        self.lines.append(self.canvas.circle(x, y, size / 2.0, stroke=None, fill=c))
        return self

    def write(self, text, size=12, align="left"):
        """Write text with its baseline at the current position."""
        x, y = self._to_canvas(self._x, self._y)
        self.lines.append(self.canvas.text(x, y, text, size=size, fill=self._pencolor, align=align))
        return self

    def clear(self):
        """Delete what this turtle drew (the turtle stays where it is)."""
        for s in self.lines:
            s.delete()
        self.lines = []
        return self

    # -- output -----------------------------------------------------------

    def show(self):
        """Emit the whole canvas."""
        self.canvas.show()
        return self

    done = show

    def update(self):
        """Emit what changed since the last show() or update()."""
        return self.canvas.update()

    def _bai_media_(self):
        return self.canvas._bai_media_()

    def _repr_svg_(self):
        return self.canvas.to_svg()
