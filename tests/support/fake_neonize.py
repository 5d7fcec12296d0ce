"""A fake neonize for running the session host in-process: it records every overlap of calls
into "Go", which is what the host's lock must prevent."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from worker.sessionhost import protocol as p
from worker.sessionhost.events import NEONIZE_EVENTS, Relay
from worker.sessionhost.main import Host


class Tracker:
    def __init__(self) -> None:
        self.inside = self.most = self.calls = 0

    async def go_call(self, seconds: float = 0.005) -> None:
        self.inside += 1
        self.calls += 1
        self.most = max(self.most, self.inside)
        await asyncio.sleep(seconds)  # Go writing its global maps, slowly
        self.inside -= 1


class _FakeEvent:
    """neonize's ``client.event``: ``event.qr(fn)`` and ``event(EvType)(fn)`` register handlers."""

    def qr(self, fn: Any) -> None:
        pass

    def __call__(self, ev_type: Any) -> Any:
        return lambda fn: None


class FakeClient:
    tracker = Tracker()

    def __init__(self, name: str, uuid: str) -> None:
        self.uuid = uuid
        self._stop_finalizer = SimpleNamespace(detach=lambda: None)
        self.event = _FakeEvent()

    async def connect(self, proxy: Any) -> asyncio.Task:
        async def dial() -> None:
            await self.tracker.go_call()
            raise RuntimeError("failed to dial whatsapp web websocket: connect: connection refused")

        return asyncio.ensure_future(dial())

    async def stop(self) -> None:
        await self.tracker.go_call()


class FakeOutput:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def emit(self, kind: str, session: str | None = None, /, **data: Any) -> None:
        self.lines.append(p.event(kind, session, **data))


def make_host(max_sessions: int = 20) -> tuple[Host, FakeOutput]:
    FakeClient.tracker = Tracker()
    neo = SimpleNamespace(
        version="fake",
        NewAClient=FakeClient,
        ProxySettings=lambda proxy_address: proxy_address,
        extract_text=lambda m: "",
        events=NEONIZE_EVENTS,
        **{f"{name}Ev": name for name in NEONIZE_EVENTS},
    )
    out = FakeOutput()
    host = Host(neo, out, max_sessions, stop_timeout=0.2)
    host.relay = Relay(out, asyncio.get_running_loop(), host._me, neo.extract_text)
    return host, out


async def settle(host: Host) -> None:
    while host._tasks:
        await asyncio.gather(*list(host._tasks))
