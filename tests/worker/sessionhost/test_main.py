"""The session host as the worker sees it: a real child process running real neonize, fed
commands on stdin, read on stdout, pointed at the fault kit's loopback proxies.

No Django, no database. Each host costs ~0.5 s to start (neonize's import); a refused dial
~0.01 s. Waits are deadlines on the next matching event, never fixed sleeps.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bench.faultkit import FaultProxy
from worker.sessionhost import protocol as p
from worker.sessionhost.main import TEST_GO_PANIC_ENV

ROOT = Path(__file__).resolve().parents[3]
DIAL_ERROR = "failed to dial whatsapp web websocket"


class HostProc:
    """One ``python -m worker.sessionhost.main`` child with line-level access to both pipes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.sessionhost.main", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.garbage: list[bytes] = []  # stdout lines that were not protocol events
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.ready = self.expect(p.READY, timeout=15)

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.put(p.HostEvent.parse(line).to_message())
            except p.ProtocolError:
                self.garbage.append(line)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, line: dict[str, Any] | bytes) -> None:
        self.proc.stdin.write(line if isinstance(line, bytes) else p.encode(line))
        self.proc.stdin.flush()

    def expect(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next event of ``kind`` whose fields equal ``match``; other events are skipped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                break
            if ev["event"] == kind and all(ev.get(k) == v for k, v in match.items()):
                return ev
        tail = "".join(self.stderr[-20:])
        raise AssertionError(f"no {kind} {match} within {timeout} s; rc={self.proc.poll()}; stderr:\n{tail}")

    def collect(self, kind: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The next ``count`` events of ``kind``, in whatever order they come."""
        return [self.expect(kind, timeout=timeout) for _ in range(count)]

    def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Every event that arrives within ``seconds`` (the test wants none)."""
        seen, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.events.get(timeout=left))
            except queue.Empty:
                break
        return seen

    def ping(self, **fields: Any) -> dict[str, Any]:
        ref = f"ping-{time.monotonic_ns()}"
        self.send({"cmd": "ping", "ref": ref, **fields})
        return self.expect(p.PONG, timeout=2, ref=ref)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()


@pytest.fixture
def host():
    h = HostProc()
    yield h
    h.close()
    assert h.garbage == [], "the host wrote non-protocol lines to stdout"


def connect(h: HostProc, store: Path, proxy: str | None, session: str = "S1", ref: Any = "c1") -> None:
    h.send({"cmd": "connect", "session": session, "ref": ref, "store": str(store), "proxy": proxy})


def test_host_announces_ready_with_pid_and_neonize_version(host):
    assert host.ready["pid"] == host.proc.pid
    assert host.ready["neonize"] == "0.5.2"
    assert host.ready["protocol"] == p.PROTOCOL_VERSION


def test_refused_proxy_reports_connect_failed_with_neonize_text(host, tmp_path):
    with FaultProxy("refuse") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        ev = host.expect(p.CONNECT_FAILED, session="S1", ref="c1")
    assert DIAL_ERROR in ev["error"]
    assert "connection refused" in ev["error"]
    assert f"127.0.0.1:{proxy.port}" in ev["error"]
    assert ev["retryable"] is True


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_session_store_is_private_to_the_hosts_user(host, tmp_path):
    store = tmp_path / "sessions" / "S1"
    with FaultProxy("refuse") as proxy:
        connect(host, store, proxy.url)
        host.expect(p.CONNECT_FAILED, session="S1", ref="c1")  # neonize made its database first
    assert (mode(store.parent), mode(store)) == (0o700, 0o700)
    assert {f.name: mode(f) for f in store.iterdir()} == {"whatsmeow.sqlite3": 0o600}


def test_an_existing_world_readable_store_is_tightened_when_opened(host, tmp_path):
    store = tmp_path / "S1"
    store.mkdir(mode=0o755)
    (store / "whatsmeow.sqlite3").write_bytes(b"")  # an empty file is an empty database
    for path, old in ((store, 0o755), (store / "whatsmeow.sqlite3", 0o644)):
        path.chmod(old)
    with FaultProxy("refuse") as proxy:
        connect(host, store, proxy.url)
        host.expect(p.CONNECT_FAILED, session="S1", ref="c1")
    assert mode(store) == 0o700
    assert {f.name: mode(f) for f in store.iterdir()} == {"whatsmeow.sqlite3": 0o600}


def test_reset_proxy_reports_connect_failed_with_neonize_text(host, tmp_path):
    with FaultProxy("reset") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        ev = host.expect(p.CONNECT_FAILED, session="S1")
    assert DIAL_ERROR in ev["error"]
    assert "reset by peer" in ev["error"]
    assert ev["retryable"] is True
    assert proxy.accepted == 1


def test_proxy_closing_mid_handshake_reports_eof(host, tmp_path):
    with FaultProxy("close_after", nbytes=3) as proxy:
        connect(host, tmp_path / "s", proxy.url)
        ev = host.expect(p.CONNECT_FAILED, session="S1")
    assert DIAL_ERROR in ev["error"]
    assert ev["error"].endswith("EOF")


def test_hanging_proxy_gives_no_event_and_the_host_still_answers_ping(host, tmp_path):
    with FaultProxy("hang") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        assert host.quiet_for(0.8) == []
        assert proxy.accepted == 1
        pong = host.ping(session="S1")
        assert pong["connected"] is False
        assert pong["busy"] is False  # neonize is still dialing, but not holding the host's lock


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_hung_host_ends_promptly_when_signalled(tmp_path, sig):
    h = HostProc()
    try:
        with FaultProxy("hang") as proxy:
            connect(h, tmp_path / "s", proxy.url)
            assert h.quiet_for(0.3) == []
            started = time.monotonic()
            h.proc.send_signal(sig)
            assert h.proc.wait(timeout=3) == -sig
            assert time.monotonic() - started < 2
    finally:
        h.close()


def test_disconnect_of_a_hung_dial_answers_at_once_and_leaves_the_lock_free(tmp_path):
    h = HostProc("--sessions-per-host", "2")
    try:
        with FaultProxy("hang") as proxy:
            connect(h, tmp_path / "s", proxy.url)
            assert h.quiet_for(0.3) == []
            started = time.monotonic()
            h.send({"cmd": "disconnect", "session": "S1", "ref": "d1"})
            ev = h.expect(p.ERROR, timeout=3, ref="d1")
            assert time.monotonic() - started < 1.0  # not the stop timeout: stop is not even tried
            assert "stopped once the dial returns" in ev["error"]
            assert h.ping()["busy"] is False
            with FaultProxy("refuse") as refuse:  # another session of the host still gets through
                connect(h, tmp_path / "t", refuse.url, session="S2", ref="c2")
                assert DIAL_ERROR in h.expect(p.CONNECT_FAILED, timeout=3, ref="c2")["error"]
    finally:
        h.close()


def test_closed_stdin_exits_zero_quickly(host):
    started = time.monotonic()
    host.proc.stdin.close()
    assert host.proc.wait(timeout=3) == 0
    assert time.monotonic() - started < 2


def test_closed_stdin_exits_zero_even_while_a_dial_hangs(host, tmp_path):
    with FaultProxy("hang") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        assert host.quiet_for(0.3) == []
        host.proc.stdin.close()
        assert host.proc.wait(timeout=3) == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"this is not json\n", "not JSON"),
        (b'["connect"]\n', "expected a JSON object"),
        (b'{"session": "S1"}\n', "neither 'cmd' nor 'event'"),
        (b"\xff\xfe\n", "not UTF-8"),
    ],
)
def test_malformed_lines_get_an_error_event_and_the_host_keeps_running(host, line, message):
    host.send(line)
    assert message in host.expect(p.ERROR)["error"]
    assert host.ping()["busy"] is False


def test_blank_lines_are_ignored(host):
    host.send(b"\n  \n")
    host.ping()
    assert host.quiet_for(0.1) == []


def test_unknown_command_is_an_error_naming_it(host):
    host.send({"cmd": "reboot", "session": "S1", "ref": 42})
    ev = host.expect(p.ERROR, ref=42)
    assert "unknown command 'reboot'" in ev["error"]
    assert ev["field"] == "cmd"
    assert ev["session"] == "S1"
    host.ping()


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        ({"cmd": "connect", "session": "S1", "ref": "x"}, "store"),
        ({"cmd": "send", "session": "S1", "ref": "x", "text": "hi"}, "to"),
        ({"cmd": "pair_phone", "session": "S1", "ref": "x"}, "phone"),
        ({"cmd": "logout", "ref": "x"}, "session"),
    ],
)
def test_missing_field_is_an_error_naming_the_field(host, cmd, field):
    host.send(cmd)
    ev = host.expect(p.ERROR, ref="x")
    assert ev["field"] == field
    assert f"'{field}'" in ev["error"]
    host.ping()


def test_a_line_over_the_limit_is_refused_and_the_next_line_still_works(host):
    host.send(b'{"cmd":"ping","pad":"' + b"x" * (p.MAX_LINE_BYTES + 10) + b'"}\n')
    assert "line too long" in host.expect(p.ERROR)["error"]
    host.ping()


def test_corrupt_store_reports_relink_required(host, tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    (store / "whatsmeow.sqlite3").write_bytes(os.urandom(4096))
    connect(host, store, None)
    ev = host.expect(p.CONNECT_FAILED, ref="c1")
    assert "re-link required" in ev["error"]
    assert ev["retryable"] is False


def test_store_under_a_regular_file_reports_the_os_error(host):
    # Running as root, chmod stops nothing; a directory below a regular file cannot exist.
    connect(host, Path("/etc/hostname/x"), None)
    ev = host.expect(p.CONNECT_FAILED, ref="c1")
    assert ev["error"] == "cannot use session store /etc/hostname/x: Not a directory"
    assert ev["retryable"] is False


@pytest.mark.parametrize(
    ("proxy", "text"),
    [("::not a url::", "missing protocol scheme"), ("ftp://127.0.0.1:21", 'unsupported proxy scheme "ftp"')],
)
def test_a_proxy_neonize_rejects_is_connect_failed_not_a_crash(host, tmp_path, proxy, text):
    connect(host, tmp_path / "s", proxy)
    ev = host.expect(p.CONNECT_FAILED, ref="c1")
    assert text in ev["error"]
    assert ev["retryable"] is False
    assert host.ping()["busy"] is False


def test_send_while_not_connected_is_a_retryable_failure(host):
    host.send({"cmd": "send", "session": "S1", "ref": "m1", "to": "628123456789", "text": "halo"})
    ev = host.expect(p.SEND_RESULT, ref="m1")
    assert ev == {
        "event": "send_result",
        "session": "S1",
        "ref": "m1",
        "ok": False,
        "error": "not connected",
        "retryable": True,
    }


def test_send_after_a_failed_connect_is_still_a_retryable_failure(host, tmp_path):
    with FaultProxy("refuse") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        host.expect(p.CONNECT_FAILED)
    host.send({"cmd": "send", "session": "S1", "ref": "m1", "to": "628123456789", "text": "halo"})
    assert host.expect(p.SEND_RESULT, ref="m1")["retryable"] is True


def test_pair_phone_without_a_qr_on_screen_is_an_error(host):
    host.send({"cmd": "pair_phone", "session": "S1", "ref": "p1", "phone": "628123456789"})
    assert "connect, wait for 'qr'" in host.expect(p.ERROR, ref="p1")["error"]


def test_logout_without_a_connection_is_an_error(host):
    host.send({"cmd": "logout", "session": "S1", "ref": "l1"})
    assert "needs a connected session" in host.expect(p.ERROR, ref="l1")["error"]


def test_disconnect_of_an_unknown_session_is_idempotent(host):
    host.send({"cmd": "disconnect", "session": "S1", "ref": "d1"})
    assert host.expect(p.DISCONNECTED, ref="d1")["reason"] == "requested"


def test_disconnect_after_a_failed_connect_frees_the_session(host, tmp_path):
    with FaultProxy("refuse") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        host.expect(p.CONNECT_FAILED)
        host.send({"cmd": "disconnect", "session": "S1", "ref": "d1"})
        host.expect(p.DISCONNECTED, ref="d1")
        connect(host, tmp_path / "s", proxy.url, ref="c2")
        assert DIAL_ERROR in host.expect(p.CONNECT_FAILED, ref="c2")["error"]


def test_a_second_session_beyond_capacity_is_refused(host, tmp_path):
    with FaultProxy("hang") as proxy:
        connect(host, tmp_path / "a", proxy.url, session="A")
        assert host.quiet_for(0.3) == []
        connect(host, tmp_path / "b", proxy.url, session="B", ref="c2")
        assert "at most 1 session" in host.expect(p.ERROR, ref="c2")["error"]


def test_connect_twice_while_dialing_is_refused(host, tmp_path):
    with FaultProxy("hang") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        connect(host, tmp_path / "s", proxy.url, ref="c2")
        assert "already connecting" in host.expect(p.ERROR, ref="c2")["error"]


def test_many_sessions_in_one_host_connect_at_once_without_crashing(tmp_path):
    # Unserialized, 20 clients dialing at once end the process with a Go "concurrent map
    # writes" fatal error (docs/architecture.md, "Processes"); through the host's lock they all just fail.
    h = HostProc("--sessions-per-host", "20")
    try:
        with FaultProxy("refuse") as proxy:
            for rnd in range(5):
                for i in range(20):
                    connect(h, tmp_path / f"s{i}", proxy.url, session=f"S{i}", ref=f"{rnd}-{i}")
                failed = h.collect(p.CONNECT_FAILED, 20)
                assert sorted(ev["ref"] for ev in failed) == sorted(f"{rnd}-{i}" for i in range(20))
                assert all(DIAL_ERROR in ev["error"] for ev in failed)
        assert h.ping()["busy"] is False
        assert h.proc.poll() is None
    finally:
        h.close()
    assert h.garbage == []


def test_a_hung_dial_does_not_hold_up_the_other_sessions_of_its_host(tmp_path):
    # A connect holds the host's lock until Go opens its socket (its map writes are done by
    # then), not for as long as a silent proxy keeps the dial waiting.
    h = HostProc("--sessions-per-host", "3")
    try:
        with FaultProxy("hang") as hang, FaultProxy("refuse") as refuse:
            connect(h, tmp_path / "a", hang.url, session="A")
            deadline = time.monotonic() + 15
            while hang.accepted < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            connect(h, tmp_path / "b", refuse.url, session="B", ref="b1")
            assert DIAL_ERROR in h.expect(p.CONNECT_FAILED, timeout=3, ref="b1")["error"]
            assert time.monotonic() - started < 1.0
            assert h.ping()["busy"] is False
            assert hang.accepted == 1  # A is still dialing
    finally:
        h.close()


def test_the_test_hook_makes_the_go_runtime_panic_and_the_host_die_with_gos_words(tmp_path):
    h = HostProc("--sessions-per-host", "2", env={TEST_GO_PANIC_ENV: "BOOM"})
    try:
        connect(h, tmp_path / "s", None, session="BOOM")
        assert h.proc.wait(timeout=10) == -signal.SIGABRT
        deadline = time.monotonic() + 5
        while not any("panic: runtime error" in line for line in h.stderr) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert any(line.startswith("panic: runtime error: invalid memory address") for line in h.stderr)
    finally:
        h.close()


def test_logs_go_to_stderr_and_stdout_carries_only_protocol(host, tmp_path):
    with FaultProxy("refuse") as proxy:
        connect(host, tmp_path / "s", proxy.url)
        host.expect(p.CONNECT_FAILED)
    host.proc.stdin.close()
    assert host.proc.wait(timeout=3) == 0
    assert any("connect failed" in line for line in host.stderr)
    assert host.garbage == []


def test_anything_written_to_fd_1_inside_the_host_lands_on_stderr(host):
    # neonize's Go code prints to fd 1 (fmt.Println on a failed send, on QR login steps).
    fd = Path(f"/proc/{host.proc.pid}/fd")
    assert os.readlink(fd / "1") == os.readlink(fd / "2")
