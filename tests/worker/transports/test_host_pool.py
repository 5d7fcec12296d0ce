"""Placing sessions on hosts, several per host, with scripted stand-in hosts
(tests/support/fake_host.py): where a session goes, what a host's death costs, when a host
retires and exits. The real hosts' side is in test_neonize.py and the integration tests."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker.transports import base
from worker.transports.base import SessionSpec, TransportEvent
from worker.transports.host_pool import Launcher
from worker.transports.host_process import REAPER
from worker.transports.neonize import NeonizeSession, NeonizeTransport

pytestmark = pytest.mark.slow
FAKE_HOST = Path(__file__).resolve().parents[2] / "support" / "fake_host.py"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FAILED = {
    "event": "connect_failed",
    "session": "$session",
    "ref": "$ref",
    "error": "refused",
    "retryable": True,
}
LEFT = {"event": "disconnected", "session": "$session", "ref": "$ref", "reason": "requested"}
STILL_DIALING = {"event": "error", "session": "$session", "ref": "$ref", "error": "the session is dialing"}
CONNECTED = {"event": "connected", "session": "$session", "ref": "$ref", "jid": "628123:4@s.whatsapp.net"}


class Fleet:
    """A transport whose hosts are stand-ins running `script`, and the sessions a test opened."""

    def __init__(self, script: dict[str, Any], per_host: int = 3, recycle_after: int = 50) -> None:
        self.transport = NeonizeTransport(
            host_argv=[sys.executable, str(FAKE_HOST), json.dumps(script)],
            sessions_per_host=per_host,
            recycle_after=recycle_after,
            launcher=Launcher(fork_server=False),
        )
        self.pool = self.transport.pool
        self.sessions: list[NeonizeSession] = []

    def open(self, *names: str) -> list[NeonizeSession]:
        """New sessions, connecting, in this order."""
        opened = []
        for name in names:
            session = self.transport.open_session(
                SessionSpec(len(self.sessions), name, "", f"/tmp/unused/{name}")
            )
            self.sessions.append(session)
            session.connect(NOW)
            opened.append(session)
        return opened

    def until(self, done: Any, timeout: float = 15.0) -> dict[str, list[TransportEvent]]:
        """Poll as the worker does until `done(seen)`: each session's events since, by instance id."""
        seen: dict[str, list[TransportEvent]] = {}
        deadline = time.monotonic() + timeout
        while True:
            self.transport.poll([], NOW)
            for session in self.sessions:
                seen.setdefault(session.spec.instance_id, []).extend(session.poll(NOW))
            if done(seen):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout}s: {seen}")
            time.sleep(0.01)

    def close(self) -> None:
        self.transport.close()


def kinds(seen: dict[str, list[TransportEvent]], name: str) -> list[str]:
    return [e.kind for e in seen.get(name, [])]


def ready(*opened: NeonizeSession) -> Any:
    return lambda seen: all(s.ready and s.pid for s in opened)


def connected(*names: str) -> Any:
    return lambda seen: all(base.CONNECTED in kinds(seen, name) for name in names)


def test_sessions_fill_a_host_before_another_is_started():
    fleet = Fleet({})
    opened = fleet.open("A", "B", "C", "D")
    fleet.until(ready(*opened))
    assert len({s.pid for s in opened[:3]}) == 1
    assert opened[3].pid != opened[0].pid
    assert [len(h.sessions) for h in fleet.pool.hosts] == [3, 1]
    fleet.close()


def test_an_instance_returns_to_a_host_only_once_the_host_has_let_its_last_attempt_go():
    fleet = Fleet({"connect": [CONNECTED], "disconnect": [LEFT]})
    a, b = fleet.open("A", "B")
    fleet.until(connected("A", "B"))
    first = a.pid
    a.close()
    a.connect(NOW)  # the host has not confirmed yet: a late event of the old A could mislead the new
    fleet.until(connected("A"))
    assert a.pid != first
    a.close()
    fleet.until(lambda seen: all(not h.leaving for h in fleet.pool.hosts))
    a.connect(NOW)  # confirmed: the fullest host with room takes it again
    fleet.until(ready(a))
    assert a.pid == first == b.pid
    assert not any(h.retiring for h in fleet.pool.hosts)
    fleet.close()


def test_a_hosts_death_costs_its_sessions_only_each_told_its_hosts_last_words():
    fleet = Fleet({"connect": [{"stderr": "fatal error: concurrent map writes\n"}]})
    opened = fleet.open("A", "B", "C", "D")
    fleet.until(ready(*opened))
    doomed = opened[0].pid
    os.kill(doomed, signal.SIGKILL)
    seen = fleet.until(lambda seen: all(base.SESSION_CRASHED in kinds(seen, n) for n in "ABC"))
    for name in "ABC":
        [crash] = [e for e in seen[name] if e.kind == base.SESSION_CRASHED]
        assert crash.data["error"].startswith(f"session host (pid {doomed}) killed by SIGKILL")
        assert "fatal error: concurrent map writes" in crash.data["error"]
        assert crash.data["exit_code"] == -signal.SIGKILL
    assert kinds(seen, "D") == []
    assert opened[3].host is not None
    assert opened[3].pid != doomed
    fleet.close()


def test_each_session_gets_only_its_own_events():
    qr = {"event": "qr", "session": "$session", "code": "2@code"}
    fleet = Fleet({"start": [{"event": "ready"}], "connect": [qr]})
    a, b = fleet.open("A", "B")
    seen = fleet.until(lambda seen: base.QR in kinds(seen, "A") and base.QR in kinds(seen, "B"))
    assert a.pid == b.pid
    assert (kinds(seen, "A"), kinds(seen, "B")) == ([base.QR], [base.QR])
    fleet.close()


def test_a_session_let_go_mid_dial_retires_its_host_which_exits_when_its_last_session_leaves():
    fleet = Fleet({"disconnect": [STILL_DIALING]})
    a, b = fleet.open("A", "B")
    fleet.until(ready(a, b))
    host = a.host
    assert host is not None
    a.close()  # nothing came back from its dial yet: neonize cannot cancel it
    assert host.retiring
    c = fleet.open("C")[0]
    fleet.until(ready(c))
    assert c.pid != b.pid  # a retiring host takes no new session
    fleet.until(lambda seen: host.abandoned == {"A"})  # the host said: still dialing
    assert host in fleet.pool.hosts
    b.close()
    assert host not in fleet.pool.hosts
    assert REAPER.wait_idle(10)
    assert host.process.exit_code() is not None
    fleet.close()


def test_a_host_retires_after_its_quota_of_failed_dials():
    fleet = Fleet({"connect": [FAILED], "disconnect": [LEFT]}, per_host=2, recycle_after=3)
    a, b = fleet.open("A", "B")
    fleet.until(lambda seen: all(base.CONNECT_FAILED in kinds(seen, n) for n in "AB"))
    host = a.host
    assert host is not None
    assert not host.retiring
    a.close()
    fleet.until(lambda seen: host.room == 1)  # the host confirmed A left
    c = fleet.open("C")[0]
    fleet.until(lambda seen: base.CONNECT_FAILED in kinds(seen, "C"))
    assert c.pid == b.pid
    assert host.retiring == "recycled after 3 failed dials"
    b.close()
    c.close()
    assert host not in fleet.pool.hosts
    fleet.close()


def test_an_empty_host_waits_for_the_next_session_then_exits():
    fleet = Fleet({"connect": [CONNECTED], "disconnect": [LEFT]})
    fleet.pool.IDLE_S = 0.3
    (a,) = fleet.open("A")
    fleet.until(connected("A"))
    host = a.host
    a.close()
    b = fleet.open("B")[0]
    fleet.until(connected("B"))
    assert b.host is host  # reused while it waited
    b.close()
    fleet.until(lambda seen: not fleet.pool.hosts, timeout=5)
    assert REAPER.wait_idle(10)
    assert host is not None
    assert host.process.proc.returncode == 0
    fleet.close()
