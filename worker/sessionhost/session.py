"""What the host keeps about each session it carries, and its one writer of protocol lines."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from worker.sessionhost import protocol as p


class Output:
    """The protocol side of stdout: whole lines, one writer at a time (the stdin thread writes too)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def emit(self, kind: str, session: str | None = None, /, **data: Any) -> None:
        line = memoryview(p.encode(p.event(kind, session, **data)))
        with self._lock:
            try:
                while line:
                    line = line[os.write(self._fd, line) :]
            except BrokenPipeError:
                os._exit(0)  # the worker is gone; nobody is left to serve


@dataclass
class Session:
    sid: str
    store: str
    connect_ref: Any = None
    logged_in: bool = False
    client: Any = None
    task: asyncio.Future | None = None  # neonize's connect: runs as long as the connection
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    connected: bool = False
    showing_qr: bool = False
    closing: bool = False  # we asked for the disconnect/logout: no "connection lost" events
    abandoned: bool = False  # disconnected while dialing: silent, stopped once the dial returns
    on_whatsapp: set[str] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return self.task is None or not self.task.done()

    @property
    def dialing(self) -> bool:
        """Might Go be inside a dial (the first one, or whatsmeow reconnecting on its own)?
        Neither connected nor showing a QR code, with neonize's connect still running."""
        return self.task is not None and not self.task.done() and not (self.connected or self.showing_qr)
