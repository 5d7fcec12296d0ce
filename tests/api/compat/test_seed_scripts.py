"""The seed's operations scripts against a real `manage.py serve` (web and worker): the breaker
reset, the health checks, the queue status, and creating a session, run as the shell scripts
they are (seed_scripts/, rebuilt from the seed's documentation; the one change is the access
token this server asks for). The token is the deployment's own, imported with `create_token
--token`, and the instance keeps its Waziper id (`create_instance --instance-id`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.php_client import TOKEN
from tests.support.processes import ROOT, free_port, manage_py, start_web, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SCRIPTS = Path(__file__).resolve().parent / "seed_scripts"
INSTANCE_ID = "6921B60FBF7D9"  # the seed's example
ENV = {
    "WAZIPER_DEFAULT_TRANSPORT": "sandbox",
    "WAZIPER_CREATE_INSTANCE_ON_FIRST_USE": "true",
    "WAZIPER_LEASE_TTL": "1.5",
}


def _manage(settings: Any, *args: str) -> str:
    proc = manage_py(settings, *args, **ENV)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def _script(name: str, *args: str, port: int, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "ACCESS_TOKEN": TOKEN}
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-s", *args], capture_output=True, text=True, timeout=30, check=True
    ).stdout


@pytest.fixture
def server(settings: Any, tmp_path: Path) -> Any:
    _manage(settings, "create_token", "alice", "--token", TOKEN)
    _manage(settings, "create_instance", "--owner", "alice", "--instance-id", INSTANCE_ID.lower())
    port = free_port()
    proc = start_web(
        settings,
        [sys.executable, "manage.py", "serve", "--port", "{port}"],
        port,
        tmp_path / "serve.log",
        **ENV,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)


def test_server_managers_check_health_sees_200_at_the_root(server: int) -> None:
    assert _curl("-o", "/dev/null", "-w", "%{http_code}", f"http://localhost:{server}/") == "200"


@pytest.mark.parametrize("command", ["status", "health"])
def test_server_manager_status_and_health_print_the_health_json(server: int, command: str) -> None:
    run = _script("server-manager-fixed.sh", command, port=server)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["message"] == "Server is running"


def test_reset_circuit_breaker_script_succeeds(server: int) -> None:
    run = _script("reset-circuit-breaker.sh", INSTANCE_ID, str(server), port=server)
    assert "✅ Circuit breaker reset successfully!" in run.stdout, run.stdout


def test_reset_all_resets_every_session_directory(server: int, tmp_path: Path) -> None:
    (tmp_path / "sessions" / INSTANCE_ID).mkdir(parents=True)
    run = _script("server-manager-fixed.sh", "reset-all", port=server, cwd=tmp_path)
    assert f'"message":"Circuit breaker reset successfully for instance: {INSTANCE_ID}"' in run.stdout, (
        run.stdout
    )


def test_the_seeds_queue_status_link_answers(server: int) -> None:
    body = json.loads(_curl(f"http://localhost:{server}/queue-status/{INSTANCE_ID}?access_token={TOKEN}"))
    assert (body["status"], body["message"]) == ("success", "Queue status retrieved")
    assert body["data"]["instanceId"] == INSTANCE_ID


def test_create_new_session_gets_a_qr_code_for_a_new_id(server: int) -> None:
    run = _script("create-new-session.sh", TOKEN, port=server)
    assert "✅ QR code generated successfully!" in run.stdout, run.stdout + run.stderr
