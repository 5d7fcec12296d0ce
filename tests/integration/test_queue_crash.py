"""Issue 6's proof, through real processes: `serve` (daphne + a supervised worker), 1,000 messages
queued over HTTP to a connected sandbox instance, the worker killed with SIGKILL halfway and
restarted by `serve`. Every message ends sent/delivered/read/failed/uncertain, the simulated
phone received none twice, and /queue-status accounts for all of them."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from instances.models import AccessToken, Instance, SandboxReceived, WorkerProcess
from instances.service import create_instance, request_running
from queueing.models import QueuedMessage
from tests.support.processes import free_port, manage_py, wait_for_http, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Seconds on an idle machine; the generous limits are for a loaded CI box.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]
TOTAL, BATCH = 1000, 250
SETTLED = {"sent", "delivered", "read", "failed", "uncertain"}
FAST = {
    "WAZIPER_SEND_DELAY_MIN": "0",
    "WAZIPER_SEND_DELAY_MAX": "0",
    "WAZIPER_LEASE_TTL": "1",
    "WAZIPER_CLEANUP_INTERVAL": "1",
    "WAZIPER_RETRY_BASE": "0.01",
    "WAZIPER_RETRY_CAP": "0.05",
    "WAZIPER_THROTTLE_RATE": "100000/min",
}


def http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_a_blast_survives_a_killed_worker_without_loss_or_duplicates(owner: Any, settings: Any) -> None:
    instance = create_instance(
        owner,
        name="blast",
        transport="sandbox",
        sandbox={"linked": True, "receipts": "delivered"},
    )
    request_running(instance)
    token = AccessToken.objects.issue(owner, name="it")[1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = manage_py(settings, "serve", "--port", str(port), **FAST)
    try:
        wait_for_http(f"{base}/health", serve)
        wait_until(
            lambda: Instance.objects.filter(pk=instance.pk, status="connected").exists(), message="connected"
        )
        for start in range(0, TOTAL, BATCH):
            recipients = [f"62812{i:08d}" for i in range(start, start + BATCH)]
            code, body = http(
                "POST",
                f"{base}/send_bulk?instance_id={instance.instance_id}",
                token,
                {
                    "caption": "{Hi|Hello} %n%",
                    "recipients": [{"chat_id": r, "params": {"n": r}} for r in recipients],
                },
            )
            assert code == 202
            assert body["data"]["count"] == BATCH

        wait_until(lambda: SandboxReceived.objects.count() >= TOTAL // 2, timeout=300, message="half sent")
        first = WorkerProcess.objects.get(stopped_at__isnull=True)
        os.kill(first.pid, signal.SIGKILL)
        at_kill = SandboxReceived.objects.count()
        assert at_kill < TOTAL, "the blast finished before the kill; nothing was tested"

        wait_until(
            lambda: not QueuedMessage.objects.filter(status__in=("queued", "sending")).exists(),
            timeout=400,
            message="every message settled after the restart",
        )
        code, body = http("GET", f"{base}/queue-status/{instance.instance_id}", token)
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=60)
        print(out[-6000:])  # shown by pytest only if the test fails
    assert "exited with code -9; restarting" in out

    statuses = Counter(QueuedMessage.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == TOTAL, statuses
    assert set(statuses) <= SETTLED, statuses
    refs = Counter(SandboxReceived.objects.values_list("ref", flat=True))
    assert max(refs.values()) == 1, "a message reached the phone twice"
    delivered_ok = set(
        str(m)
        for m in QueuedMessage.objects.filter(status__in=("sent", "delivered", "read")).values_list(
            "message_id", flat=True
        )
    )
    assert delivered_ok <= set(refs)  # everything reported sent really arrived
    assert statuses["uncertain"] <= 1  # at most the one send in flight when the worker died
    assert code == 200
    assert body["data"]["total"] == TOTAL
    assert sum(body["data"]["counts"].values()) == TOTAL
    assert body["data"]["pending"] == 0
    print(f"\nkilled after {at_kill} received; final {dict(statuses)}")
