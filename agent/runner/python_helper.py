# The bai-runner's Python REPL helper. The runner starts it once per kernel
# with `python3 -u -c <this file>` and talks to it over two pipes:
#
#   fd 3 (runner -> helper): commands, framed as kind(1) + length(4, BE) + payload
#       b"X" run source code      b"I" a line of user input      b"C" complete text
#   fd 4 (helper -> runner): records, framed the same way
#       b"R" ready                b"O" stdout bytes   b"E" stderr bytes
#       b"W" waiting for input (payload: b"0"/b"1" is_password + prompt)
#       b"F" finished (payload: exit code as ASCII)
#       b"c" completion result (payload: JSON list of strings)
#       b"M" media (payload: JSON {"type": mime, "data": text})
#       b"H" HTML (payload: HTML text)
#
# The module __bai__ (emit, emit_html) sends M and H records, in order with
# the output; the value of a cell's last expression is shown through its
# _repr_html_/_repr_svg_/_repr_png_ method when it has one, as in IPython.
#
# sys.stdout and sys.stderr are replaced by writers that send O/E records on
# the single fd 4, so that their relative order survives; raw writes to fd 1/2
# (subprocesses, C extensions) go to the real pipes, which the runner reads too.


def _bai_main():
    import ast
    import builtins
    import io
    import json
    import linecache
    import os
    import re
    import select
    import signal
    import struct
    import sys
    import threading
    import traceback
    import types

    CMD_FD, REC_FD = 3, 4
    os.set_inheritable(CMD_FD, False)
    os.set_inheritable(REC_FD, False)
    helper_file = sys._getframe().f_code.co_filename

    class State:
        interruptible = False  # a SIGINT may raise KeyboardInterrupt now
        pending = False  # a SIGINT arrived while not interruptible

    st = State()

    def on_sigint(signum, frame):
        if st.interruptible:
            st.pending = False
            raise KeyboardInterrupt
        st.pending = True

    signal.signal(signal.SIGINT, on_sigint)

    lock = threading.Lock()
    main_ident = threading.get_ident()

    def write_all(buf):
        view = memoryview(buf)
        with lock:
            while view:
                n = os.write(REC_FD, view)
                view = view[n:]

    def send(kind, data):
        buf = kind + struct.pack(">I", len(data)) + data
        if threading.get_ident() != main_ident:
            write_all(buf)
            return
        # Never let a KeyboardInterrupt tear a record apart.
        prev = st.interruptible
        st.interruptible = False
        try:
            write_all(buf)
        finally:
            st.interruptible = prev
        if prev and st.pending:
            st.pending = False
            raise KeyboardInterrupt

    def read_exact(n):
        chunks = []
        while n > 0:
            b = os.read(CMD_FD, n)
            if not b:
                raise EOFError("runner closed the command pipe")
            chunks.append(b)
            n -= len(b)
        return b"".join(chunks)

    def read_cmd():
        hdr = read_exact(5)
        (n,) = struct.unpack(">I", hdr[1:])
        return hdr[:1], read_exact(n)

    class BinChannel(io.RawIOBase):
        def __init__(self, kind, fd):
            self._kind, self._fd = kind, fd

        def writable(self):
            return True

        def write(self, b):
            b = bytes(b)
            if b:
                send(self._kind, b)
            return len(b)

        def fileno(self):
            return self._fd

        def isatty(self):
            return False

    class TextChannel(io.TextIOBase):
        def __init__(self, kind, fd, name):
            self._kind, self._fd, self._name = kind, fd, name
            self.buffer = BinChannel(kind, fd)

        @property
        def encoding(self):
            return "utf-8"

        @property
        def errors(self):
            return "backslashreplace"

        @property
        def name(self):
            return self._name

        def writable(self):
            return True

        def write(self, s):
            if not isinstance(s, str):
                raise TypeError("write() argument must be str, not %s" % type(s).__name__)
            if s:
                send(self._kind, s.encode("utf-8", "backslashreplace"))
            return len(s)

        def flush(self):
            pass

        def fileno(self):
            return self._fd

        def isatty(self):
            return False

    def request_input(prompt, password):
        prompt = "" if prompt is None else str(prompt)
        if prompt:
            sys.stdout.write(prompt)
        send(b"W", (b"1" if password else b"0") + prompt.encode("utf-8", "backslashreplace"))
        # Wait interruptibly until the answer is there, then read the frame
        # whole with interrupts held back.
        prev = st.interruptible
        while True:
            r, _, _ = select.select([CMD_FD], [], [])
            if r:
                break
        st.interruptible = False
        try:
            kind, data = read_cmd()
        finally:
            st.interruptible = prev
        if kind != b"I":
            raise RuntimeError("bai-runner: unexpected command while waiting for input")
        line = data.decode("utf-8", "replace")
        if line.endswith("\n"):
            line = line[:-1]
        return line

    class InputChannel(io.TextIOBase):
        def readable(self):
            return True

        def readline(self, size=-1):
            return request_input("", False) + "\n"

        def read(self, size=-1):
            return self.readline()

        def fileno(self):
            return 0

        def isatty(self):
            return False

        @property
        def encoding(self):
            return "utf-8"

    sys.stdout = TextChannel(b"O", 1, "<stdout>")
    sys.stderr = TextChannel(b"E", 2, "<stderr>")
    sys.stdin = InputChannel()
    builtins.input = lambda prompt="": request_input(prompt, False)
    try:
        import getpass

        getpass.getpass = lambda prompt="Password: ", stream=None: request_input(prompt, True)
    except Exception:
        pass

    def emit(mime, data):
        """Show data of MIME type mime (text, or base64 for binary types)."""
        if isinstance(data, bytes):
            data = data.decode("ascii")
        sys.stdout.flush()
        send(b"M", json.dumps({"type": str(mime), "data": str(data)}, separators=(",", ":")).encode("utf-8"))

    def emit_html(html):
        """Show an HTML fragment."""
        sys.stdout.flush()
        send(b"H", str(html).encode("utf-8", "backslashreplace"))

    bai_mod = types.ModuleType("__bai__")
    bai_mod.emit = emit
    bai_mod.emit_html = emit_html
    sys.modules["__bai__"] = bai_mod

    def display_rich(value):
        # Objects with IPython-style rich representations are shown as
        # media; anything failing falls back to repr.
        if isinstance(value, type):
            return False
        for meth, kind in (("_repr_html_", "html"), ("_repr_svg_", "image/svg+xml"), ("_repr_png_", "image/png")):
            fn = getattr(value, meth, None)
            if fn is None or not callable(fn):
                continue
            try:
                out = fn()
            except Exception:
                continue
            if out is None:
                continue
            if isinstance(out, tuple):
                out = out[0]
            if kind == "html":
                emit_html(out)
            elif kind == "image/png":
                import base64

                if isinstance(out, str):
                    emit(kind, out)
                else:
                    emit(kind, base64.b64encode(out).decode("ascii"))
            else:
                emit(kind, out if isinstance(out, str) else out.decode("utf-8", "replace"))
            return True
        return False

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    ns = main.__dict__
    sys.argv = [""]

    def strip_helper(tb):
        while tb is not None and tb.tb_frame.f_code.co_filename == helper_file:
            tb = tb.tb_next
        return tb

    def print_exc(exc):
        traceback.print_exception(type(exc), exc, strip_helper(exc.__traceback__), file=sys.stderr)

    counter = [0]

    def run(src):
        counter[0] += 1
        fname = "<cell %d>" % counter[0]
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
        try:
            tree = ast.parse(src, fname, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            body = compile(tree, fname, "exec")
            tail = compile(last, fname, "eval") if last is not None else None
            st.interruptible = True
            if st.pending:
                st.pending = False
                raise KeyboardInterrupt
            exec(body, ns)
            if tail is not None:
                value = eval(tail, ns)
                if value is not None:
                    ns["_"] = value
                    if not display_rich(value):
                        sys.stdout.write(repr(value) + "\n")
            st.interruptible = False
            return 0
        except SystemExit as e:
            st.interruptible = False
            code = e.code
            if code is None:
                return 0
            if isinstance(code, int):
                return code
            try:
                sys.stderr.write(str(code) + "\n")
            except Exception:
                pass
            return 1
        except BaseException as e:
            st.interruptible = False
            try:
                print_exc(e)
            except BaseException:
                pass
            return 1
        finally:
            st.interruptible = False
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass

    token_re = re.compile(r"[A-Za-z_][\w.]*$|$")

    def complete(text):
        import rlcompleter

        text = token_re.search(text).group(0)
        out = []
        if not text:
            return out
        try:
            c = rlcompleter.Completer(ns)
            for i in range(1000):
                m = c.complete(text, i)
                if m is None:
                    break
                if m not in out:
                    out.append(m)
        except BaseException:
            pass
        return out

    send(b"R", str(os.getpid()).encode())
    while True:
        try:
            kind, data = read_cmd()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        st.pending = False
        if kind == b"X":
            code = run(data.decode("utf-8", "replace"))
            send(b"F", str(code).encode())
        elif kind == b"C":
            try:
                res = complete(data.decode("utf-8", "replace"))
            except BaseException:
                res = []
            send(b"c", json.dumps(res).encode())
        # Stray input lines (b"I") outside a request are dropped.


_bai_main()
