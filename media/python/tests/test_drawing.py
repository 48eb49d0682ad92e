import json
import unittest

import support  # noqa: F401  (sets sys.path)
from support import FakeBai

from bai_media import MIME_DRAWING, Canvas, color, display


def emitted_docs(fake):
    out = []
    for kind, mime, data in fake.items:
        assert kind == "media" and mime == MIME_DRAWING, (kind, mime)
        out.append(json.loads(data))
    return out


class ColorTest(unittest.TestCase):
    def test_color(self):
        cases = [
            ("red", "#ff0000"),
            ("Grey", "#808080"),
            ("#ABC", "#aabbcc"),
            ("#102030", "#102030"),
            ("#102030ff", "#102030"),
            ("#10203080", "#10203080"),
            ((1, 2, 3), "#010203"),
            ((255, 0, 0, 0.5), "#ff000080"),
            ((255, 0, 0, 1.0), "#ff0000"),
            ((255, 0, 0, 64), "#ff000040"),
            (None, None),
        ]
        for arg, want in cases:
            with self.subTest(arg=arg):
                self.assertEqual(color(arg), want)

    def test_bad_colors(self):
        for arg in ["nosuchcolour", "#12", "#gggggg", (1, 2), (256, 0, 0), (0, 0, 0, 1.5), 7]:
            with self.subTest(arg=arg):
                with self.assertRaises(ValueError):
                    color(arg)


class CanvasTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeBai()

    def test_full_document(self):
        c = Canvas(200, 100, "black")
        c.line(0, 0, 10, 10, stroke="red", lw=2)
        c.rect(1, 2, 3, 4, fill=(0, 0, 255))
        c.circle(5, 5, 2.5)
        c.ellipse(5, 5, 3, 1, rot=30)
        c.polygon([(0, 0), (1, 0), (0, 1)], x=50, y=60, fill="green")
        c.text(10, 20, "hi", size=14, align="center")
        with self.fake.installed():
            c.show()
        (doc,) = emitted_docs(self.fake)
        self.assertEqual(doc["canvas"], c.id)
        self.assertEqual((doc["width"], doc["height"], doc["bgcolor"], doc["full"]),
                         (200, 100, "#000000", True))
        base = {"stroke": "#000000", "fill": None, "lw": 1, "rot": 0, "hidden": False}
        want = [
            ["obj", 1, "line", dict(base, x1=0, y1=0, x2=10, y2=10, stroke="#ff0000", lw=2)],
            ["obj", 2, "rect", dict(base, x=1, y=2, w=3, h=4, fill="#0000ff")],
            ["obj", 3, "circle", dict(base, x=5, y=5, r=2.5)],
            ["obj", 4, "ellipse", dict(base, x=5, y=5, rx=3, ry=1, rot=30)],
            ["obj", 5, "polygon", dict(base, x=50, y=60, points=[[0, 0], [1, 0], [0, 1]], fill="#008000")],
            ["obj", 6, "text", dict(base, x=10, y=20, text="hi", size=14, font="sans-serif",
                                    align="center", stroke=None, fill="#000000")],
        ]
        self.assertEqual(doc["commands"], want)

    def test_canvas_ids_are_unique_and_ordered(self):
        a, b = Canvas(), Canvas()
        self.assertNotEqual(a.id, b.id)
        pa, na = a.id.rsplit("-", 1)
        pb, nb = b.id.rsplit("-", 1)
        self.assertEqual(pa, pb)
        self.assertEqual(int(nb), int(na) + 1)

    def test_update_diffs(self):
        c = Canvas(100, 100)
        with self.fake.installed():
            r = c.rect(0, 0, 10, 10)
            s = c.circle(50, 50, 5)
            c.show()
            self.assertFalse(c.update(), "nothing changed since show")
            r.move(5, 0).move(0, 5)   # merged into one upd
            r.fill("yellow")          # still merged (same object, last command)
            s.set_x(60)
            s.stroke(None).line_width(3)
            r.rotate(400)             # rot is kept in [0, 360)
            s.set(r=5)                # unchanged: no command
            self.assertTrue(c.update())
            t = c.text(1, 2, "x")
            t.set(text="y")           # merged into the obj command
            s.delete()
            c.set_bgcolor("#00ff00")
            self.assertTrue(c.update())
            c.clear()
            self.assertTrue(c.update())
        docs = emitted_docs(self.fake)
        self.assertEqual([d["full"] for d in docs], [True, False, False, False])
        self.assertEqual(docs[1]["commands"], [
            ["upd", 1, {"x": 5, "y": 5, "fill": "#ffff00"}],
            ["upd", 2, {"x": 60, "stroke": None, "lw": 3}],
            ["upd", 1, {"rot": 40}],
        ])
        cmds = docs[2]["commands"]
        self.assertEqual(cmds[0][:3], ["obj", 3, "text"])
        self.assertEqual(cmds[0][3]["text"], "y")
        self.assertEqual(cmds[1:], [["del", 2], ["bg", "#00ff00"]])
        self.assertEqual(docs[3]["commands"], [["clear"]])
        self.assertEqual(c.objects(), [])
        # Object ids keep increasing after clear().
        self.assertEqual(c.line(0, 0, 1, 1).id, 4)

    def test_snapshot_reflects_current_state(self):
        c = Canvas()
        ln = c.line(0, 0, 10, 0)
        ln.move_to(5, 5)
        gone = c.circle(1, 1, 1)
        gone.delete()
        with self.assertRaises(ValueError):
            gone.fill("red")
        with self.assertRaises(KeyError):
            ln.set(r=3)
        with self.fake.installed():
            display(c)  # display() of a canvas is show()
        (doc,) = emitted_docs(self.fake)
        self.assertEqual(doc["full"], True)
        self.assertEqual(len(doc["commands"]), 1)
        props = doc["commands"][0][3]
        self.assertEqual((props["x1"], props["y1"], props["x2"], props["y2"]), (5, 5, 15, 5))
        self.assertEqual(c.pending()["commands"], [], "show clears the diff queue")

    def test_numbers_are_compact(self):
        c = Canvas(10.0, 20.5)
        c.circle(1 / 3, 2.0, 0.1 + 0.2)
        doc = json.loads(c.to_json())
        self.assertEqual((doc["width"], doc["height"]), (10, 20.5))
        p = doc["commands"][0][3]
        self.assertEqual((p["x"], p["y"], p["r"]), (0.333, 2, 0.3))
        self.assertNotIn(" ", c.to_json())

    def test_svg(self):
        c = Canvas(30, 20, "white")
        c.rect(1, 2, 3, 4, fill="red", rot=90)
        c.text(0, 10, "a<b")
        c.circle(0, 0, 1).hide()
        svg = c.to_svg()
        self.assertTrue(svg.startswith("<svg "))
        self.assertIn('transform="rotate(90 1 2)"', svg)
        self.assertIn("a&lt;b", svg)
        self.assertNotIn("<circle", svg)


if __name__ == "__main__":
    unittest.main()
