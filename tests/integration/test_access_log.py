"""Real web processes — plain `daphne waziper_site.asgi:application` and `manage.py serve` —
log each request with its method, path, status, duration and client, and never a token."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from instances.models import Instance
from instances.service import create_instance
from tests.support.processes import DAPHNE, SERVE, free_port, start_web, stop, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BAD_TOKEN = "wzp_secret" + "Q" * 33


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def refused_socket(port: int, instance: Instance) -> None:
    url = f"ws://127.0.0.1:{port}/ws/instances/{instance.instance_id}/?access_token={BAD_TOKEN}"
    with pytest.raises(InvalidStatus):
        await websockets.connect(url)


@pytest.mark.parametrize("command", [DAPHNE, SERVE], ids=["daphne", "serve"])
def test_the_access_log_names_each_request_and_never_its_token(
    command: list[str], owner: Any, owner_token: str, settings: Any, tmp_path: Path
) -> None:
    instance = create_instance(owner, name="phone", transport="sandbox")
    port = free_port()
    logs = tmp_path / "logs"
    proc = start_web(settings, command, port, tmp_path / "output.txt", WAZIPER_LOG_DIR=str(logs))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/instances?access_token={owner_token}") == 200
        assert (
            get(f"{base}/instances/{instance.instance_id}?password=hunter2&access_token={BAD_TOKEN}") == 401
        )
        asyncio.run(refused_socket(port, instance))
    finally:
        stop(proc)
    written = (tmp_path / "output.txt").read_text() + (logs / "server.log").read_text()
    for secret in (owner_token, BAD_TOKEN, "hunter2"):
        assert secret not in written
    assert '127.0.0.1 "GET /instances?access_token=[redacted]" 200 ' in written
    assert (
        f'127.0.0.1 "GET /instances/{instance.instance_id}?password=[redacted]&access_token=[redacted]" 401 '
        in written
    )
    assert (
        f'127.0.0.1 "WS /ws/instances/{instance.instance_id}/?access_token=[redacted]" 403 (close 4401)'
        in written
    )
