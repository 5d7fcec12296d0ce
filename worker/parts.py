"""What a worker is built from: its transports, its message sender and its name.

Kept apart from the loop (worker/loop.py) so the parts the worker depends on, and their
defaults, read in one place; tests and benchmarks pass their own instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from typing import Any, Protocol

from worker.transports.base import Session, Transport


class Dispatcher(Protocol):
    """The queue's side of the worker (worker/sender.py)."""

    def step(self, connected: dict[int, Session], now: datetime) -> bool: ...
    def on_send_result(self, instance_pk: int, data: dict[str, Any], now: datetime) -> bool: ...
    def on_receipt(self, instance_pk: int, data: dict[str, Any], now: datetime) -> None: ...
    def on_session_lost(self, instance_pk: int, now: datetime) -> None: ...
    def check_timeouts(self, now: datetime) -> None: ...
    def shutdown(self, now: datetime) -> None: ...
    @property
    def busy(self) -> int: ...


def default_transports() -> dict[str, Transport]:
    from worker.transports.neonize import NeonizeTransport
    from worker.transports.sandbox import SandboxTransport

    return {"sandbox": SandboxTransport(), "neonize": NeonizeTransport()}


def default_dispatcher(worker_id: str) -> Dispatcher:
    from worker.sender import Dispatcher as QueueDispatcher

    return QueueDispatcher(worker_id)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
