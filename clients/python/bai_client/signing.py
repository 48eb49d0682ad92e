"""Backend.AI's HMAC-SHA256 request signing (docs/api.md, "Signing").

Kept free of I/O so the published test vectors of the Go side
(common/sign/sign_test.go) can check it byte for byte: a request signed
here must verify on the manager, which uses that Go code.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

SIGN_METHOD = "HMAC-SHA256"

#: The newest API version the manager speaks; sent by default.
NEWEST_VERSION = "v6.20220315"

#: Hex SHA-256 of an empty body, signed by every version from v4.20181215.
EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()


def parse_version(version: str) -> tuple[int, int]:
    """Parse "v6.20220315" (the date part is optional) into (major, date).

    Raises ValueError for anything else, naming the expected form.
    """
    text = version.strip()
    bad = ValueError(f"api version {version!r} must look like v6.20220315")
    if not text.startswith("v"):
        raise bad
    major, _, date = text[1:].partition(".")
    if not major.isdigit() or int(major) < 1:
        raise bad
    if date and (len(date) != 8 or not date.isdigit()):
        raise bad
    return int(major), int(date) if date else 0


def hashes_body(version: str) -> bool:
    """Whether requests of this version sign the real body's hash.

    From v4.20181215 on, clients sign the empty-body hash instead, so
    streamed bodies (uploads) need not be read twice.
    """
    major, date = parse_version(version)
    if major != 4:
        return major < 4
    return date < 20181215


def body_hash(body: bytes) -> str:
    """Hex SHA-256 of a request body."""
    return hashlib.sha256(body).hexdigest()


def format_date(when: datetime) -> str:
    """Render X-BackendAI-Date as Python's isoformat() does for aware UTC
    times, with microseconds: 2026-11-27T06:48:23.126693+00:00."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request that are signed."""

    method: str
    path_query: str  # raw path with query string, exactly as sent
    date: str  # raw X-BackendAI-Date header value
    host: str  # Host header value, e.g. 127.0.0.1:8081
    content_type: str  # Content-Type header; application/octet-stream when none is sent
    version: str  # X-BackendAI-Version
    body_hash: str = ""  # empty means the empty-body hash

    def string_to_sign(self) -> str:
        return "\n".join(
            [
                self.method.upper(),
                self.path_query,
                self.date,
                "host:" + self.host,
                "content-type:" + self.content_type.lower(),
                "x-backendai-version:" + self.version,
                self.body_hash or EMPTY_BODY_HASH,
            ]
        )


def _mac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret_key: str, req: SignedRequest, when: datetime) -> str:
    """Hex signature of req.

    The key is HMAC(HMAC(secret, YYYYMMDD), host), the day taken in the
    date's own zone (the calendar day the client wrote in the header), as
    the manager derives it from the header it receives.
    """
    k1 = _mac(secret_key.encode("utf-8"), when.strftime("%Y%m%d"))
    k2 = _mac(k1, req.host)
    return hmac.new(k2, req.string_to_sign().encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(access_key: str, sig: str) -> str:
    """The Authorization header value."""
    return f"BackendAI signMethod={SIGN_METHOD}, credential={access_key}:{sig}"


def sign_headers(
    access_key: str,
    secret_key: str,
    *,
    method: str,
    path_query: str,
    host: str,
    content_type: str,
    version: str = NEWEST_VERSION,
    body: bytes | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """The X-BackendAI-Version, X-BackendAI-Date and Authorization headers
    for one request. body is hashed only for versions that sign it; pass
    None for streamed bodies (only allowed with those that do not)."""
    if when is None:
        when = datetime.now(timezone.utc)
    when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    date = format_date(when)
    digest = ""
    if hashes_body(version):
        if body is None:
            raise ValueError(f"api version {version} signs the body's hash; a streamed body cannot be sent with it")
        digest = body_hash(body)
    req = SignedRequest(method, path_query, date, host, content_type, version, digest)
    return {
        "X-BackendAI-Version": version,
        "X-BackendAI-Date": date,
        "Authorization": authorization(access_key, signature(secret_key, req, when)),
    }
