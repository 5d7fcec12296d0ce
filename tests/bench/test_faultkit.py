"""The fault kit's endpoints fail exactly as documented, and clean up after themselves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.faultkit import MODES, FaultProxy

ROOT = Path(__file__).resolve().parents[2]


def dial(proxy: FaultProxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(proxy.address, timeout=timeout)


def wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_refuse_endpoint_refuses_the_dial():
    with FaultProxy("refuse") as proxy, pytest.raises(ConnectionRefusedError):
        dial(proxy)


def test_refuse_endpoint_keeps_its_port_bound_so_nobody_else_takes_it():
    with FaultProxy("refuse") as proxy, socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError):
            other.bind(proxy.address)


def test_reset_endpoint_accepts_then_aborts_with_rst():
    with FaultProxy("reset") as proxy, pytest.raises(ConnectionResetError):
        # The RST may already be waiting when the dial returns, or come a moment later.
        with dial(proxy) as conn:
            assert wait_for(lambda: proxy.accepted == 1)
            conn.sendall(b"\x05\x01\x00")
            conn.recv(16)
    assert proxy.accepted == 1


def test_hang_endpoint_accepts_and_never_answers():
    with FaultProxy("hang") as proxy:
        conn = dial(proxy, timeout=0.3)
        conn.sendall(b"\x05\x01\x00")
        with pytest.raises(TimeoutError):
            conn.recv(16)
        assert proxy.accepted == 1
        conn.close()


def test_close_after_reads_n_bytes_then_the_client_sees_eof():
    with FaultProxy("close_after", nbytes=3) as proxy:
        conn = dial(proxy)
        conn.sendall(b"\x05\x01\x00")
        assert conn.recv(16) == b""
        conn.close()


def test_close_after_waits_while_fewer_than_n_bytes_arrived():
    with FaultProxy("close_after", nbytes=10) as proxy:
        conn = dial(proxy, timeout=0.3)
        conn.sendall(b"abc")
        with pytest.raises(TimeoutError):
            conn.recv(16)
        conn.close()


def test_stop_closes_held_connections_and_the_listener():
    proxy = FaultProxy("hang").start()
    conn = dial(proxy)
    assert wait_for(lambda: proxy.accepted == 1)
    address = proxy.address
    proxy.stop()
    assert conn.recv(16) == b""  # the held socket was closed
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)


def test_url_is_a_socks5_url_on_loopback():
    with FaultProxy("hang") as proxy:
        assert proxy.url == f"socks5://127.0.0.1:{proxy.port}"


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown fault mode"):
        FaultProxy("flaky")


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_starts_and_stops_without_leaking_fds(mode):
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with FaultProxy(mode) as proxy:
            try:
                dial(proxy, timeout=0.2).close()
            except OSError:
                pass
    assert wait_for(lambda: len(os.listdir("/proc/self/fd")) <= before)


def test_cli_serves_until_sigterm_and_reports_connections():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.faultkit", "hang", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stdout.readline()
        assert "hang endpoint on socks5://127.0.0.1:" in banner
        port = int(banner.split("socks5://127.0.0.1:")[1].split()[0])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert "accepted" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert "stopped after 1 connection(s)" in proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


def test_cli_reports_a_port_it_cannot_bind():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bench.faultkit", "refuse", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    assert result.returncode == 1
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr
