"""`manage.py serve` as a real process: daphne on loopback answers /health and the styled admin."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import free_port, manage_py, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_serve_answers_health_and_serves_the_styled_admin(settings) -> None:
    port = free_port()
    proc = manage_py(settings, "serve", "--port", str(port), "--no-worker")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as resp:
            assert resp.status == 200
            assert b'"Server is running"' in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as resp:
            page = resp.read().decode()
        assert "waziper" in page
        css = [part.split('"')[0] for part in page.split('href="')[1:] if ".css" in part.split('"')[0]]
        assert css, "the admin login page links no stylesheet"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css[0]}") as resp:
            assert resp.status == 200
            assert "text/css" in resp.headers["Content-Type"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "📊 Circuit breaker threshold: 15 failures in 5 minutes" in out
    assert "WAZIPER IS LIVE" in out
