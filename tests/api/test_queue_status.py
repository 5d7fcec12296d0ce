"""GET /queue-status/<instance_id> and `manage.py queue_status`."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from breaker import service as breaker_service
from instances.models import Instance, WorkerProcess
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db


def connect(instance: Instance) -> None:
    now = timezone.now()
    Instance.objects.filter(pk=instance.pk).update(desired_state="running", status="connected")
    WorkerProcess.objects.create(
        worker_id="w1", hostname="h", pid=1, capacity=10, started_at=now, heartbeat_at=now
    )
    instance.refresh_from_db()


def fill(instance: Instance) -> None:
    now = timezone.now()
    queue_message(instance, created_at=now - timedelta(seconds=90))
    queue_message(instance, created_at=now)
    queue_message(instance, status="sent")
    queue_message(instance, status="read")
    queue_message(instance, status="failed")
    queue_message(instance, status="uncertain")


def test_it_counts_every_status_and_ages_the_oldest(owner_client: APIClient, instance: Instance) -> None:
    connect(instance)
    fill(instance)
    response = owner_client.get(f"/queue-status/{instance.instance_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["counts"] == {
        "queued": 2,
        "sending": 0,
        "sent": 1,
        "delivered": 0,
        "read": 1,
        "failed": 1,
        "cancelled": 0,
        "uncertain": 1,
    }
    assert data["total"] == 6
    assert data["pending"] == 2
    assert 89 <= data["oldest_queued_age_s"] < 120
    assert data["paused"] is False
    assert data["paused_reason"] is None
    assert data["next_send_at"] is not None
    assert data["success_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_a_stopped_instance_is_paused_and_says_why(owner_client: APIClient, instance: Instance) -> None:
    queue_message(instance)
    data = owner_client.get(f"/queue-status/{instance.instance_id}").json()["data"]
    assert data["paused"] is True
    assert "stopped" in data["paused_reason"]
    assert data["next_send_at"] is None


def test_an_open_breaker_pauses_the_queue(owner_client: APIClient, instance: Instance) -> None:
    connect(instance)
    now = timezone.now()
    for i in range(15):
        breaker_service.record_failure(
            instance, "connect_failed", "x", now=now + timedelta(seconds=i), rand=lambda: 0.5
        )
    data = owner_client.get(f"/queue-status/{instance.instance_id}").json()["data"]
    assert data["paused"] is True
    assert "circuit breaker is open until" in data["paused_reason"]


def test_a_disconnected_instance_pauses_the_queue(owner_client: APIClient, instance: Instance) -> None:
    connect(instance)
    Instance.objects.filter(pk=instance.pk).update(status="qr_pending")
    data = owner_client.get(f"/queue-status/{instance.instance_id}").json()["data"]
    assert "qr_pending" in data["paused_reason"]


def test_no_live_worker_pauses_the_queue(owner_client: APIClient, instance: Instance) -> None:
    connect(instance)
    WorkerProcess.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    data = owner_client.get(f"/queue-status/{instance.instance_id}").json()["data"]
    assert data["paused_reason"] == "no worker process is running"


def test_someone_elses_instance_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert api.get(f"/queue-status/{instance.instance_id}").status_code == 404


def test_the_command_prints_the_same_figures(instance: Instance) -> None:
    connect(instance)
    fill(instance)
    out = StringIO()
    call_command("queue_status", instance.instance_id.lower(), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"]["queued"] == 2
    assert data["total"] == 6
    text = StringIO()
    call_command("queue_status", instance.instance_id, stdout=text)
    assert "6 (2 pending)" in text.getvalue()
    assert "success rate    66.7%" in text.getvalue()


def test_the_command_refuses_an_unknown_instance() -> None:
    with pytest.raises(CommandError):
        call_command("queue_status", "0000000000000")


def test_it_answers_in_wazipers_words_with_its_figures(owner_client: APIClient, instance: Instance) -> None:
    connect(instance)
    fill(instance)
    queue_message(instance, attempts=1)  # failed once, waiting to be tried again
    queue_message(instance, status="sent", attempts=3)
    body = owner_client.get(f"/queue-status/{instance.instance_id}").json()
    assert body["message"] == "Queue status retrieved"
    data = body["data"]
    assert data["instanceId"] == instance.instance_id
    assert (data["mainQueue"], data["retryQueue"], data["processing"]) == (3, 1, False)
    assert data["stats"] == {"queued": 8, "success": 3, "failed": 1, "retry": 3}
    assert data["successRate"] == 75
    assert data["recommendations"] == ["✅ Queue is healthy and operating normally."]
