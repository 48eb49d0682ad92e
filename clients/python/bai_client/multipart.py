"""Streaming multipart bodies: the multipart/form-data upload body, built
from files read chunk by chunk (never whole into memory, and with its
length known up front so no chunked encoding is needed), and a
multipart/mixed reader for the download answer (one tar archive per path).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import urllib.parse
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from .errors import ProtocolError

CHUNK = 64 << 10


@dataclass(frozen=True)
class UploadFile:
    """One local file to upload: name is its path under /home/work in the
    session, path the local file, size its length in bytes."""

    name: str
    path: str
    size: int

    @classmethod
    def from_path(cls, path: str, name: str | None = None) -> "UploadFile":
        """An UploadFile for a local path; name defaults to its base name."""
        st = os.stat(path)
        if not os.path.isfile(path):
            raise IsADirectoryError(f"upload {path}: not a regular file")
        return cls(name or os.path.basename(path), path, st.st_size)


def content_disposition(filename: str) -> str:
    """The part's Content-Disposition. ASCII names are quoted (backslash
    escapes for quote and backslash); others use RFC 2231's filename*,
    which the agent's Go mime parser decodes."""
    if filename.isascii() and filename.isprintable():
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'form-data; name="src"; filename="{quoted}"'
    return "form-data; name=\"src\"; filename*=utf-8''" + urllib.parse.quote(filename, safe="")


class FormData:
    """A multipart/form-data body of files, as an iterable of chunks."""

    def __init__(self, files: list[UploadFile], boundary: str | None = None,
                 progress: Callable[[int], None] | None = None):
        self.files = files
        self.boundary = boundary or os.urandom(16).hex()
        self.progress = progress
        self._heads = [
            (
                f"--{self.boundary}\r\n"
                f"Content-Disposition: {content_disposition(f.name)}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode("utf-8")
            for f in files
        ]
        self._tail = f"--{self.boundary}--\r\n".encode("ascii")

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return sum(len(h) + f.size + 2 for h, f in zip(self._heads, self.files)) + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        for head, f in zip(self._heads, self.files):
            yield head
            left = f.size
            with open(f.path, "rb") as fp:
                while left > 0:
                    chunk = fp.read(min(CHUNK, left))
                    if not chunk:
                        raise OSError(f"upload {f.path}: the file shrank while it was sent")
                    left -= len(chunk)
                    if self.progress:
                        self.progress(len(chunk))
                    yield chunk
                if fp.read(1):
                    raise OSError(f"upload {f.path}: the file grew while it was sent")
            yield b"\r\n"
        yield self._tail


class Part:
    """One part of a multipart body: its headers (lowercased names) and a
    read() that stops at the part's end."""

    def __init__(self, reader: "MultipartReader", headers: dict[str, str]):
        self.headers = headers
        self._r = reader
        self.done = False

    def read(self, n: int = -1) -> bytes:
        if self.done:
            return b""
        out = bytearray()
        while n < 0 or len(out) < n:
            chunk = self._r._read_body(CHUNK if n < 0 else n - len(out))
            if not chunk:
                self.done = True
                break
            out += chunk
        return bytes(out)


class MultipartReader:
    """Reads the parts of a multipart body from a binary stream in order,
    holding at most one chunk and a delimiter's length in memory."""

    def __init__(self, fp: BinaryIO, boundary: str):
        if not boundary:
            raise ProtocolError("multipart answer without a boundary")
        self._fp = fp
        self._delim = b"\r\n--" + boundary.encode("latin-1")
        # The first delimiter may start the body without a CRLF before it;
        # pretending one was there lets one search find every delimiter.
        self._buf = b"\r\n"
        self._eof = False
        self._in_body = False
        self._part: Part | None = None

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._fp.read(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _read_body(self, n: int) -> bytes:
        """Up to n bytes of the current part; b"" at its end."""
        if not self._in_body:
            return b""
        while True:
            i = self._buf.find(self._delim)
            if i >= 0:
                if i == 0:
                    self._in_body = False
                    return b""
                take = min(i, n)
            else:
                # Keep a possible partial delimiter at the end of the buffer.
                take = min(len(self._buf) - len(self._delim) + 1, n)
            if take > 0:
                out, self._buf = self._buf[:take], self._buf[take:]
                return out
            if not self._fill():
                raise ProtocolError("multipart answer ended inside a part")

    def parts(self) -> Iterator[Part]:
        """Yield each part; a part left unread is skipped when the next is
        asked for."""
        while True:
            if self._part is not None:
                while self._part.read(CHUNK):
                    pass
                self._part = None
            # Find the next delimiter and what follows it.
            while True:
                i = self._buf.find(self._delim)
                if i >= 0 and len(self._buf) >= i + len(self._delim) + 2:
                    break
                if not self._fill():
                    raise ProtocolError("multipart answer ended before its closing delimiter")
            after = i + len(self._delim)
            if self._buf[after:after + 2] == b"--":
                return
            # Skip transport padding to the end of the delimiter line.
            while b"\r\n" not in self._buf[after:]:
                if not self._fill():
                    raise ProtocolError("multipart answer ended in a delimiter line")
            self._buf = self._buf[self._buf.index(b"\r\n", after) + 2:]
            while b"\r\n\r\n" not in self._buf and not self._buf.startswith(b"\r\n"):
                if len(self._buf) > 1 << 16:
                    raise ProtocolError("multipart part headers over 64 KiB")
                if not self._fill():
                    raise ProtocolError("multipart answer ended in part headers")
            if self._buf.startswith(b"\r\n"):
                raw, self._buf = b"", self._buf[2:]
            else:
                end = self._buf.index(b"\r\n\r\n")
                raw, self._buf = self._buf[:end], self._buf[end + 4:]
            headers = {}
            for line in raw.decode("utf-8", "replace").split("\r\n"):
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            self._in_body = True
            self._part = Part(self, headers)
            yield self._part


def _inside(root: str, path: str) -> bool:
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def extract_tar_stream(fileobj, dest: str) -> list[str]:
    """Unpack a tar stream into dest and return the regular files written.

    Nothing is written outside dest whatever the archive holds: absolute
    names and ".." are dropped, and links are skipped (the session's files
    are data; a link could point a later entry outside dest).
    """
    written = []
    with tarfile.open(fileobj=fileobj, mode="r|") as tf:
        for m in tf:
            name = posixpath.normpath(m.name.lstrip("/"))
            if name in (".", "..") or name.startswith("../"):
                continue
            target = os.path.join(dest, *name.split("/"))
            if m.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            if not m.isreg():
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not _inside(dest, os.path.dirname(target)):
                continue
            src = tf.extractfile(m)
            with open(target, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.chmod(target, (m.mode & 0o777) | 0o600)
            os.utime(target, (m.mtime, m.mtime))
            written.append(target)
    return written
