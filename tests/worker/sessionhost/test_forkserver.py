"""The fork server through its raw socket protocol, as the worker speaks it: real forks of
real session hosts. (The worker's side is tests/worker/transports/test_fork_server.py.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import process_state
from worker.sessionhost import protocol as p

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


class Server:
    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.sessionhost.forkserver", "--fd", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self.sock.settimeout(30)
        self.ready = self.receive("ready")

    def receive(self, op: str, **match: Any) -> dict[str, Any]:
        """The next message of `op` with these fields; hosts of earlier tests that exit meanwhile
        are let go (reaped), anything else fails the test."""
        while True:
            message = json.loads(self.sock.recv(65536))
            if message["op"] == op and all(message.get(k) == v for k, v in match.items()):
                return message
            assert message["op"] == "exited", message
            self.send({"op": "reap", "pid": message["pid"]})

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        socket.send_fds(self.sock, [json.dumps(message).encode()], fds or [])


class Host:
    """The three pipes of a forked host, from the worker's end."""

    def __init__(self, server: Server, *args: str) -> None:
        stdin, stdout, stderr = os.pipe(), os.pipe(), os.pipe()
        server.send({"op": "fork", "argv": list(args), "env": None}, [stdin[0], stdout[1], stderr[1]])
        for fd in (stdin[0], stdout[1], stderr[1]):
            os.close(fd)
        self.stdin = os.fdopen(stdin[1], "wb", buffering=0)
        self.stdout = os.fdopen(stdout[0], "rb")
        self.stderr = os.fdopen(stderr[0], "rb")
        self.pid: int = server.receive("forked")["pid"]

    def close(self) -> None:
        for pipe in (self.stdin, self.stdout, self.stderr):
            pipe.close()


def stop(s: Server) -> None:
    s.sock.close()
    try:
        s.proc.wait(timeout=10)
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One server for the tests that leave it running (a preload costs 0.4 s of CPU)."""
    s = Server()
    yield s
    stop(s)


def go_loaded(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return "neonize-linux" in f.read()


def test_it_preloads_without_the_go_runtime_in_one_thread(server):
    ready = server.ready
    assert ready["pid"] == server.proc.pid
    assert ready["imported"] > 50
    assert "neonize._binder" in ready["held_back"]
    assert not go_loaded(server.proc.pid)
    assert os.listdir(f"/proc/{server.proc.pid}/task") == [str(server.proc.pid)]


def test_a_forked_host_is_a_session_host_in_its_own_session_with_the_go_runtime(server):
    host = Host(server, "--sessions-per-host", "2")
    try:
        ready = p.HostEvent.parse(host.stdout.readline())
        assert (ready.kind, ready.data["pid"], ready.data["sessions_per_host"]) == ("ready", host.pid, 2)
        assert os.getsid(host.pid) == host.pid
        assert os.getpgid(host.pid) == host.pid
        assert go_loaded(host.pid)
        assert not go_loaded(server.proc.pid)
        host.stdin.write(p.command(p.PING, ref="x"))
        assert p.HostEvent.parse(host.stdout.readline()).kind == "pong"
    finally:
        host.close()


def test_a_dead_host_stays_a_zombie_until_the_worker_has_read_its_exit(server):
    host = Host(server)
    try:
        host.stdout.readline()  # ready: the host runs
        os.kill(host.pid, signal.SIGKILL)
        assert server.receive("exited", pid=host.pid)["code"] == -signal.SIGKILL
        time.sleep(0.2)
        assert process_state(host.pid) == "Z"  # its pid cannot be reused while the worker may signal it
        server.send({"op": "reap", "pid": host.pid})
        deadline = time.monotonic() + 5
        while process_state(host.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process_state(host.pid) == ""
    finally:
        host.close()


def test_a_host_ends_with_its_stdin_and_reports_its_exit_code(server):
    host = Host(server)
    host.stdout.readline()  # ready
    host.stdin.close()
    assert server.receive("exited", pid=host.pid)["code"] == 0
    assert host.stdout.read() == b""
    host.close()


def test_a_bad_request_is_logged_and_the_server_goes_on(server):
    server.sock.send(b"not json")
    server.send({"op": "fork", "argv": [], "env": None})  # no descriptors
    assert "expected 3 descriptors" in server.receive("fork_failed")["error"]
    host = Host(server)
    assert p.HostEvent.parse(host.stdout.readline()).kind == "ready"
    host.close()


def test_the_server_exits_when_the_worker_closes_its_socket_and_its_hosts_live_on():
    server = Server()
    host = Host(server)
    try:
        host.stdout.readline()  # ready
        server.sock.close()
        assert server.proc.wait(timeout=10) == 0
        host.stdin.write(p.command(p.PING, ref="x"))
        assert p.HostEvent.parse(host.stdout.readline()).kind == "pong"
    finally:
        host.close()  # stdin EOF: the orphaned host exits by itself
        stop(server)
