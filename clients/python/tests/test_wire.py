"""Parsing and framing without a server: WebSocket frames over a real
socket pair, SSE lines, multipart bodies, tar extraction, console items
and problem+json answers."""

import email.parser
import email.policy
import io
import os
import socket
import struct
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bai_client import errors  # noqa: E402
from bai_client.models import decode_console  # noqa: E402
from bai_client.multipart import FormData, MultipartReader, UploadFile, content_disposition, extract_tar_stream  # noqa: E402
from bai_client.sse import SSEParser, parse_lines  # noqa: E402
from bai_client.websocket import (  # noqa: E402
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ConnectionClosed,
    WebSocket,
    accept_key,
    apply_mask,
    encode_frame,
    read_frame,
)


def server_frame(opcode, payload, fin=True):
    """An unmasked frame as a server sends it."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head.append(n)
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return bytes(head) + payload


class WebSocketFraming(unittest.TestCase):
    def test_accept_key_rfc_example(self):
        # The example handshake of RFC 6455 section 1.3.
        self.assertEqual(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_client_frames_are_masked(self):
        key = b"\x37\xfa\x21\x3d"
        # RFC 6455 section 5.7: a masked "Hello".
        self.assertEqual(encode_frame(OP_TEXT, b"Hello", mask_key=key), bytes.fromhex("818537fa213d7f9f4d5158"))
        for n, lenbytes in [(125, 0), (126, 2), (65535, 2), (65536, 8)]:
            with self.subTest(n=n):
                frame = encode_frame(OP_BINARY, b"x" * n, mask_key=key)
                self.assertEqual(len(frame), 2 + lenbytes + 4 + n)
                buf = io.BytesIO(frame)
                fin, op, payload = read_frame(buf.read)
                self.assertEqual((fin, op, payload), (True, OP_BINARY, b"x" * n))

    def test_mask_round_trip(self):
        data = os.urandom(1001)
        self.assertEqual(apply_mask(apply_mask(data, b"abcd"), b"abcd"), data)

    def _pair(self):
        a, b = socket.socketpair()
        a.settimeout(5)
        b.settimeout(5)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return WebSocket(a, a.makefile("rb")), b

    def _read_client_frame(self, sock):
        rf = sock.makefile("rb")
        return read_frame(lambda n: rf.read(n))

    def test_fragments_pings_and_close(self):
        ws, server = self._pair()
        server.sendall(
            server_frame(OP_TEXT, b'{"status": ', fin=False)
            + server_frame(OP_PING, b"are you there")
            + server_frame(0x0, b'"finished"}')
            + server_frame(OP_TEXT, "é".encode() * 40000)
            + server_frame(OP_CLOSE, struct.pack("!H", 1000) + b"finished")
        )
        self.assertEqual(ws.recv_text(), '{"status": "finished"}')
        fin, op, payload = self._read_client_frame(server)
        self.assertEqual((op, payload), (OP_PONG, b"are you there"))
        self.assertEqual(ws.recv_text(), "é" * 40000)
        with self.assertRaises(ConnectionClosed) as cm:
            ws.recv()
        self.assertEqual((cm.exception.code, cm.exception.reason), (1000, "finished"))
        # The close is echoed with the same code.
        rf = server.makefile("rb")
        fin, op, payload = read_frame(lambda n: rf.read(n))
        self.assertEqual((op, payload[:2]), (OP_CLOSE, struct.pack("!H", 1000)))

    def test_sent_text_reaches_the_server_unmasked(self):
        ws, server = self._pair()
        ws.send_text("answer")
        self.assertEqual(self._read_client_frame(server), (True, OP_TEXT, b"answer"))

    def test_abrupt_end_and_bad_frames(self):
        ws, server = self._pair()
        server.sendall(server_frame(OP_TEXT, b"partial")[:4])
        server.shutdown(socket.SHUT_WR)
        with self.assertRaises(ConnectionClosed):
            ws.recv()
        ws, server = self._pair()
        server.sendall(bytes([0x80 | 0x40 | OP_TEXT, 1]) + b"x")  # reserved bit set
        with self.assertRaises(errors.ProtocolError):
            ws.recv()
        ws, server = self._pair()
        server.sendall(server_frame(0x0, b"orphan"))
        with self.assertRaises(errors.ProtocolError):
            ws.recv()


class ServerSentEvents(unittest.TestCase):
    def test_parse(self):
        stream = (
            ": bai session events\n\n"
            "event: session_started\ndata: {\"sessionName\": \"a\"}\n\n"
            ": keep-alive\n\n"
            "data: line one\r\ndata:line two\r\nid: 7\r\n\r\n"
            "event: only-a-name\n\n"
            "retry: 3000\nevent: x\ndata\n\n"
            "data: unterminated"
        ).splitlines(keepends=True)
        evs = list(parse_lines(stream))
        self.assertEqual([(e.event, e.data, e.id) for e in evs], [
            ("session_started", '{"sessionName": "a"}', ""),
            ("message", "line one\nline two", "7"),
            ("x", "", "7"),
        ])
        self.assertEqual(evs[0].json(), {"sessionName": "a"})
        self.assertEqual(evs[2].retry, 3000)

    def test_feed_returns_the_event_at_the_blank_line(self):
        p = SSEParser()
        self.assertIsNone(p.feed("event: a"))
        self.assertIsNone(p.feed("data: 1"))
        ev = p.feed("")
        self.assertEqual((ev.event, ev.data), ("a", "1"))


class Multipart(unittest.TestCase):
    def test_form_data_length_and_shape(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, size in enumerate([0, 5, 200000]):
                p = os.path.join(d, f"f{i}")
                with open(p, "wb") as f:
                    f.write(os.urandom(size))
                paths.append(p)
            files = [UploadFile.from_path(paths[0], "empty"), UploadFile.from_path(paths[1], 'a "quoted" name'),
                     UploadFile.from_path(paths[2], "sub/dir/naïve.bin")]
            seen = []
            form = FormData(files, progress=seen.append)
            body = b"".join(form)
            self.assertEqual(len(body), len(form))
            self.assertEqual(sum(seen), 200005)
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + form.content_type.encode() + b"\r\n\r\n" + body)
            parts = list(msg.iter_parts())
            self.assertEqual([p.get_filename() for p in parts], ["empty", 'a "quoted" name', "sub/dir/naïve.bin"])
            for p, path in zip(parts, paths):
                with open(path, "rb") as f:
                    self.assertEqual(p.get_payload(decode=True), f.read())

    def test_content_disposition(self):
        self.assertEqual(content_disposition('a\\b"c'), 'form-data; name="src"; filename="a\\\\b\\"c"')
        self.assertEqual(content_disposition("é.txt"), "form-data; name=\"src\"; filename*=utf-8''%C3%A9.txt")

    def test_reader_in_small_reads(self):
        boundary = "b0undary"
        payloads = [b"first", b"", b"--b0undary is not a delimiter without CRLF\r\n--b0undar", os.urandom(70000)]
        body = b"".join(
            b"--" + boundary.encode() + b"\r\nContent-Type: application/x-tar\r\n\r\n" + p + b"\r\n" for p in payloads
        ) + b"--" + boundary.encode() + b"--\r\n"

        class Trickle(io.RawIOBase):
            """Hands out at most 7 bytes a read, so delimiters straddle reads."""

            def __init__(self, data):
                self.data = data

            def read(self, n=-1):
                out, self.data = self.data[:7], self.data[7:]
                return out

        got = [(p.headers.get("content-type"), p.read()) for p in MultipartReader(Trickle(body), boundary).parts()]
        self.assertEqual(got, [("application/x-tar", p) for p in payloads])
        # Parts left unread are skipped.
        self.assertEqual(len(list(MultipartReader(io.BytesIO(body), boundary).parts())), 4)
        with self.assertRaises(errors.ProtocolError):
            list(MultipartReader(io.BytesIO(body[:-20]), boundary).parts())

    def test_tar_extraction_stays_inside(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            def add(name, data=b"x", kind=tarfile.REGTYPE, link=""):
                ti = tarfile.TarInfo(name)
                ti.type, ti.linkname, ti.size, ti.mode = kind, link, len(data) if kind == tarfile.REGTYPE else 0, 0o644
                tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
            add("ok/", kind=tarfile.DIRTYPE)
            add("ok/file.txt", b"hello")
            add("../evil.txt")
            add("/abs.txt", b"abs")
            add("ok/link", kind=tarfile.SYMTYPE, link="/etc")
            add("ok/link/passwd", b"through the link")
        buf.seek(0)
        with tempfile.TemporaryDirectory() as parent:
            dest = os.path.join(parent, "dest")
            os.mkdir(dest)
            written = extract_tar_stream(buf, dest)
            self.assertIn(os.path.join(dest, "ok", "file.txt"), written)
            with open(os.path.join(dest, "ok", "file.txt"), "rb") as f:
                self.assertEqual(f.read(), b"hello")
            self.assertFalse(os.path.exists(os.path.join(parent, "evil.txt")))
            self.assertFalse(os.path.islink(os.path.join(dest, "ok", "link")))
            self.assertTrue(os.path.exists(os.path.join(dest, "abs.txt")))  # kept, made relative


class ConsoleAndProblems(unittest.TestCase):
    def test_decode_console(self):
        cases = [
            (["stdout", "hi\n"], ("stdout", "hi\n", "")),
            (["media", ["image/svg+xml", "<svg/>"]], ("media", "<svg/>", "image/svg+xml")),
            (["media", {"type": "image/png", "data": "iVBOR"}], ("media", "iVBOR", "image/png")),
            (["log", ["INFO", 1.5, "root", "message"]], ("log", "message", "")),
            (["html", "<b>x</b>"], ("html", "<b>x</b>", "")),
            (["completion", ["a", "b"]], ("completion", "", "")),
            ("garbage", ("", "", "")),
        ]
        for raw, want in cases:
            with self.subTest(raw=raw):
                it = decode_console(raw)
                self.assertEqual((it.type, it.text, it.mime), want)

    def test_problem_decoding(self):
        e = errors.problem_from_response(404, b'{"type": "https://api.backend.ai/probs/not-found", "title": "Not found.", '
                                              b'"msg": "session \\"x\\"", "status": 404}')
        self.assertIsInstance(e, errors.NotFoundError)
        self.assertEqual((e.status, e.type, e.msg), (404, "https://api.backend.ai/probs/not-found", 'session "x"'))
        self.assertEqual(str(e), 'Not found (HTTP 404): session "x"')
        for status, cls in [(400, errors.InvalidArgumentError), (401, errors.AuthenticationError),
                            (403, errors.PermissionDeniedError), (409, errors.ConflictError),
                            (412, errors.QuotaExceededError), (413, errors.TooLargeError),
                            (429, errors.RateLimitedError), (503, errors.UnavailableError), (418, errors.APIError)]:
            with self.subTest(status):
                self.assertIs(type(errors.problem_from_response(status, b"{}")), cls)
        plain = errors.problem_from_response(502, b"bad gateway\n")
        self.assertEqual(str(plain), "Bad Gateway (HTTP 502): bad gateway")


if __name__ == "__main__":
    unittest.main()
