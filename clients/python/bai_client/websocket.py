"""A small RFC 6455 WebSocket client, enough for the execute stream.

The standard library has no WebSocket client, and the package promises no
dependencies, so the framing is done here: client frames are masked, server
frames are not; fragmented messages are joined; pings are answered with
pongs while a message is awaited; a close frame is echoed before the
socket is shut.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
from typing import Callable, Mapping

from .errors import ProtocolError, TransportError, UnreachableError, problem_from_response

# Opcodes (RFC 6455 section 5.2).
OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

# Close codes used here.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Largest message accepted from the server; execute frames are small, so
#: anything near this is a broken stream rather than output.
MAX_MESSAGE = 64 << 20


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value a server must answer for key."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True, mask_key: bytes | None = None) -> bytes:
    """One client frame. mask_key (4 bytes) is random when None; clients
    must mask every frame (section 5.3)."""
    if mask_key is None:
        mask_key = os.urandom(4)
    if len(mask_key) != 4:
        raise ValueError("mask key must be 4 bytes")
    head = bytearray([(0x80 if fin else 0) | (opcode & 0x0F)])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 1 << 16:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    head += mask_key
    return bytes(head) + apply_mask(payload, mask_key)


def apply_mask(payload: bytes, mask_key: bytes) -> bytes:
    """XOR payload with the repeating 4-byte key (masking and unmasking are
    the same operation)."""
    if not payload:
        return b""
    # XOR as one big integer: far faster than a byte loop for large frames.
    n = len(payload)
    key = (mask_key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def read_frame(read_exact: Callable[[int], bytes]) -> tuple[bool, int, bytes]:
    """Read one frame through read_exact(n) and return (fin, opcode, payload),
    unmasked. Raises ProtocolError for frames a server must not send."""
    b0, b1 = read_exact(2)
    fin = bool(b0 & 0x80)
    if b0 & 0x70:
        raise ProtocolError("websocket: reserved bits set without a negotiated extension")
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", read_exact(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", read_exact(8))
    if opcode >= 0x8 and (n > 125 or not fin):
        raise ProtocolError("websocket: control frame longer than 125 bytes or fragmented")
    if n > MAX_MESSAGE:
        raise ProtocolError(f"websocket: frame of {n} bytes is over the {MAX_MESSAGE} byte limit")
    key = read_exact(4) if masked else b""
    payload = read_exact(n) if n else b""
    if masked:
        payload = apply_mask(payload, key)
    return fin, opcode, payload


class ConnectionClosed(TransportError):
    """The server closed the WebSocket; code and reason are what it sent."""

    def __init__(self, code: int | None, reason: str = ""):
        self.code = code
        self.reason = reason
        super().__init__(f"websocket closed (code {code}{': ' + reason if reason else ''})")


class WebSocket:
    """A connected client WebSocket. Use connect() to make one."""

    def __init__(self, sock: socket.socket, reader):
        self._sock = sock
        self._rf = reader
        self._closed_sent = False
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    def connect(
        cls,
        scheme: str,
        host: str,
        path_query: str,
        headers: Mapping[str, str],
        *,
        timeout: float | None = None,
        endpoint: str = "",
    ) -> "WebSocket":
        """Open a WebSocket to scheme ("http"/"https") host (host[:port])
        path_query with the extra request headers (the signature). An
        answer other than 101 raises the APIError of its problem body."""
        hostname, _, port = host.rpartition(":") if host.rsplit(":", 1)[-1].isdigit() else (host, "", "")
        hostname = hostname.strip("[]")
        port_n = int(port) if port else (443 if scheme == "https" else 80)
        try:
            sock = socket.create_connection((hostname, port_n), timeout=timeout)
        except OSError as e:
            raise UnreachableError(endpoint or f"{scheme}://{host}", e) from e
        try:
            if scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=hostname)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            lines = [
                f"GET {path_query} HTTP/1.1",
                f"Host: {host}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
            ]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            rf = sock.makefile("rb")
            status, resp_headers = _read_http_head(rf)
            if status != 101:
                body = _read_small_body(rf, resp_headers)
                raise problem_from_response(status, body)
            if resp_headers.get("sec-websocket-accept", "") != accept_key(key):
                raise ProtocolError("websocket: the server's Sec-WebSocket-Accept does not match the key sent")
            return cls(sock, rf)
        except BaseException:
            sock.close()
            raise

    def _read_exact(self, n: int) -> bytes:
        data = self._rf.read(n)
        if data is None or len(data) < n:
            raise ConnectionClosed(None, "connection ended without a close frame")
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        try:
            self._sock.sendall(encode_frame(opcode, payload))
        except OSError as e:
            raise TransportError(f"websocket: send: {e}") from e

    def send_text(self, text: str) -> None:
        """Send one text message."""
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message."""
        self._send(OP_BINARY, data)

    def ping(self, data: bytes = b"") -> None:
        """Send a ping; the pong is consumed by recv()."""
        self._send(OP_PING, data)

    def recv(self) -> tuple[int, bytes]:
        """Wait for the next data message and return (opcode, payload);
        opcode is OP_TEXT or OP_BINARY. Pings are answered meanwhile. A
        close frame is echoed and raises ConnectionClosed."""
        opcode = None
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                fin, op, payload = read_frame(self._read_exact)
            except socket.timeout as e:
                raise TimeoutError("websocket: no message from the server in time") from e
            except ProtocolError:
                self.close(CLOSE_PROTOCOL_ERROR)
                raise
            if op == OP_PING:
                self._send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close_code, self.close_reason = code, payload[2:].decode("utf-8", "replace")
                self.close(code if code is not None else CLOSE_NORMAL)
                raise ConnectionClosed(code, self.close_reason)
            if op == OP_CONTINUATION:
                if opcode is None:
                    self.close(CLOSE_PROTOCOL_ERROR)
                    raise ProtocolError("websocket: continuation frame without a message to continue")
            elif op in (OP_TEXT, OP_BINARY):
                if opcode is not None:
                    self.close(CLOSE_PROTOCOL_ERROR)
                    raise ProtocolError("websocket: new message inside a fragmented one")
                opcode = op
            else:
                self.close(CLOSE_PROTOCOL_ERROR)
                raise ProtocolError(f"websocket: unknown opcode {op:#x}")
            parts.append(payload)
            size += len(payload)
            if size > MAX_MESSAGE:
                self.close(CLOSE_TOO_BIG)
                raise ProtocolError(f"websocket: message over the {MAX_MESSAGE} byte limit")
            if fin:
                return opcode, b"".join(parts)

    def recv_text(self) -> str:
        """recv() for a text message, decoded."""
        op, data = self.recv()
        if op != OP_TEXT:
            raise ProtocolError("websocket: expected a text message, got binary")
        return data.decode("utf-8")

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once) and close the socket."""
        if not self._closed_sent:
            self._closed_sent = True
            try:
                self._sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120]))
            except OSError:
                pass
        try:
            self._rf.close()
        finally:
            self._sock.close()

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_http_head(rf) -> tuple[int, dict[str, str]]:
    """Read a status line and headers; header names are lowercased."""
    line = rf.readline(65536)
    if not line:
        raise TransportError("websocket: the server closed the connection before answering")
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"websocket: not an HTTP answer: {line[:80]!r}")
    headers: dict[str, str] = {}
    while True:
        h = rf.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers


def _read_small_body(rf, headers: Mapping[str, str]) -> bytes:
    """The body of a refused handshake (a problem+json), at most 1 MiB."""
    n = headers.get("content-length", "")
    if n.isdigit():
        return rf.read(min(int(n), 1 << 20)) or b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while len(out) < 1 << 20:
            size = int(rf.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out += rf.read(size)
            rf.readline(1024)
        return out
    return b""
