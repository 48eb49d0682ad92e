"""bai_client: a Python client for the bai manager's Backend.AI-compatible
API, using only the standard library.

    from bai_client import Client
    c = Client()  # BACKEND_ENDPOINT, BACKEND_ACCESS_KEY, BACKEND_SECRET_KEY
    s = c.create_session("python", "demo")
    print(c.run_code("demo", "print(1+1)").stdout)  # 2
    c.destroy_session("demo")
"""

from .aio import AsyncClient
from .client import (
    DEFAULT_ENDPOINT,
    MAX_UPLOAD_FILES,
    MODE_BATCH,
    MODE_CONTINUE,
    MODE_INPUT,
    MODE_QUERY,
    Client,
    Config,
    EventStream,
    ExecuteStream,
)
from .errors import (
    APIError,
    AuthenticationError,
    BaiError,
    ConfigError,
    ConflictError,
    ExecTimeoutError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    QuotaExceededError,
    RateLimitedError,
    StreamError,
    TooLargeError,
    TransportError,
    UnavailableError,
    UnreachableError,
)
from .models import ConsoleItem, InputRequest, RunResult, SessionEvent
from .multipart import UploadFile

__version__ = "0.1.0"

__all__ = [
    "APIError", "AsyncClient", "AuthenticationError", "BaiError", "Client", "Config", "ConfigError",
    "ConflictError", "ConsoleItem", "DEFAULT_ENDPOINT", "EventStream", "ExecTimeoutError",
    "ExecuteStream", "InputRequest", "InvalidArgumentError", "MAX_UPLOAD_FILES", "MODE_BATCH",
    "MODE_CONTINUE", "MODE_INPUT", "MODE_QUERY", "NotFoundError", "PermissionDeniedError",
    "ProtocolError", "QuotaExceededError", "RateLimitedError", "RunResult", "SessionEvent",
    "StreamError", "TooLargeError", "TransportError", "UnavailableError", "UnreachableError",
    "UploadFile",
]
