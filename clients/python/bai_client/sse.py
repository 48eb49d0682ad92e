"""Server-Sent Events parsing (the WHATWG event-stream format), for
GET /events/session.

The parser is fed one line at a time so it works on any line source (an
HTTP response, a list in a test) and holds no socket itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator


@dataclass
class ServerSentEvent:
    """One dispatched event: its type ("message" when unnamed), its data
    (data lines joined by newlines) and its last event id."""

    event: str
    data: str
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """The data decoded as JSON."""
        return json.loads(self.data)


@dataclass
class SSEParser:
    """Incremental event-stream parser: feed() lines, get events back."""

    _event: str = ""
    _data: list = field(default_factory=list)
    _id: str = ""
    _retry: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (with or without its line ending) and return the
        event it completes, if any. Comments (":...") are skipped."""
        line = line.rstrip("\r\n")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        # Unknown fields are ignored, as the format requires.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            # A blank line after only comments or an event name is no event.
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self._id, self._retry)


def parse_lines(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """Yield the events of an iterable of lines."""
    p = SSEParser()
    for line in lines:
        ev = p.feed(line)
        if ev is not None:
            yield ev
