import json
import math
import unittest

import support  # noqa: F401  (sets sys.path)
from support import FakeBai

from bai_media import Canvas, Turtle


def lines(canvas):
    return [(s["x1"], s["y1"], s["x2"], s["y2"]) for s in canvas.objects() if s.kind == "line"]


class TurtleTest(unittest.TestCase):
    def test_forward_from_home_heads_east(self):
        c = Canvas(400, 400)
        t = Turtle(c, origin=(0, 0))
        t.forward(100)
        self.assertEqual(t.position(), (100, 0))
        self.assertEqual(t.canvas_position(), (100, 0))
        self.assertEqual(lines(c), [(0, 0, 100, 0)])

    def test_default_origin_is_canvas_centre(self):
        c = Canvas(400, 300)
        t = Turtle(c)
        t.forward(100).left(90).forward(50)  # y grows upwards in turtle coordinates
        self.assertEqual(t.position(), (100, 50))
        self.assertEqual(t.canvas_position(), (300, 100))
        self.assertEqual(lines(c), [(200, 150, 300, 150), (300, 150, 300, 100)])
        self.assertEqual(t.heading(), 90)
        self.assertEqual(t.sprite["x"], 300)
        self.assertEqual(t.sprite["y"], 100)
        self.assertEqual(t.sprite["rot"], 270)  # on screen: clockwise 270 = pointing up

    def test_moves(self):
        cases = [
            ("square", lambda t: [t.forward(10).left(90) for _ in range(4)], (0, 0), 0, 4),
            ("right", lambda t: t.right(90).forward(10), (0, -10), 270, 1),
            ("backward", lambda t: t.backward(10), (-10, 0), 0, 1),
            ("penup", lambda t: t.penup().forward(10).pendown().forward(5), (15, 0), 0, 1),
            ("goto", lambda t: t.goto(3, 4).goto((6, 8)), (6, 8), 0, 2),
            ("home", lambda t: t.goto(30, 40).left(33).home(), (0, 0), 0, 2),
            ("setheading", lambda t: t.setheading(-90).forward(2), (0, -2), 270, 1),
        ]
        for name, act, pos, heading, nlines in cases:
            with self.subTest(name):
                c = Canvas(100, 100)
                t = Turtle(c)
                act(t)
                self.assertEqual(t.position(), pos)
                self.assertEqual(t.heading(), heading)
                self.assertEqual(len(lines(c)), nlines)

    def test_circle(self):
        c = Canvas(400, 400)
        t = Turtle(c, origin=(0, 0))
        t.circle(50)
        self.assertEqual(t.position(), (0, 0))
        self.assertEqual(t.heading(), 0)
        segs = lines(c)
        self.assertGreaterEqual(len(segs), 12)
        # Centre is 50 units to the turtle's left, i.e. (0, 50) -> canvas (0, -50).
        for x1, y1, _, _ in segs:
            self.assertAlmostEqual(math.hypot(x1, y1 + 50), 50, delta=0.01)
        # A half circle clockwise ends 100 units to the right side.
        t2 = Turtle(Canvas(10, 10), origin=(0, 0))
        t2.circle(-50, 180)
        x, y = t2.position()
        self.assertAlmostEqual(x, 0, places=6)
        self.assertAlmostEqual(y, -100, places=6)
        self.assertEqual(t2.heading(), 180)

    def test_pen_and_json(self):
        fake = FakeBai()
        c = Canvas(100, 100)
        t = Turtle(c)
        with fake.installed():
            t.show()
            t.pencolor("red").pensize(3).forward(10)
            t.update()
        full, diff = (json.loads(i[2]) for i in fake.items)
        self.assertEqual([cmd[2] for cmd in full["commands"]], ["polygon"])
        sprite_id = full["commands"][0][1]
        self.assertEqual(diff["commands"], [
            ["upd", sprite_id, {"stroke": "#ff0000", "fill": "#ff0000"}],
            ["obj", 2, "line", {"x1": 50, "y1": 50, "x2": 60, "y2": 50, "stroke": "#ff0000",
                                "fill": None, "lw": 3, "rot": 0, "hidden": False}],
            ["upd", sprite_id, {"x": 60}],
        ])

    def test_animate_emits_each_step(self):
        fake = FakeBai()
        with fake.installed():
            t = Turtle(Canvas(50, 50), animate=True)
            t.forward(5).left(90)
        docs = [json.loads(i[2]) for i in fake.items]
        self.assertEqual(len(docs), 2)
        self.assertTrue(all(not d["full"] for d in docs))

    def test_clear_write_dot(self):
        c = Canvas(100, 100)
        t = Turtle(c)
        t.forward(10).dot(6, "blue").write("hi")
        kinds = [s.kind for s in c.objects()]
        self.assertEqual(kinds, ["polygon", "line", "circle", "text"])
        t.clear()
        self.assertEqual([s.kind for s in c.objects()], ["polygon"])
        self.assertEqual(t.position(), (10, 0))


if __name__ == "__main__":
    unittest.main()
