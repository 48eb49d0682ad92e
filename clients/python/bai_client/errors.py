"""Exceptions of the client.

Every error answer of the manager becomes an APIError carrying the HTTP
status and the problem+json fields; a subclass per status lets callers
write ``except NotFoundError`` instead of comparing numbers, the way the
Go SDK's errors unwrap to common/errdefs sentinels.
"""

from __future__ import annotations

import json
from http import HTTPStatus


class BaiError(Exception):
    """Base class of every exception this package raises."""


class ConfigError(BaiError, ValueError):
    """The client is misconfigured (missing keys, a malformed endpoint)."""


class APIError(BaiError):
    """An error answer of the manager (HTTP status >= 400).

    Attributes: status (int), type (problem type URI), title, msg (the
    server's explanation, often saying what to do).
    """

    def __init__(self, status: int, type: str = "", title: str = "", msg: str = ""):
        self.status = status
        self.type = type
        self.title = title
        self.msg = msg
        super().__init__(self._render())

    def _render(self) -> str:
        title = self.title
        if not title:
            try:
                title = HTTPStatus(self.status).phrase
            except ValueError:
                title = "error"
        text = f"{title.rstrip('.')} (HTTP {self.status})"
        if self.msg and self.msg != self.title:
            text += ": " + self.msg
        return text


class InvalidArgumentError(APIError):
    """400/422: a malformed request; msg names the field."""


class AuthenticationError(APIError):
    """401: bad signature, unknown or inactive key, clock skew."""


class PermissionDeniedError(APIError):
    """403: the keypair may not do this."""


class NotFoundError(APIError):
    """404: no such session (or one owned by another keypair)."""


class ConflictError(APIError):
    """409: e.g. executing in a session that is not RUNNING."""


class QuotaExceededError(APIError):
    """412: a resource policy limit."""


class TooLargeError(APIError):
    """413: the body or an uploaded file is over the limit."""


class RateLimitedError(APIError):
    """429: the keypair's request budget is spent."""


class UnavailableError(APIError):
    """5xx: the manager or the agent holding the session is not available."""


_BY_STATUS = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: QuotaExceededError,
    413: TooLargeError,
    422: InvalidArgumentError,
    429: RateLimitedError,
}


def problem_from_response(status: int, body: bytes) -> APIError:
    """Decode an error answer into the APIError subclass of its status,
    tolerating bodies that are not problem+json."""
    cls = _BY_STATUS.get(status, UnavailableError if status >= 500 else APIError)
    type_ = title = msg = ""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    if isinstance(doc, dict):
        type_ = str(doc.get("type") or "")
        title = str(doc.get("title") or "")
        msg = str(doc.get("msg") or doc.get("detail") or "")
    else:
        text = body.decode("utf-8", "replace").strip()
        if text and len(text) < 500:
            msg = text
    return cls(status, type_, title, msg)


class UnreachableError(BaiError, ConnectionError):
    """No connection could be made to the manager at all."""

    def __init__(self, endpoint: str, cause: BaseException | None = None):
        self.endpoint = endpoint
        self.cause = cause
        super().__init__(f"cannot reach the manager at {endpoint}: is it running? (set BACKEND_ENDPOINT)")


class TransportError(BaiError, ConnectionError):
    """The connection broke or answered something that is not HTTP/WebSocket."""


class ProtocolError(BaiError):
    """The manager answered something this client does not understand."""


class ExecTimeoutError(BaiError):
    """The agent stopped a run for exceeding its time limit.

    ``result`` holds what the run produced until then (a RunResult).
    """

    def __init__(self, run_id: str, result=None):
        self.run_id = run_id
        self.result = result
        super().__init__(f"run {run_id}: execution timed out")


class StreamError(BaiError):
    """The execute stream ended with an error frame ({"status": "error", "msg"})."""

    def __init__(self, msg: str):
        self.msg = msg
        super().__init__(f"execute stream: {msg}")
