import base64
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest

import support  # noqa: F401  (sets sys.path)
from support import FakeBai, tiny_png

import bai_media
from bai_media import display, display_html, display_image, display_png, display_svg

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00rest"
GIF = b"GIF89a\x01\x00\x01\x00rest"


class HTMLThing:
    def _repr_html_(self):
        return "<b>hi</b>"

    def _repr_svg_(self):  # must lose against HTML
        return SVG


class SVGThing:
    def _repr_svg_(self):
        return SVG


class PNGThing:
    def _repr_png_(self):
        return tiny_png()


class NoHTML:
    def _repr_html_(self):
        return None  # pandas-style "not available": fall through

    def __repr__(self):
        return "NoHTML()"


class DisplayHelpersTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeBai()

    def run_with_fake(self, fn, *args):
        with self.fake.installed():
            fn(*args)
        return self.fake.items

    def test_helpers(self):
        png = tiny_png()
        cases = [
            ("svg", display_svg, SVG, ("media", "image/svg+xml", SVG)),
            ("svg bytes", display_svg, SVG.encode(), ("media", "image/svg+xml", SVG)),
            ("png", display_png, png, ("media", "image/png", base64.b64encode(png).decode())),
            ("html", display_html, "<i>x</i>", ("html", "text/html", "<i>x</i>")),
            ("image png", display_image, png, ("media", "image/png", base64.b64encode(png).decode())),
            ("image jpeg", display_image, JPEG, ("media", "image/jpeg", base64.b64encode(JPEG).decode())),
            ("image gif", display_image, GIF, ("media", "image/gif", base64.b64encode(GIF).decode())),
            ("image svg", display_image, SVG.encode(), ("media", "image/svg+xml", SVG)),
            ("display html", display, HTMLThing(), ("html", "text/html", "<b>hi</b>")),
            ("display svg", display, SVGThing(), ("media", "image/svg+xml", SVG)),
            ("display png", display, PNGThing(), ("media", "image/png", base64.b64encode(png).decode())),
            ("display png bytes", display, png, ("media", "image/png", base64.b64encode(png).decode())),
        ]
        for name, fn, arg, want in cases:
            with self.subTest(name):
                self.fake.items = []
                self.assertEqual(self.run_with_fake(fn, arg), [want])

    def test_png_base64_round_trip(self):
        png = tiny_png()
        items = self.run_with_fake(display_png, png)
        self.assertEqual(base64.b64decode(items[0][2]), png)

    def test_paths(self):
        png = tiny_png()
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "image.bin")  # type comes from magic, not name
            with open(p, "wb") as f:
                f.write(JPEG)
            q = os.path.join(d, "x.png")
            with open(q, "wb") as f:
                f.write(png)
            items = self.run_with_fake(display_image, p)
            items = self.run_with_fake(display_png, q)
        self.assertEqual([i[1] for i in items], ["image/jpeg", "image/png"])
        self.assertEqual(base64.b64decode(items[1][2]), png)

    def test_errors(self):
        with self.fake.installed():
            with self.assertRaises(ValueError):
                display_png(JPEG)
            with self.assertRaises(ValueError):
                display_image(b"plain text")
            with self.assertRaises(TypeError):
                display_png(12)
        self.assertEqual(self.fake.items, [])

    def test_text_is_printed(self):
        out = io.StringIO()
        with self.fake.installed(), contextlib.redirect_stdout(out):
            display("hello", 42, NoHTML(), b"not an image")
        self.assertEqual(out.getvalue(), "hello\n42\nNoHTML()\nb'not an image'\n")
        self.assertEqual(self.fake.items, [])

    def test_emit_html_fallback_to_emit(self):
        # A channel without emit_html still gets the HTML as text/html media.
        del self.fake.module.emit_html
        items = self.run_with_fake(display_html, "<p/>")
        self.assertEqual(items, [("media", "text/html", "<p/>")])

    def test_pandas_dataframe(self):
        try:
            import pandas
        except ImportError:
            self.skipTest("pandas is not installed for %s" % sys.executable)
        df = pandas.DataFrame({"a": [1, 2]})
        items = self.run_with_fake(display, df)
        self.assertEqual(items[0][:2], ("html", "text/html"))
        self.assertIn("<table", items[0][2])


class PlaceholderTest(unittest.TestCase):
    def test_in_process(self):
        self.assertNotIn("__bai__", sys.modules)
        png = tiny_png()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            display_svg(SVG)
            display_png(png)
            display_html("<b>é</b>")
            bai_media.Canvas(10, 10).show()
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0], "[media image/svg+xml, %d bytes]" % len(SVG))
        self.assertEqual(lines[1], "[media image/png, %d bytes]" % len(png))
        self.assertEqual(lines[2], "[media text/html, 9 bytes]")
        self.assertRegex(lines[3], r"^\[media application/x-bai-drawing, \d+ bytes\]$")

    def test_plain_python_process(self):
        code = "from bai_media import display_svg; print('before'); display_svg('<svg/>'); print('after')"
        env = dict(os.environ, PYTHONPATH=support.PKG_ROOT)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "before\n[media image/svg+xml, 6 bytes]\nafter\n")


if __name__ == "__main__":
    unittest.main()
