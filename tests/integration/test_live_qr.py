"""Across real processes: the worker's QR and its "connected" reach websocket clients of every
web process on the database — `manage.py serve` (daphne + worker child) and a plain daphne."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

from instances.models import Instance
from instances.qr import qr_data_uri
from instances.service import create_instance, request_running, request_sandbox_scan
from tests.support.auth_matrix import fast_password_hashing  # noqa: F401  (autouse fixture)
from tests.support.processes import child_env, free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAST = {"WAZIPER_RETRY_BASE": "0.01", "WAZIPER_RETRY_CAP": "0.02", "WAZIPER_LEASE_TTL": "1.5"}
TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0  # generous: a loaded CI machine starts Django slowly


@contextmanager
def web_processes(commands: list[list[str]], settings: Any, logs: Path) -> Iterator[list[int]]:
    """Start web processes on free loopback ports (all at once: start-up is the slow part);
    yield their ports once each answers; stop them afterwards. Output goes to files, never to
    a pipe nobody reads (a full pipe would stall the process)."""
    started: list[tuple[subprocess.Popen, int]] = []
    try:
        for n, command in enumerate(commands):
            port = free_port()
            args = [arg.replace("{port}", str(port)) for arg in command]
            with open(logs / f"web-{n}.log", "w") as out:
                env = child_env(settings, **FAST)
                started.append((subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out), port))
        for proc, port in started:
            wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=START_TIMEOUT_S)
        yield [port for _, port in started]
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def open_socket(port: int, instance: Instance, token: str) -> Any:
    url = f"ws://127.0.0.1:{port}/ws/instances/{instance.instance_id}/?access_token={token}"
    ws = await websockets.connect(url, origin=f"http://127.0.0.1:{port}")
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot"
    return ws


async def next_frame(ws: Any, predicate: Any) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
        if predicate(frame):
            return frame


def test_the_workers_qr_and_connect_reach_clients_of_serve_and_of_a_second_daphne(
    owner: Any, owner_token: str, settings: Any, tmp_path: Path
) -> None:
    instance = create_instance(owner, name="phone", transport="sandbox")
    serve = [sys.executable, "manage.py", "serve", "--port", "{port}"]
    daphne = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "waziper_site.asgi:application",
    ]

    async def scenario(ports: list[int]) -> None:
        sockets = [await open_socket(port, instance, owner_token) for port in ports]
        try:
            await asyncio.to_thread(request_running, instance)
            qrs = [await next_frame(ws, lambda f: f["type"] == "qr") for ws in sockets]
            # The same outbox row, so the same frame, at both web processes.
            assert qrs[0] == qrs[1]
            stored = await asyncio.to_thread(lambda: Instance.objects.get(pk=instance.pk).last_qr)
            assert qrs[0]["qr"] == stored
            assert qrs[0]["base64"] == qr_data_uri(stored)
            await asyncio.to_thread(request_sandbox_scan, instance)
            connected = [
                await next_frame(ws, lambda f: f["type"] == "status" and f["status"] == "connected")
                for ws in sockets
            ]
            assert connected[0]["id"] == connected[1]["id"]
            assert connected[0]["phone"].startswith("+628")
        finally:
            for ws in sockets:
                await ws.close()

    with web_processes([serve, daphne], settings, tmp_path) as ports:
        asyncio.run(scenario(ports))
