import json
import os
import subprocess
import sys
import tempfile
import unittest

import support  # noqa: F401  (sets sys.path)
from support import FakeBai

try:
    import matplotlib
except ImportError:
    matplotlib = None

SKIP = "matplotlib is not installed for %s" % sys.executable

# A stand-in for the runner's __bai__ module that writes one JSON line per emit.
FAKE_CHANNEL = '''
import json, sys
def emit(mime, data):
    sys.stdout.write("EMIT " + json.dumps([mime, data]) + "\\n")
def emit_html(html):
    emit("text/html", html)
'''


@unittest.skipIf(matplotlib is None, SKIP)
class MatplotlibTest(unittest.TestCase):
    def test_display_figure_is_svg(self):
        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from bai_media import display

        fig = Figure(figsize=(2, 2))
        fig.add_subplot().plot([1, 2, 3])
        fake = FakeBai()
        with fake.installed():
            display(fig)
        self.assertEqual(len(fake.items), 1)
        kind, mime, data = fake.items[0]
        self.assertEqual((kind, mime), ("media", "image/svg+xml"))
        self.assertIn("<svg", data)

    def test_backend_from_env_var(self):
        # matplotlib imported after MPLBACKEND is set, as in a kernel container.
        code = (
            "import matplotlib.pyplot as plt\n"
            "plt.plot([1, 2]); plt.figure(); plt.plot([3, 1])\n"
            "print('open', len(plt.get_fignums()))\n"
            "plt.show()\n"
            "print('left', len(plt.get_fignums()))\n"
        )
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "__bai__.py"), "w") as f:
                f.write(FAKE_CHANNEL)
            env = dict(os.environ, MPLBACKEND="module://bai_media.mpl_backend",
                       PYTHONPATH=os.pathsep.join([support.PKG_ROOT, d]),
                       MPLCONFIGDIR=d)
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], "open 2")
        self.assertEqual(lines[-1], "left 0")
        emits = [json.loads(line[5:]) for line in lines if line.startswith("EMIT ")]
        self.assertEqual([m for m, _ in emits], ["image/svg+xml", "image/svg+xml"])
        self.assertTrue(all("<svg" in d for _, d in emits))


if __name__ == "__main__":
    unittest.main()
