"""An asyncio face of Client for programs built on an event loop.

Each call runs the blocking Client method in a worker thread
(asyncio.to_thread), so the loop keeps running while a request waits;
callbacks (on_console, on_input, progress) are called in that thread.
Streams (execute_stream, session_events) stay synchronous: iterate them in
a thread of your own, or use run_stream here, which drives one to its end.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from .client import Client, Config

# The Client methods offered as coroutines.
_WRAPPED = (
    "server_info", "images", "create_session", "get_session", "list_sessions", "destroy_session",
    "restart_session", "interrupt", "complete", "logs", "execute", "run_code", "run_stream",
    "upload", "download_single", "download", "list_files",
)


class AsyncClient:
    """Client's calls as coroutines: ``await AsyncClient().run_code(...)``.

    Takes the same arguments as Client; ``sync`` is the Client underneath.
    """

    def __init__(self, config: Config | None = None, **kwargs: Any):
        self.sync = Client(config, **kwargs)

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"


def _wrap(name: str):
    method = getattr(Client, name)

    @functools.wraps(method)
    async def call(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.sync, name), *args, **kwargs)

    return call


for _name in _WRAPPED:
    setattr(AsyncClient, _name, _wrap(_name))
del _name
