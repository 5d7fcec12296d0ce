"""The host's one rule, checked deterministically: no two calls into neonize at once.

The real crash (Go "concurrent map writes") is a race that 100 concurrent dials trigger only
now and then, so the process tests cannot prove the lock works. Here the Host runs in-process
against a fake neonize that records every overlap.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fake_neonize import FakeClient, make_host, settle
from worker.sessionhost import main
from worker.sessionhost import protocol as p

pytestmark = pytest.mark.asyncio


async def test_twenty_simultaneous_connects_never_overlap_inside_neonize(tmp_path):
    host, out = make_host()
    lines = [
        p.command(p.CONNECT, session=f"S{i}", ref=i, store=str(tmp_path / f"s{i}"), proxy="socks5://x:1")
        for i in range(20)
    ]
    for _ in range(3):
        await asyncio.gather(*(host.handle(line) for line in lines))
        await settle(host)
    assert FakeClient.tracker.calls == 60
    assert FakeClient.tracker.most == 1
    failed = [line for line in out.lines if line["event"] == p.CONNECT_FAILED]
    assert len(failed) == 60
    assert all(line["retryable"] for line in failed)


async def test_disconnects_and_connects_of_many_sessions_stay_serialized(tmp_path):
    host, _ = make_host()
    lines = []
    for i in range(10):
        lines.append(p.command(p.CONNECT, session=f"S{i}", ref=i, store=str(tmp_path / f"s{i}")))
        lines.append(p.command(p.DISCONNECT, session=f"S{i}", ref=f"d{i}"))
    await asyncio.gather(*(host.handle(line) for line in lines))
    await settle(host)
    assert FakeClient.tracker.most == 1


async def test_a_timed_out_call_keeps_the_lock_until_neonize_returns():
    host, _ = make_host()
    release = asyncio.Event()

    async def stuck() -> None:
        await release.wait()

    with pytest.raises(TimeoutError):
        await host.call(stuck, timeout=0.05)
    assert host.lock.locked()  # Go would still be inside: nobody else may enter
    release.set()
    await asyncio.sleep(0.01)
    assert not host.lock.locked()


async def test_ping_answers_at_once_while_neonize_is_stuck():
    host, out = make_host()
    await host.lock.acquire()
    await asyncio.wait_for(host.handle(p.command(p.PING, ref="p1")), 0.5)
    assert out.lines[-1] == {
        "event": "pong",
        "ref": "p1",
        "connected": False,
        "logged_in": False,
        "busy": True,
    }


async def test_commands_for_one_session_run_in_arrival_order(tmp_path):
    host, out = make_host()
    store = str(tmp_path / "s")
    await asyncio.gather(
        host.handle(p.command(p.CONNECT, session="A", ref="c1", store=store)),
        host.handle(p.command(p.DISCONNECT, session="A", ref="d1")),
        host.handle(p.command(p.CONNECT, session="A", ref="c2", store=store)),
    )
    await settle(host)
    refs = [line.get("ref") for line in out.lines]
    assert refs.index("d1") < refs.index("c2")  # c2 was answered only after the disconnect


@pytest.fixture
def exits(monkeypatch):
    """os._exit calls recorded instead of made; the watchdog looks every 10 ms, 50 ms late."""
    calls: list[int] = []
    monkeypatch.setattr(main, "WEDGED_CHECK_S", 0.01)
    monkeypatch.setattr(main, "WEDGED_GRACE_S", 0.05)
    monkeypatch.setattr(main.os, "_exit", calls.append)
    return calls


async def test_a_call_stuck_in_neonize_past_its_timeout_ends_the_host(exits):
    host, _ = make_host()
    release = asyncio.Event()

    async def stuck() -> None:
        await release.wait()

    watchdog = asyncio.ensure_future(host._watch_the_lock())
    with pytest.raises(TimeoutError):
        await host.call(stuck, timeout=0.05)
    await asyncio.sleep(0.3)
    watchdog.cancel()
    release.set()
    assert exits[:1] == [main.WEDGED_EXIT_CODE]


async def test_a_slow_call_within_its_timeout_does_not_end_the_host(exits):
    host, _ = make_host()

    async def slow() -> None:
        await asyncio.sleep(0.2)

    watchdog = asyncio.ensure_future(host._watch_the_lock())
    await host.call(slow, timeout=1.0)
    await asyncio.sleep(0.1)
    watchdog.cancel()
    assert exits == []
