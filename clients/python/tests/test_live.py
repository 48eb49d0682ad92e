"""Live tests: the client against a running bai server with real Docker
sessions, given by BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
BACKEND_SECRET_KEY. Without them the module is skipped, unless
BAI_CLIENT_REQUIRE_LIVE=1 (set by the e2e test), which makes that an
error. Every session a test creates is destroyed by its cleanup.
"""

import asyncio
import hashlib
import os
import secrets
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bai_client  # noqa: E402
from bai_client import (  # noqa: E402
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    ExecTimeoutError,
    InvalidArgumentError,
    NotFoundError,
    UnreachableError,
)

IMAGE = os.environ.get("CLIENT_TEST_VAR_IMAGE", "python:3.11-debian")
KEYS = ("BACKEND_ENDPOINT", "BACKEND_ACCESS_KEY", "BACKEND_SECRET_KEY")


def setUpModule():
    if not all(os.environ.get(k) for k in KEYS):
        if os.environ.get("BAI_CLIENT_REQUIRE_LIVE") == "1":
            raise RuntimeError("BAI_CLIENT_REQUIRE_LIVE=1 but BACKEND_ENDPOINT/ACCESS_KEY/SECRET_KEY are not all set")
        raise unittest.SkipTest("set BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY to run the live tests")


def unique(prefix):
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


def client():
    return Client(timeout=120)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


class SharedSession(unittest.TestCase):
    """Runs in one python session, created once for the class."""

    @classmethod
    def setUpClass(cls):
        cls.c = client()
        cls.name = unique("pyc")
        cls.info = cls.c.create_session(IMAGE, cls.name, resources={"cpu": 1, "mem": "512m"})
        cls.addClassCleanup(cls.c.destroy_session, cls.name, True)

    def test_create_answer_and_listing(self):
        self.assertEqual(self.info["sessionName"], self.name)
        self.assertEqual(self.info["status"], "RUNNING")
        self.assertTrue(self.info["created"])
        info = self.c.get_session(self.name)
        self.assertEqual((info["sessionId"], info["status"]), (self.info["sessionId"], "RUNNING"))
        self.assertIn(self.name, [s["sessionName"] for s in self.c.list_sessions()])
        # Asking again by name reuses the live session.
        again = self.c.create_session(IMAGE, self.name)
        self.assertEqual((again["sessionId"], again["created"]), (self.info["sessionId"], False))

    def test_query(self):
        seen = []
        r = self.c.run_code(self.name, "print(1+1)", on_console=seen.append)
        self.assertEqual((r.status, r.exit_code, r.stdout), ("finished", 0, "2\n"))
        self.assertEqual([(i.type, i.text) for i in seen], [("stdout", "2\n")])
        r = self.c.run_code(self.name, "raise ValueError('boom')")
        self.assertIn("ValueError: boom", r.stderr)

    def test_input_round_trip(self):
        asked = []

        def answer(req):
            asked.append(req)
            return "bai"

        r = self.c.run_code(self.name, "name = input('name? ')\nprint('hello', name)", on_input=answer)
        self.assertEqual(len(asked), 1)
        self.assertFalse(asked[0].is_password)
        self.assertIn("hello bai\n", r.stdout)
        self.assertEqual(r.exit_code, 0)

    def test_continued_runs_are_polled(self):
        code = "import time\nprint('a', flush=True)\ntime.sleep(3)\nprint('b')"
        first = self.c.execute(self.name, "query", "cont1", code)
        # The server holds a request for about 2 s, so a 3 s run continues.
        self.assertEqual(first["status"], "continued")
        out = "".join(t for k, t in first["console"] if k == "stdout")
        res = first
        while res["status"] == "continued":
            res = self.c.execute(self.name, "continue", "cont1")
            out += "".join(t for k, t in res["console"] if k == "stdout")
        self.assertEqual((res["status"], res["exitCode"], out), ("finished", 0, "a\nb\n"))
        self.assertEqual(self.c.run_code(self.name, code).stdout, "a\nb\n")

    def test_batch_build_and_exec(self):
        with tempfile.TemporaryDirectory() as d:
            main = os.path.join(d, "main.py")
            with open(main, "w") as f:
                f.write("import sys\nprint('batch', open('built.txt').read().strip())\nsys.exit(4)\n")
            self.c.upload(self.name, [("batch/main.py", main)])
        steps = []
        r = self.c.run_code(self.name, "", "batch",
                            {"clean": "", "build": "cd batch && echo built > built.txt", "exec": "cd batch && python3 main.py"},
                            on_step=lambda status, code: steps.append((status, code)))
        self.assertIn(("build-finished", 0), steps)
        self.assertEqual((r.status, r.exit_code, r.stdout), ("finished", 4, "batch built\n"))

    def test_upload_and_download(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "big.bin")
            with open(src, "wb") as f:
                for _ in range(3):
                    f.write(os.urandom(1 << 20))
                f.write(b"tail")
            small = os.path.join(d, "small.txt")
            with open(small, "w") as f:
                f.write("small file")
            progress = []
            self.c.upload(self.name, [("up/nested/big.bin", src), ("up/naïve name.txt", small)],
                          progress=lambda sent, total: progress.append((sent, total)))
            self.assertEqual(progress[-1], (3 * (1 << 20) + 4 + 10,) * 2)
            listing = self.c.list_files(self.name, "up/nested")
            self.assertEqual(listing["abspath"], "/home/work/up/nested")
            self.assertEqual([(e["filename"], e["size"]) for e in listing["files"]], [("big.bin", 3 * (1 << 20) + 4)])

            back = os.path.join(d, "back.bin")
            n = self.c.download_single(self.name, "up/nested/big.bin", back)
            self.assertEqual(n, os.path.getsize(src))
            self.assertEqual(sha256_file(back), sha256_file(src))

            out = os.path.join(d, "out")
            written = self.c.download(self.name, ["up"], out)
            self.assertEqual(sorted(os.path.relpath(p, out) for p in written),
                             ["up/naïve name.txt", "up/nested/big.bin"])
            self.assertEqual(sha256_file(os.path.join(out, "up", "nested", "big.bin")), sha256_file(src))

            missing = os.path.join(d, "missing")
            with self.assertRaises(NotFoundError) as cm:
                self.c.download_single(self.name, "up/no-such-file", missing)
            self.assertIn("no-such-file", cm.exception.msg)
            self.assertFalse(os.path.exists(missing))
            with self.assertRaises(InvalidArgumentError):
                self.c.download_single(self.name, "../etc/passwd", missing)

    def test_execute_stream_with_input(self):
        code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\nx = input('? ')\nprint('got', x)"
        seen = []
        r = self.c.run_stream(self.name, code, on_console=seen.append, on_input=lambda req: "streamed")
        self.assertEqual((r.status, r.exit_code), ("finished", 0))
        self.assertEqual(r.stdout, "0\n1\n2\n? got streamed\n")
        # Output streams as the run goes: several frames, not one at the end.
        self.assertGreater(len(seen), 1)

        statuses = []
        with self.c.execute_stream(self.name, "print(input())") as st:
            for frame in st:
                statuses.append(frame["status"])
                if frame["status"] == "waiting-input":
                    st.send_input("raw text frame")
                if frame["status"] == "finished":
                    self.assertIn(["stdout", "raw text frame\n"], [list(c) for c in frame["console"]])
        self.assertEqual(statuses[0], "waiting-input")
        self.assertEqual(statuses[-1], "finished")

    def test_stream_of_unknown_session(self):
        with self.assertRaises(NotFoundError):
            self.c.execute_stream(unique("nosuch"), "print(1)")

    def test_interrupt(self):
        first = self.c.execute(self.name, "query", "intr1", "import time\ntime.sleep(60)")
        self.assertEqual(first["status"], "continued")
        start = time.monotonic()
        self.c.interrupt(self.name)
        res = first
        while res["status"] == "continued":
            res = self.c.execute(self.name, "continue", "intr1")
        self.assertEqual(res["status"], "finished")
        self.assertLess(time.monotonic() - start, 30)
        self.assertIn("KeyboardInterrupt", "".join(t for k, t in res["console"] if k == "stderr"))
        # The session stays usable.
        self.assertEqual(self.c.run_code(self.name, "print('after')").stdout, "after\n")

    def test_exec_timeout(self):
        with self.assertRaises(ExecTimeoutError) as cm:
            self.c.run_code(self.name, "print('started', flush=True)\nimport time\ntime.sleep(30)", options={"exec_timeout": 1})
        self.assertEqual(cm.exception.result.status, "exec-timeout")

    def test_complete_and_logs(self):
        self.assertIn("print(", self.c.complete(self.name, "pri", {"row": 0, "col": 3, "line": "pri"}))
        self.assertIsInstance(self.c.logs(self.name), str)

    def test_async_client(self):
        async def main():
            ac = AsyncClient(timeout=120)
            r = await ac.run_code(self.name, "print(6*7)")
            info = await ac.get_session(self.name)
            return r, info

        r, info = asyncio.run(main())
        self.assertEqual(r.stdout, "42\n")
        self.assertEqual(info["sessionName"], self.name)


class Lifecycle(unittest.TestCase):
    """A session of its own: create options, events, restart, destroy."""

    def test_lifecycle_with_events(self):
        c = client()
        name = unique("pyl")
        with c.session_events(name=name, timeout=30) as events:
            created = c.create_session(IMAGE, name, enqueue_only=True, resources={"cpu": 1, "mem": "512m"},
                                       environ={"CLIENT_TEST_VAR": "from-env"}, max_wait_seconds=60)
            self.addCleanup(self._destroy_quietly, c, name)
            self.assertTrue(created["created"])
            started = events.wait_for(lambda e: e.event == "session_started", 90)
            self.assertEqual((started.session_name, started.session_id), (name, created["sessionId"]))
            self.assertEqual(started.data["status"], "RUNNING")

            info = c.get_session(name)
            self.assertEqual(info["status"], "RUNNING")
            self.assertEqual(info["resourceSlots"].get("cpu"), "1")
            r = c.run_code(name, "import os\nx = 1\nprint(os.environ['CLIENT_TEST_VAR'])")
            self.assertEqual(r.stdout, "from-env\n")

            c.restart_session(name)
            events.wait_for(lambda e: e.event == "session_restarted", 90)
            r = c.run_code(name, "print('x' in globals())")
            self.assertEqual(r.stdout, "False\n")  # the kernel's state is gone

            stats = c.destroy_session(name)
            self.assertIn("stats", stats)
            ended = events.wait_for(lambda e: e.event == "session_terminated", 60)
            self.assertEqual(ended.data["result"], "SUCCESS")
        with self.assertRaises((ConflictError, NotFoundError)):
            c.run_code(name, "print(1)")

    @staticmethod
    def _destroy_quietly(c, name):
        try:
            c.destroy_session(name, forced=True)
        except (NotFoundError, ConflictError):
            pass


class Errors(unittest.TestCase):
    def test_unknown_session_is_404(self):
        name = unique("missing")
        with self.assertRaises(NotFoundError) as cm:
            client().get_session(name)
        e = cm.exception
        self.assertEqual(e.status, 404)
        self.assertEqual(e.type, "https://api.backend.ai/probs/not-found")
        self.assertIn(name, e.msg)
        self.assertIn("HTTP 404", str(e))

    def test_bad_keys_are_401(self):
        bad = Client(timeout=30, secret_key="not-the-secret-key-of-this-keypair-0000")
        with self.assertRaises(AuthenticationError) as cm:
            bad.list_sessions()
        self.assertEqual(cm.exception.status, 401)
        self.assertTrue(cm.exception.msg)
        self.assertNotIn("not-the-secret", str(cm.exception))
        with self.assertRaises(AuthenticationError):
            Client(timeout=30, access_key="AKIANOSUCHKEY0000000").session_events()

    def test_unknown_image_is_400(self):
        with self.assertRaises(InvalidArgumentError) as cm:
            client().create_session("no-such-image:0", unique("badimg"))
        self.assertIn("python", cm.exception.msg)  # the answer lists the available images

    def test_unreachable(self):
        with self.assertRaises(UnreachableError):
            Client(endpoint="http://127.0.0.1:1", timeout=5).list_sessions()

    def test_server_info_is_unsigned(self):
        info = Client(timeout=30, secret_key="wrong-but-unused").server_info()
        self.assertRegex(info["version"], r"^v\d+\.\d{8}$")
        self.assertTrue(bai_client.__version__)


if __name__ == "__main__":
    unittest.main()
