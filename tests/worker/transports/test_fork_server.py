"""The worker's side of the fork server: hosts forked from a real fork server, what happens to
them when it dies, and the launcher that restarts it and spawns hosts meanwhile."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from kernel.clock import FakeClock
from worker.sessionhost import protocol as p
from worker.transports.fork_server import NEVER_STARTED, STATUS_LOST, ForkServer
from worker.transports.host_pool import Launcher
from worker.transports.host_process import HOST_ARGV, REAPER, HostProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[ForkServer]:
    s = ForkServer()
    yield s
    s.close()
    assert REAPER.wait_idle(10)


def events(host: HostProcess, kind: str, timeout: float = 30.0) -> p.HostEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in host.read_lines():
            event = p.HostEvent.parse(line)
            if event.kind == kind:
                return event
        time.sleep(0.01)
    raise AssertionError(f"no {kind} within {timeout}s; stderr: {host.stderr_tail.decode()[-500:]}")


def exited(host: HostProcess, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while (code := host.exit_code()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert code is not None, "the host did not exit"
    return code


def test_a_forked_host_answers_and_its_exit_is_reported_with_its_last_words(server, tmp_path):
    host = HostProcess(fork_server=server, host_args=("--sessions-per-host", "2"))
    ready = events(host, p.READY)
    assert ready.data["pid"] == host.pid
    assert host.forked
    host.write(p.command(p.CONNECT, "S1", "c1", store=str(tmp_path / "s"), proxy="ftp://127.0.0.1:21"))
    assert "unsupported proxy scheme" in events(host, p.CONNECT_FAILED).data["error"]
    os.kill(host.pid, signal.SIGKILL)
    assert exited(host) == -signal.SIGKILL
    report = host.crash_report()
    assert report.startswith(f"session host (pid {host.pid}) killed by SIGKILL; stderr tail: ")
    assert "session S1: connect failed" in report  # its stderr reached the worker
    host.close()


def test_hosts_outlive_their_fork_server_and_end_with_an_unknown_status(server):
    host = HostProcess(fork_server=server)
    events(host, p.READY)
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait(10)
    host.write(p.command(p.PING, ref="after"))
    assert events(host, p.PONG).ref == "after"  # it answers to its pipes, not to the server
    server.pump()
    assert not server.usable
    host.close(graceful=True)  # stdin EOF: it ends by itself
    assert REAPER.wait_idle(10)
    assert host.exit_code() == STATUS_LOST
    assert "exit status is unknown (the fork server" in host.crash_report()


def test_a_host_the_server_had_not_forked_when_it_died_never_started(server):
    host = HostProcess(fork_server=server)  # queued: the server is still importing
    os.kill(server.pid, signal.SIGKILL)
    assert exited(host) == NEVER_STARTED
    assert host.crash_report().startswith(f"session host never started: the fork server (pid {server.pid})")
    host.close()


def test_the_launcher_spawns_while_a_young_fork_server_is_down_then_restarts_it() -> None:
    clock = FakeClock()
    launcher = Launcher(monotonic=lambda: clock.current.timestamp())
    try:
        first = launcher.start(HOST_ARGV, None, ())
        events(first, p.READY)
        assert first.forked
        assert launcher.server is not None
        dead = launcher.server.pid
        os.kill(dead, signal.SIGKILL)
        launcher.server.proc.wait(10)
        second = launcher.start(HOST_ARGV, None, ())  # it died young: spawned, restart later
        assert not second.forked
        assert launcher.server is None
        clock.advance(launcher.backoff + 0.1)
        third = launcher.start(HOST_ARGV, None, ())
        events(third, p.READY)
        assert third.forked
        assert launcher.server is not None
        assert launcher.server.pid != dead
        assert (launcher.forked, launcher.spawned) == (2, 1)
        for host in (first, second, third):
            host.close()
    finally:
        launcher.close()
        assert REAPER.wait_idle(10)
