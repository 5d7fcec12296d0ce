"""Issue 12's webhook proofs, through real processes: `serve` (daphne, the worker and the webhook
deliverer, each supervised) and receivers on 127.0.0.1.

* A sandbox instance connecting, a message its simulated contact sends it (POST
  /sandbox/<id>/incoming, stored by the inbox) and a send's sent → delivered → read reach the
  receivers signed (verified with standardwebhooks' Webhook.verify), in both formats, while a
  third endpoint's receiver hangs.
* A receiver down for a while gets every event once it is back; the deliverer killed with
  SIGKILL mid-backlog loses nothing, and re-posts at most what it held, with the same ids.

Time is compressed with settings (the retry schedule scaled down, short cooldowns and leases):
the tests take seconds, not the minutes the defaults would.

The backlog of the second test is written to the outbox by the test itself (as the inbox writes
`message.received`): it is about delivery, and fifteen hundred messages through the sandbox
would only make it slower.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from instances.events import emit_event
from instances.models import AccessToken
from instances.service import create_instance, request_running
from tests.support.processes import free_port, manage_py, wait_for_http, wait_until
from tests.support.webhook_receiver import Receiver
from tests.support.webhooks import inbound_message, make_endpoint
from webhooks.models import Deliverer, WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
FAST = {
    "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS": "1",
    "WAZIPER_SEND_DELAY_MIN": "0",
    "WAZIPER_SEND_DELAY_MAX": "0",
    "WAZIPER_LEASE_TTL": "2",
    "WAZIPER_RETRY_BASE": "0.01",
    "WAZIPER_RETRY_CAP": "0.05",
    "WAZIPER_WEBHOOK_RETRY_SCALE": "0.01",
    "WAZIPER_WEBHOOK_BREAKER_COOLDOWN": "0.5",
    "WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN": "1",
    "WAZIPER_THROTTLE_RATE": "100000/min",
}


@pytest.fixture
def receiver() -> Any:
    running = Receiver().start()
    yield running
    running.close()


def serve(settings: Any, log: Path, **env: str) -> tuple[Any, str]:
    """`serve` with its output in the file `log` (a pipe nobody reads would stall it when full)."""
    port = free_port()
    with open(log, "w") as out:
        proc = manage_py(settings, "serve", "--port", str(port), output=out, **{**FAST, **env})
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/health", proc, timeout=60)
    return proc, base


def stop(proc: Any, log: Path) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return log.read_text()


def post_json(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def verified(secret: str, receiver: Receiver, path: str) -> list[dict[str, Any]]:
    """Every body posted to `path`, each verified with the endpoint's secret."""
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.at(path)]


def of_type(bodies: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [b for b in bodies if b.get("type") == event_type]


def test_events_reach_receivers_signed_in_both_formats_past_a_hanging_one(
    owner: Any, settings: Any, receiver: Receiver, tmp_path: Path
) -> None:
    instance = create_instance(
        owner, name="hooks", transport="sandbox", sandbox={"linked": True, "receipts": "read"}
    )
    _, standard = make_endpoint(owner, receiver.url("/standard"), instance=instance)
    _, waziper = make_endpoint(owner, receiver.url("/waziper"), instance=instance, format="waziper")
    make_endpoint(owner, receiver.url("/hangs"))  # all of the owner's instances, every event
    receiver.hanging.add("/hangs")
    token = AccessToken.objects.issue(owner, name="it")[1]
    request_running(instance)
    proc, base = serve(settings, tmp_path / "serve.log", WAZIPER_WEBHOOK_TIMEOUT="60")
    try:
        wait_until(
            lambda: of_type(verified(standard, receiver, "/standard"), "instance.status"),
            timeout=90,
            message="instance.status at the standard receiver",
        )
        connected = of_type(verified(standard, receiver, "/standard"), "instance.status")
        assert connected[-1]["data"]["status"] == "connected"
        assert connected[-1]["data"]["instance_id"] == instance.instance_id

        emit_event(instance, "message.received", inbound_message(instance))
        wait_until(lambda: verified(waziper, receiver, "/waziper"), timeout=90, message="the waziper body")
        [upsert] = [
            b for b in verified(waziper, receiver, "/waziper") if b["data"]["event"] == "messages.upsert"
        ]
        assert upsert["instance_id"] == instance.instance_id
        message = upsert["data"]["data"]["messages"][0]
        assert (message["key"]["remoteJid"], message["message"]) == (
            "6281234567890@s.whatsapp.net",
            {"conversation": "halo"},
        )

        sent = post_json(
            f"{base}/send_message?instance_id={instance.instance_id}",
            token,
            {"chat_id": "6281234567890", "message": "terima kasih"},
        )
        message_id = sent["data"]["message_id"]

        def statuses() -> list[str]:
            bodies = of_type(verified(standard, receiver, "/standard"), "message.status")
            ordered = sorted(bodies, key=lambda b: b["timestamp"])
            return [b["data"]["status"] for b in ordered if b["data"]["message_id"] == message_id]

        wait_until(
            lambda: statuses() == ["sent", "delivered", "read"], timeout=90, message="sent → delivered → read"
        )
        receipts = [
            b["data"]["data"][0]["update"]["status"]
            for b in verified(waziper, receiver, "/waziper")
            if b["data"]["event"] == "messages.update"
        ]
        assert sorted(receipts) == [2, 3, 4]
        # All the while the hanging receiver held its own two lanes, and only those.
        assert len(receiver.at("/hangs")) == 2
    finally:
        receiver.release.set()
        stop(proc, tmp_path / "serve.log")


def test_a_receiver_down_then_a_killed_deliverer_lose_nothing(
    owner: Any, settings: Any, tmp_path: Path
) -> None:
    total = 1500
    receiver = Receiver().start()
    receiver.stop()  # down: connections refused
    receiver.delay_s = 0.002  # so the backlog takes a few seconds to drain, and the kill lands in it
    try:
        instance = create_instance(owner, name="quiet", transport="sandbox")
        _, secret = make_endpoint(
            owner, receiver.url(), instance=instance, events_filter=["message.received"]
        )
        log = tmp_path / "serve.log"
        proc, _ = serve(
            settings,
            log,
            WAZIPER_WEBHOOK_LEASE_TTL="3",
            WAZIPER_WEBHOOK_TIMEOUT="2",
            WAZIPER_WEBHOOK_CONNECT_TIMEOUT="1",
        )
        try:
            ids = {
                f"evt_{emit_event(instance, 'message.received', inbound_message(instance, id=n)).pk}"
                for n in range(total)
            }
            wait_until(
                lambda: WebhookDelivery.objects.filter(attempts__gte=1, status="failed").exists(),
                timeout=60,
                message="attempts failing while the receiver is down",
            )
            wait_until(  # the outage goes on: retries fail, the endpoint's breaker opens
                lambda: WebhookEndpoint.objects.filter(trips__gte=1).exists(),
                timeout=60,
                message="the endpoint's breaker opening while the receiver is down",
            )
            receiver.start()  # back, on the same port
            wait_until(
                lambda: len(receiver.received) >= total // 4, timeout=60, message="the backlog draining"
            )
            deliverer = Deliverer.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
            os.kill(deliverer.pid, signal.SIGSTOP)  # frozen: what it holds stays as it is
            held = {
                f"evt_{event_id}"
                for event_id in WebhookDelivery.objects.filter(
                    lease_owner=deliverer.deliverer_id, status="delivering"
                ).values_list("event_id", flat=True)
            }
            os.kill(deliverer.pid, signal.SIGKILL)
            at_kill = len(receiver.received)
            wait_until(
                lambda: {r.webhook_id for r in receiver.received} >= ids,
                timeout=90,
                message="every event delivered after the kill",
            )
        finally:
            out = stop(proc, log)
        assert at_kill < total, "the kill came after the backlog had drained"
        assert "webhook deliverer process exited with code -9" in out
        received = Counter(r.webhook_id for r in receiver.received)
        assert set(received) == ids
        # Re-posted: only what the killed deliverer held, with the same ids.
        twice = {webhook_id for webhook_id, count in received.items() if count > 1}
        assert twice <= held
        assert max(received.values()) <= 2
        for item in receiver.received[:5]:
            assert Webhook(secret).verify(item.body, item.headers)
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    finally:
        receiver.close()
