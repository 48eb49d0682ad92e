"""The synchronous client: configuration, signed HTTP requests, sessions,
the execute loop, files, the execute WebSocket stream and the session
events stream. The Go SDK (clients/go) is the reference for behaviour; the
method names are its names in snake_case.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from . import models
from .errors import (
    ConfigError,
    ExecTimeoutError,
    ProtocolError,
    StreamError,
    TransportError,
    UnreachableError,
    problem_from_response,
)
from .models import ConsoleItem, InputRequest, RunResult, SessionEvent, decode_console
from .multipart import CHUNK, FormData, MultipartReader, UploadFile, extract_tar_stream
from .signing import NEWEST_VERSION, parse_version, sign_headers
from .sse import SSEParser
from .websocket import CLOSE_NORMAL, ConnectionClosed, WebSocket

#: The manager address used when BACKEND_ENDPOINT is unset: where `bai dev` listens.
DEFAULT_ENDPOINT = "http://127.0.0.1:8081"

ENV_ENDPOINT = "BACKEND_ENDPOINT"
ENV_ACCESS_KEY = "BACKEND_ACCESS_KEY"
ENV_SECRET_KEY = "BACKEND_SECRET_KEY"

#: How many files the manager takes in one upload request; longer lists
#: are split into several requests.
MAX_UPLOAD_FILES = 20

# Execute modes.
MODE_QUERY = "query"
MODE_BATCH = "batch"
MODE_CONTINUE = "continue"
MODE_INPUT = "input"

ConsoleHandler = Callable[[ConsoleItem], None]
InputHandler = Callable[[InputRequest], str]
StepHandler = Callable[[str, int], None]
PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class Config:
    """Where the manager is and which keypair signs the requests.

    timeout is the socket timeout in seconds for each connect and read
    (not for a whole call): execute answers come at least every 2 s, but
    a create waits up to maxWaitSeconds for the session to start.
    """

    endpoint: str = DEFAULT_ENDPOINT
    access_key: str = ""
    secret_key: str = field(default="", repr=False)  # never in a repr or a log line
    api_version: str = NEWEST_VERSION
    user_agent: str = "bai-python-client"
    timeout: float | None = 300.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        """Read BACKEND_ENDPOINT (default DEFAULT_ENDPOINT),
        BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY; keyword arguments that
        are not None win over the environment."""
        env = os.environ if environ is None else environ
        cfg = cls(
            endpoint=env.get(ENV_ENDPOINT, "").strip() or DEFAULT_ENDPOINT,
            access_key=env.get(ENV_ACCESS_KEY, "").strip(),
            secret_key=env.get(ENV_SECRET_KEY, "").strip(),
        )
        for k, v in overrides.items():
            if k not in cls.__dataclass_fields__:
                raise ConfigError(f"unknown configuration setting {k!r}")
            if v is not None:
                setattr(cfg, k, v)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError saying what to set when the config is unusable."""
        if not self.access_key or not self.secret_key:
            raise ConfigError(f"set {ENV_ACCESS_KEY} and {ENV_SECRET_KEY} (printed by `bai dev`), or pass access_key and secret_key")
        u = urllib.parse.urlsplit(self.endpoint)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ConfigError(f"endpoint {self.endpoint!r} must look like http://host:port (set {ENV_ENDPOINT})")
        try:
            major, _ = parse_version(self.api_version)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if major < 5:
            # v4 and older address sessions under /kernel; this client speaks /session.
            raise ConfigError(f"api version {self.api_version}: the client speaks v5 and newer")


class _Response:
    """An open HTTP answer and its connection; closing it closes both."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self.conn = conn
        self.resp = resp
        self.status = resp.status
        self.headers = resp.headers

    def read(self, n: int = -1) -> bytes:
        return self.resp.read() if n < 0 else self.resp.read(n)

    def readline(self) -> bytes:
        return self.resp.readline(1 << 20)

    def settimeout(self, t: float | None) -> None:
        if self.conn.sock is not None:
            self.conn.sock.settimeout(t)

    def close(self) -> None:
        try:
            self.resp.close()
        finally:
            self.conn.close()

    def __enter__(self) -> "_Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_UNSET: Any = object()


class Client:
    """Talks to one manager with one keypair.

    Client() reads BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
    BACKEND_SECRET_KEY; explicit arguments (or a Config) win. Every call
    opens its own connection, so one Client may be used from several
    threads.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        api_version: str | None = None,
        timeout: float | None = _UNSET,
        user_agent: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        overrides: dict[str, Any] = dict(endpoint=endpoint, access_key=access_key, secret_key=secret_key,
                                         api_version=api_version, user_agent=user_agent)
        if config is None:
            env = os.environ
            config = Config(
                endpoint=env.get(ENV_ENDPOINT, "").strip() or DEFAULT_ENDPOINT,
                access_key=env.get(ENV_ACCESS_KEY, "").strip(),
                secret_key=env.get(ENV_SECRET_KEY, "").strip(),
            )
        else:
            config = Config(**{f: getattr(config, f) for f in config.__dataclass_fields__})
        for k, v in overrides.items():
            if v is not None:
                setattr(config, k, v)
        if timeout is not _UNSET:
            config.timeout = timeout
        config.validate()
        self.config = config
        u = urllib.parse.urlsplit(config.endpoint.rstrip("/"))
        self._scheme = u.scheme
        self._netloc = u.netloc  # signed as the host, and sent as Host
        self._host = u.hostname or ""
        self._port = u.port or (443 if u.scheme == "https" else 80)
        self._base_path = u.path.rstrip("/")
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @property
    def endpoint(self) -> str:
        return f"{self._scheme}://{self._netloc}{self._base_path}"

    def __repr__(self) -> str:
        return f"Client(endpoint={self.endpoint!r}, access_key={self.config.access_key!r})"

    # -- HTTP plumbing -------------------------------------------------

    def _path_query(self, path: str, query: Mapping[str, Any] | None) -> str:
        pq = self._base_path + path
        if query:
            pq += "?" + urllib.parse.urlencode(query, doseq=True)
        return pq

    def _signed(self, method: str, path_query: str, content_type: str, body: bytes | None) -> dict[str, str]:
        return sign_headers(
            self.config.access_key, self.config.secret_key,
            method=method, path_query=path_query, host=self._netloc, content_type=content_type,
            version=self.config.api_version, body=body, when=self._clock(),
        )

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise UnreachableError(self.endpoint, e) from e
        return conn

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | Iterable[bytes] = b"",
        length: int | None = None,
        content_type: str = "text/plain",
        accept: str = "application/json",
        signed: bool = True,
        timeout: float | None = _UNSET,
    ) -> _Response:
        """Send one request and return the open answer; statuses >= 400
        raise the APIError of the problem body. body is bytes, or an
        iterable of chunks whose total length is given."""
        pq = self._path_query(path, query)
        is_bytes = isinstance(body, (bytes, bytearray))
        headers = {
            "Host": self._netloc,
            "Content-Type": content_type,
            "Accept": accept,
            "User-Agent": self.config.user_agent,
        }
        if is_bytes:
            if body or method not in ("GET", "HEAD"):
                headers["Content-Length"] = str(len(body))
        else:
            if length is None:
                raise ValueError("a streamed body needs its length")
            headers["Content-Length"] = str(length)
        if signed:
            headers.update(self._signed(method, pq, content_type, bytes(body) if is_bytes else None))
        conn = self._connect(self.config.timeout if timeout is _UNSET else timeout)
        try:
            conn.putrequest(method, pq, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            send_error: OSError | None = None
            try:
                if is_bytes:
                    if body:
                        conn.send(bytes(body))
                else:
                    for chunk in body:
                        conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError) as e:
                # The server may refuse a request (unknown session, too
                # large) before reading the whole body; its answer says why.
                send_error = e
            try:
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise TransportError(f"{method} {path}: {send_error or e}") from e
        except BaseException:
            conn.close()
            raise
        if resp.status >= 400:
            try:
                data = resp.read(1 << 20)
            except (OSError, http.client.HTTPException):
                data = b""
            conn.close()
            raise problem_from_response(resp.status, data)
        if send_error is not None:
            conn.close()
            raise TransportError(f"{method} {path}: {send_error}")
        return _Response(conn, resp)

    def _call(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
              json_body: Any = None, signed: bool = True) -> Any:
        """A request with an optional JSON body and a JSON (or empty) answer."""
        body = b"" if json_body is None else json.dumps(json_body).encode("utf-8")
        ctype = "text/plain" if json_body is None else "application/json"
        try:
            with self._request(method, path, query=query, body=body, content_type=ctype, signed=signed) as r:
                data = r.read()
        except (OSError, http.client.HTTPException) as e:
            if isinstance(e, (UnreachableError, TransportError)):
                raise
            raise TransportError(f"{method} {path}: {e}") from e
        if r.status == 204 or not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as e:
            raise ProtocolError(f"{method} {path}: answer is not JSON: {data[:200]!r}") from e

    @staticmethod
    def _session_path(name: str, *suffix: str) -> str:
        return "/session/" + urllib.parse.quote(name, safe="") + "".join("/" + s for s in suffix)

    # -- server and sessions -------------------------------------------

    def server_info(self) -> dict:
        """GET / (unsigned): {"version", "manager"}."""
        return self._call("GET", "/", signed=False)

    def images(self) -> list[dict]:
        """The kernel images the manager knows."""
        return (self._call("GET", "/images") or {}).get("items", [])

    def create_session(
        self,
        image: str,
        name: str | None = None,
        *,
        resources: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        enqueue_only: bool = False,
        max_wait_seconds: int | None = None,
        reuse_if_exists: bool | None = None,
        session_type: str | None = None,
        tag: str | None = None,
        group: str | None = None,
        scaling_group: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict:
        """Create a session of image (a name such as python:3.11-debian or
        an alias such as python), or get the live one of that name when
        reuse_if_exists allows it (the server's default). Without
        enqueue_only the answer comes once the session runs, failed, or
        max_wait_seconds passed. resources: {"cpu": 1, "mem": "512m"}.
        extra adds raw fields to the request body."""
        body: dict[str, Any] = {"image": image}
        if name:
            body["name"] = name
        if session_type:
            body["type"] = session_type
        if enqueue_only:
            body["enqueueOnly"] = True
        if max_wait_seconds is not None:
            body["maxWaitSeconds"] = max_wait_seconds
        if reuse_if_exists is not None:
            body["reuseIfExists"] = reuse_if_exists
        if tag is not None:
            body["tag"] = tag
        if group:
            body["group"] = group
        config: dict[str, Any] = {}
        if resources:
            config["resources"] = dict(resources)
        if environ:
            config["environ"] = dict(environ)
        if scaling_group:
            config["scaling_group"] = scaling_group
        if config:
            body["config"] = config
        if extra:
            body.update(extra)
        out = self._call("POST", "/session", json_body=body)
        if not out.get("sessionId"):
            out["sessionId"] = out.get("kernelId", "")
        return out

    def get_session(self, name: str) -> dict:
        """The information of a session by name or id (status, image,
        slots, createdAt, ...)."""
        return self._call("GET", self._session_path(name))

    def list_sessions(self) -> list[dict]:
        """The caller's sessions that are not destroyed."""
        return (self._call("GET", "/session") or {}).get("items", [])

    def destroy_session(self, name: str, forced: bool = False) -> dict:
        """Terminate a session; forced skips the graceful shutdown. Answers
        {"stats": {...}}."""
        return self._call("DELETE", self._session_path(name), query={"forced": "true"} if forced else None) or {}

    def restart_session(self, name: str) -> None:
        """Restart the session's kernel: its state is lost, its files kept."""
        self._call("PATCH", self._session_path(name))

    def interrupt(self, name: str) -> None:
        """Interrupt the code running in a session."""
        self._call("POST", self._session_path(name, "interrupt"))

    def complete(self, name: str, code: str, options: Mapping[str, Any] | None = None) -> list:
        """Completions of code from the session's kernel; options may carry
        row, col, line and post."""
        body: dict[str, Any] = {"code": code}
        if options:
            body["options"] = dict(options)
        return (self._call("POST", self._session_path(name, "complete"), json_body=body) or {}).get("result") or []

    def logs(self, name: str) -> str:
        """The container logs of a session."""
        return ((self._call("GET", self._session_path(name, "logs")) or {}).get("result") or {}).get("logs", "")

    # -- execute -------------------------------------------------------

    def execute(self, name: str, mode: str, run_id: str, code: str = "",
                options: Mapping[str, Any] | None = None) -> dict:
        """One execute request (query, batch, continue, input); answers the
        "result" object. run_code drives the whole loop on top of it."""
        body: dict[str, Any] = {"mode": mode, "runId": run_id, "code": code}
        if options is not None:
            body["options"] = dict(options)
        out = self._call("POST", self._session_path(name), json_body=body)
        if not isinstance(out, dict) or not isinstance(out.get("result"), dict):
            raise ProtocolError(f"execute in session {name}: answer without a result object")
        return out["result"]

    def run_code(
        self,
        name: str,
        code: str,
        mode: str = MODE_QUERY,
        options: Mapping[str, Any] | None = None,
        *,
        on_console: ConsoleHandler | None = None,
        on_input: InputHandler | None = None,
        on_step: StepHandler | None = None,
    ) -> RunResult:
        """Run code and drive the execute loop to its end: post it (mode
        query, or batch with options {"clean", "build", "exec"}), call
        again with mode continue while the status is continued (and after
        a batch run's clean and build steps), answer waiting-input with
        on_input(InputRequest) (an empty line when None), and hand every
        console item to on_console as it arrives. Returns the RunResult
        once finished; exec-timeout raises ExecTimeoutError (its result
        holds the output so far)."""
        run_id = secrets.token_hex(8)
        result = RunResult(run_id=run_id)
        req_mode, req_code, req_opts = mode or MODE_QUERY, code, options
        while True:
            res = self.execute(name, req_mode, run_id, req_code, req_opts)
            run_id = res.get("runId") or run_id
            result.run_id = run_id
            self._absorb(result, res, on_console)
            status = result.status
            req_mode, req_code, req_opts = MODE_CONTINUE, "", None
            if status == models.FINISHED:
                return result
            if status == models.EXEC_TIMEOUT:
                raise ExecTimeoutError(run_id, result)
            if status in (models.CLEAN_FINISHED, models.BUILD_FINISHED):
                if on_step:
                    on_step(status, result.exit_code or 0)
            elif status == models.WAITING_INPUT:
                req_mode, req_code = MODE_INPUT, self._ask(on_input, res.get("options"))
            elif status != models.CONTINUED:
                raise ProtocolError(f"run {run_id}: unknown execute status {status!r}")

    @staticmethod
    def _absorb(result: RunResult, res: Mapping[str, Any], on_console: ConsoleHandler | None) -> None:
        result.status = str(res.get("status", ""))
        code = res.get("exitCode")
        result.exit_code = code if isinstance(code, int) else result.exit_code
        for raw in res.get("console") or []:
            item = decode_console(raw)
            result.console.append(item)
            if on_console:
                on_console(item)
        if res.get("files"):
            result.files.extend(res["files"])

    @staticmethod
    def _ask(on_input: InputHandler | None, options: Any) -> str:
        opts = options if isinstance(options, dict) else {}
        req = InputRequest(is_password=bool(opts.get("is_password", False)), options=opts)
        return "" if on_input is None else on_input(req)

    # -- execute stream (WebSocket) --------------------------------------

    def execute_stream(self, name: str, code: str, mode: str = MODE_QUERY,
                       options: Mapping[str, Any] | None = None, *,
                       timeout: float | None = _UNSET) -> "ExecuteStream":
        """Open GET /stream/session/{name}/execute and send the run. Iterate
        the returned ExecuteStream for frames; answer a waiting-input frame
        with send_input(). Use it as a context manager."""
        path = "/stream" + self._session_path(name, "execute")
        pq = self._path_query(path, None)
        # The handshake sends no Content-Type; the manager treats that as
        # application/octet-stream, so that is what is signed.
        headers = {"User-Agent": self.config.user_agent}
        headers.update(self._signed("GET", pq, "application/octet-stream", b""))
        ws = WebSocket.connect(
            self._scheme, self._netloc, pq, headers,
            timeout=self.config.timeout if timeout is _UNSET else timeout, endpoint=self.endpoint,
        )
        first = {"mode": mode or MODE_QUERY, "code": code, "options": dict(options or {})}
        try:
            ws.send_text(json.dumps(first))
        except BaseException:
            ws.close()
            raise
        return ExecuteStream(ws)

    def run_stream(
        self,
        name: str,
        code: str,
        mode: str = MODE_QUERY,
        options: Mapping[str, Any] | None = None,
        *,
        on_console: ConsoleHandler | None = None,
        on_input: InputHandler | None = None,
        on_step: StepHandler | None = None,
    ) -> RunResult:
        """run_code over the execute stream: output arrives as the run goes
        (frames every 200 ms), input is answered on the same socket."""
        result = RunResult(run_id="")
        with self.execute_stream(name, code, mode, options) as st:
            for frame in st:
                self._absorb(result, frame, on_console)
                status = result.status
                if status == models.FINISHED:
                    return result
                if status == models.EXEC_TIMEOUT:
                    raise ExecTimeoutError(result.run_id, result)
                if status in (models.CLEAN_FINISHED, models.BUILD_FINISHED) and on_step:
                    on_step(status, result.exit_code or 0)
                elif status == models.WAITING_INPUT:
                    st.send_input(self._ask(on_input, frame.get("options")))
        raise TransportError(f"execute stream of session {name} ended before the run finished")

    # -- events (SSE) --------------------------------------------------

    def session_events(self, name: str | None = None, session_id: str | None = None,
                       scope: str | None = None, *, timeout: float | None = 60.0) -> "EventStream":
        """Open GET /events/session: lifecycle events of the caller's
        sessions, narrowed by name or session_id (scope="*" for every
        tenant's, superadmins only). timeout bounds each read; the server
        sends a keep-alive comment every 15 s. Once the call returns the
        subscription is live, so events of sessions created after it are
        seen."""
        q = {k: v for k, v in (("name", name), ("sessionId", session_id), ("scope", scope)) if v}
        r = self._request("GET", "/events/session", query=q or None, accept="text/event-stream", timeout=timeout)
        ctype = r.headers.get_content_type()
        if ctype != "text/event-stream":
            r.close()
            raise ProtocolError(f"events: expected text/event-stream, got {ctype}")
        return EventStream(r, timeout)

    # -- files ---------------------------------------------------------

    def upload(self, name: str, files: Sequence[Union[PathLike, tuple, UploadFile]],
               progress: Callable[[int, int], None] | None = None) -> None:
        """Stream local files into the session's /home/work (subdirectories
        are made). files holds local paths (uploaded under their base
        name), (remote_name, local_path) pairs or UploadFile values. At
        most MAX_UPLOAD_FILES go in one request. progress(sent, total) is
        called as bytes go out."""
        items: list[UploadFile] = []
        for f in files:
            if isinstance(f, UploadFile):
                items.append(f)
            elif isinstance(f, tuple):
                items.append(UploadFile.from_path(os.fspath(f[1]), f[0]))
            else:
                items.append(UploadFile.from_path(os.fspath(f)))
        total = sum(f.size for f in items)
        sent = 0

        def count(n: int) -> None:
            nonlocal sent
            sent += n
            if progress:
                progress(sent, total)

        for start in range(0, len(items), MAX_UPLOAD_FILES):
            form = FormData(items[start:start + MAX_UPLOAD_FILES], progress=count)
            try:
                with self._request("POST", self._session_path(name, "upload"), body=form, length=len(form),
                                   content_type=form.content_type):
                    pass
            except (OSError, http.client.HTTPException) as e:
                if isinstance(e, (UnreachableError, TransportError)):
                    raise
                raise TransportError(f"upload to session {name}: {e}") from e

    def download_single(self, name: str, file: str, dest: Union[PathLike, Any]) -> int:
        """Stream one file of the session's /home/work into dest (a local
        path, or a binary file object) and return the bytes written. A
        partly written local file is removed when the transfer fails."""
        with self._request("GET", self._session_path(name, "download_single"), query={"file": file},
                           accept="application/octet-stream") as r:
            if hasattr(dest, "write"):
                return _copy(r, dest)
            path = os.fspath(dest)
            try:
                with open(path, "wb") as out:
                    return _copy(r, out)
            except BaseException:
                try:
                    os.remove(path)
                except OSError:
                    pass
                raise

    def download(self, name: str, files: Sequence[str], dest: PathLike) -> list[str]:
        """Fetch paths (files or directories) of the session's /home/work
        and unpack them into dest (made when missing); answers the local
        files written. Nothing is written outside dest."""
        dest = os.fspath(dest)
        os.makedirs(dest, exist_ok=True)
        with self._request("GET", self._session_path(name, "download"), query={"files": list(files)},
                           accept="multipart/mixed") as r:
            if r.headers.get_content_maintype() != "multipart":
                raise ProtocolError(f"download: unexpected answer type {r.headers.get('Content-Type')!r}")
            written: list[str] = []
            for part in MultipartReader(r, r.headers.get_param("boundary") or "").parts():
                written += extract_tar_stream(part, dest)
            return written

    def list_files(self, name: str, path: str = "") -> dict:
        """A directory listing of the session's /home/work: {"abspath",
        "files": [{filename, size, mode, mtime, type}]}."""
        raw = self._call("GET", self._session_path(name, "files"), query={"path": path}) or {}
        files = raw.get("files") or "[]"
        try:
            entries = json.loads(files) if isinstance(files, str) else files
        except ValueError as e:
            raise ProtocolError(f"list files: the files field is not JSON: {files[:200]!r}") from e
        return {"abspath": raw.get("abspath", ""), "files": entries, "errors": raw.get("errors", "")}


def _copy(r: _Response, out) -> int:
    n = 0
    while True:
        chunk = r.read(CHUNK)
        if not chunk:
            return n
        out.write(chunk)
        n += len(chunk)


class ExecuteStream:
    """An execute run over a WebSocket. Iterating yields each server frame
    ({"status", "console", "exitCode", "options", "files"}) until the
    server closes the stream after the run; an error frame raises
    StreamError."""

    def __init__(self, ws: WebSocket):
        self.ws = ws

    def __iter__(self) -> Iterator[dict]:
        while True:
            try:
                text = self.ws.recv_text()
            except ConnectionClosed as e:
                if e.code == CLOSE_NORMAL:
                    return
                raise
            try:
                frame = json.loads(text)
            except ValueError as e:
                raise ProtocolError(f"execute stream: frame is not JSON: {text[:200]!r}") from e
            if not isinstance(frame, dict) or "status" not in frame:
                raise ProtocolError(f"execute stream: frame without a status: {text[:200]!r}")
            if frame["status"] == "error":
                raise StreamError(str(frame.get("msg", "")))
            yield frame

    def send_input(self, text: str) -> None:
        """Answer a waiting-input frame; the text goes as a raw text frame."""
        self.ws.send_text(text)

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> "ExecuteStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventStream:
    """Session events as they happen. Iterate for SessionEvent values, or
    call wait_for() with a deadline. A read timeout ends the stream."""

    def __init__(self, resp: _Response, timeout: float | None):
        self._r = resp
        self._timeout = timeout
        self._parser = SSEParser()

    def next(self, deadline: float | None = None) -> SessionEvent | None:
        """The next event, or None when the server ended the stream.
        deadline is a time.monotonic() value; passing it raises
        TimeoutError."""
        while True:
            t = self._timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching session event before the deadline")
                t = left if t is None else min(t, left)
            self._r.settimeout(t)
            try:
                line = self._r.readline()
            except socket.timeout as e:
                raise TimeoutError("no session event or keep-alive in time") from e
            except (OSError, http.client.HTTPException) as e:
                raise TransportError(f"events: {e}") from e
            if not line:
                return None
            ev = self._parser.feed(line.decode("utf-8", "replace"))
            if ev is None:
                continue
            try:
                data = json.loads(ev.data)
            except ValueError:
                data = {"raw": ev.data}
            return SessionEvent(ev.event, data if isinstance(data, dict) else {"raw": data}, ev.id)

    def wait_for(self, predicate: Callable[[SessionEvent], bool], timeout: float) -> SessionEvent:
        """The first event for which predicate is true, within timeout
        seconds (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(deadline)
            if ev is None:
                raise TransportError("events: the server ended the stream")
            if predicate(ev):
                return ev

    def __iter__(self) -> Iterator[SessionEvent]:
        while True:
            ev = self.next()
            if ev is None:
                return
            yield ev

    def close(self) -> None:
        self._r.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
