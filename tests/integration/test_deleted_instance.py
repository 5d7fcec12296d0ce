"""One tenant deletes its instance while its connect attempt is failing, with `serve` running
for real: the worker drops that instance and goes on serving everyone else."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from typing import Any

import pytest

from breaker.models import FailureEvent
from instances.models import AccessToken, Instance
from instances.service import create_instance, request_running
from queueing.models import QueuedMessage
from tests.support.processes import free_port, manage_py, wait_for_http, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENV = {
    # Fail fast and often, and never trip the breaker: the instance is always mid-connect.
    "WAZIPER_RETRY_BASE": "0.01",
    "WAZIPER_RETRY_CAP": "0.02",
    "WAZIPER_BREAKER_THRESHOLD": "500",
    "WAZIPER_SEND_DELAY_MIN": "0",
    "WAZIPER_SEND_DELAY_MAX": "0",
}


def call(port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def status(instance: Instance) -> str:
    instance.refresh_from_db()
    return instance.status


def test_deleting_an_instance_mid_connect_does_not_stop_another_tenants_message(
    owner: Any, stranger: Any, settings: Any
) -> None:
    failing = create_instance(
        owner, name="failing", transport="sandbox", sandbox={"connect": "fail", "latency_ms": 200}
    )
    other = create_instance(stranger, name="other", transport="sandbox", sandbox={"linked": True})
    for instance in (failing, other):
        request_running(instance)
    owner_token = AccessToken.objects.issue(owner)[1]
    stranger_token = AccessToken.objects.issue(stranger)[1]
    port = free_port()
    serve = manage_py(settings, "serve", "--port", str(port), **ENV)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", serve)
        wait_until(lambda: status(other) == "connected", message="the other tenant connected")
        wait_until(
            lambda: FailureEvent.objects.filter(instance=failing).count() >= 3,
            message="the failing instance failed a few times",
        )
        # A session store on disk, as a real transport keeps one: the worker removes it once it
        # has dropped the deleted instance (while it holds the lease, the web side leaves it).
        store = os.path.join(settings.WAZIPER_SESSIONS_DIR, failing.instance_id)
        os.makedirs(store)
        wait_until(lambda: status(failing) == "connecting", interval=0.01, message="mid-connect")
        call(port, "DELETE", f"/instances/{failing.instance_id}", owner_token)
        wait_until(lambda: not os.path.exists(store), timeout=20, message="the deleted instance dropped")
        queued = call(
            port,
            "POST",
            "/send_message",
            stranger_token,
            {"instance_id": other.instance_id, "chat_id": "6281234567890", "message": "still here"},
        )
        message = QueuedMessage.objects.get(message_id=queued["data"]["message_id"])
        wait_until(
            lambda: QueuedMessage.objects.get(pk=message.pk).status in ("sent", "delivered", "read"),
            timeout=20,
            message="the other tenant's message sent",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            health = json.loads(response.read())["data"]
        assert health["worker"]["alive"] is True
        assert health["worker"]["progressing"] is True
        assert health["health_score"] == 100
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=40)
    assert serve.returncode == 0, out
    assert f"instance {failing.instance_id}: deleted; session closed" in out
