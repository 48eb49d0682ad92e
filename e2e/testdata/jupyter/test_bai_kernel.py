"""Jupyter's own kernel conformance tests (jupyter_kernel_test) against the
bai-python kernel installed by `bai jupyter install`.

e2e/jupyter_kernel_test.go runs this module with JUPYTER_PATH pointing at
the temporary kernelspecs and BACKEND_* naming the e2e server, so every
message below travels: jupyter_client -> ZeroMQ -> `bai jupyter kernel` ->
the manager -> a Docker session.
"""

import unittest

import jupyter_kernel_test

# A 1x1 PNG, small enough to inline.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
    "HwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


class BaiPythonKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "bai-python"

    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('to stderr', file=sys.stderr)"

    # Our runner prints the value of a cell's last expression on stdout, it
    # does not report it apart, so there is no execute_result to test.
    code_execute_result = []

    code_generate_error = "raise ValueError('boom')"

    code_display_data = [
        {"code": "from bai_media import display_html\ndisplay_html('<b>bold</b>')", "mime": "text/html"},
        {
            "code": "from bai_media import display_svg\n"
            "display_svg('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"/>')",
            "mime": "image/svg+xml",
        },
        {
            "code": "import base64\nfrom bai_media import display_png\n"
            "display_png(base64.b64decode('%s'))" % PNG_B64,
            "mime": "image/png",
        },
    ]

    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "import os\nos.pat", "matches": set()},  # os is not imported in the session
    ]

    complete_code_samples = ["1", "print('hello, world')", "def f():\n    return 1\n\n"]
    incomplete_code_samples = ["for i in range(3):", "x = (1,", "s = '''abc", "if x:\n    pass"]
    invalid_code_samples = ["x = )", "s = 'abc"]


class BaiPythonKernelExtras(jupyter_kernel_test.KernelTests):
    """What KernelTests does not cover: execution counts, completion after
    state, tracebacks, input, interrupt."""

    kernel_name = "bai-python"

    def run_cell(self, code, **kw):
        self.flush_channels()
        return self.execute_helper(code, **kw)

    def test_state_and_count(self):
        reply1, _ = self.run_cell("answer = 6 * 7")
        reply2, out = self.run_cell("print(answer)")
        self.assertEqual(reply2["content"]["status"], "ok")
        self.assertEqual(reply2["content"]["execution_count"], reply1["content"]["execution_count"] + 1)
        text = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        self.assertEqual(text, "42\n")
        reply3, _ = self.run_cell("answer", store_history=False)
        self.assertEqual(reply3["content"]["execution_count"], reply2["content"]["execution_count"])

    def test_completion_of_session_names(self):
        self.run_cell("import os\nmy_long_variable = 1")
        msg_id = self.kc.complete("os.pa")
        reply = self.get_non_kernel_info_reply(timeout=15)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertIn("os.path", reply["content"]["matches"])
        self.assertEqual((reply["content"]["cursor_start"], reply["content"]["cursor_end"]), (0, 5))
        code = "x = my_long"
        self.kc.complete(code, len(code))
        reply = self.get_non_kernel_info_reply(timeout=15)
        self.assertEqual(reply["content"]["matches"], ["my_long_variable"])
        self.assertEqual(reply["content"]["cursor_start"], 4)

    def test_traceback(self):
        reply, out = self.run_cell("def f():\n    return 1 / 0\nprint('before')\nf()")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "ZeroDivisionError")
        self.assertEqual(reply["content"]["evalue"], "division by zero")
        kinds = [m["msg_type"] for m in out]
        self.assertEqual(kinds, ["stream", "error"], out)
        err = out[1]["content"]
        self.assertEqual(err["ename"], "ZeroDivisionError")
        self.assertIn("return 1 / 0", "\n".join(err["traceback"]))

    def test_printed_traceback_is_stderr(self):
        code = "import traceback\ntry:\n    1/0\nexcept Exception:\n    traceback.print_exc()\nprint('after')"
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok")
        stderr = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
        self.assertIn("ZeroDivisionError", stderr)

    def test_input(self):
        self.flush_channels()
        msg_id = self.kc.execute("name = input('name? ')\nprint('hi', name)", allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=30)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["parent_header"]["msg_id"], msg_id)
        self.kc.input("bob")
        reply = self.get_non_kernel_info_reply(timeout=30)
        self.assertEqual(reply["content"]["status"], "ok")
        text = ""
        while True:
            msg = self.kc.get_iopub_msg(timeout=5)
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" and msg["parent_header"].get("msg_id") == msg_id:
                break
        self.assertIn("hi bob", text)

    def test_interrupt(self):
        self.flush_channels()
        msg_id = self.kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        # Wait until the code runs: its first output is on iopub.
        while True:
            msg = self.kc.get_iopub_msg(timeout=30)
            if msg["msg_type"] == "stream":
                break
        self.km.interrupt_kernel()
        reply = self.get_non_kernel_info_reply(timeout=30)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")


if __name__ == "__main__":
    unittest.main()
