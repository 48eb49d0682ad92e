"""Values the client hands back: console items, input requests, run
results and session events. Sessions, files and images are returned as the
decoded JSON dicts of docs/api.md, so new server fields reach callers
without a client release."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Execute statuses (docs/api.md, "Execute").
CONTINUED = "continued"
WAITING_INPUT = "waiting-input"
FINISHED = "finished"
CLEAN_FINISHED = "clean-finished"
BUILD_FINISHED = "build-finished"
EXEC_TIMEOUT = "exec-timeout"


@dataclass
class ConsoleItem:
    """One [type, data] entry of an execute answer's console.

    type is stdout, stderr, media, html, log or completion; text is the
    text of stdout/stderr/html items, the data of media items and the
    message of log items; mime the media type of media items; raw the
    item's data as decoded from JSON.
    """

    type: str
    text: str = ""
    mime: str = ""
    raw: Any = None


def _stringify(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def decode_console(item: Any) -> ConsoleItem:
    """Decode one console entry the way the Go SDK's decodeConsole does."""
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        return ConsoleItem(type="", raw=item)
    typ, data = item
    typ = typ if isinstance(typ, str) else ""
    it = ConsoleItem(type=typ, raw=data)
    if isinstance(data, str):
        it.text = data
    elif isinstance(data, list):
        if typ == "media" and len(data) >= 2:
            it.mime = data[0] if isinstance(data[0], str) else ""
            it.text = _stringify(data[1])
        elif typ == "log" and len(data) >= 4:
            it.text = _stringify(data[3])
    elif isinstance(data, dict) and typ == "media":
        it.mime = data.get("type", "") if isinstance(data.get("type"), str) else ""
        it.text = _stringify(data.get("data"))
    return it


@dataclass
class InputRequest:
    """A waiting-input answer: the program reads stdin. is_password asks
    the caller to hide what the user types."""

    is_password: bool = False
    options: dict = field(default_factory=dict)


@dataclass
class RunResult:
    """The outcome of a whole run: its id, final status, exit code and
    every console item in output order."""

    run_id: str
    status: str = ""
    exit_code: int | None = None
    console: list[ConsoleItem] = field(default_factory=list)
    files: list = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(c.text for c in self.console if c.type == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(c.text for c in self.console if c.type == "stderr")


@dataclass
class SessionEvent:
    """One lifecycle event of GET /events/session: event is its name
    (session_started, ...), data the decoded payload (sessionId,
    sessionName, ownerAccessKey, status, reason, result)."""

    event: str
    data: dict
    id: str = ""

    @property
    def session_name(self) -> str:
        return str(self.data.get("sessionName", ""))

    @property
    def session_id(self) -> str:
        return str(self.data.get("sessionId", ""))
