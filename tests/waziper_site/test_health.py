from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from breaker.models import BreakerState, FailureEvent
from instances.models import Instance, WorkerProcess
from queueing.models import QueuedMessage

pytestmark = pytest.mark.django_db

SEED_DATA_KEYS = {
    "server_status",
    "total_instances",
    "active_connections",
    "connecting",
    "circuit_breaker_activations",
    "total_retry_attempts",
    "total_recent_failures",
    "health_score",
}


def _fleet(owner: Any, n: int) -> list[Instance]:
    now = timezone.now()
    statuses = ["connected", "connecting", "breaker_open", "qr_pending"]
    instances = Instance.objects.bulk_create(
        Instance(
            owner=owner,
            transport="sandbox",
            desired_state="running",
            status=statuses[i % 4],
            retry_attempts=i % 3,
        )
        for i in range(n)
    )
    BreakerState.objects.bulk_create(
        BreakerState(instance=inst, state="open" if inst.status == "breaker_open" else "closed")
        for inst in instances
    )
    FailureEvent.objects.bulk_create(
        FailureEvent(instance=inst, kind="connect_failed", at=now - timedelta(seconds=10))
        for inst in instances
    )
    QueuedMessage.objects.bulk_create(
        QueuedMessage(instance=inst, chat_id="628123", text="hi", not_before=now, created_at=now)
        for inst in instances
    )
    return instances


def test_health_has_the_seeds_shape_and_no_auth(api: APIClient) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "message", "data", "timestamp"}
    assert body["status"] == "success"
    assert body["message"] == "Server is running"
    assert SEED_DATA_KEYS <= set(body["data"])
    assert body["data"]["server_status"] == "running"
    assert body["timestamp"].endswith("Z")


def test_health_counts_the_fleet(api: APIClient, owner: Any) -> None:
    _fleet(owner, 8)
    FailureEvent.objects.create(
        instance=Instance.objects.first(), kind="connect_failed", at=timezone.now() - timedelta(hours=1)
    )
    WorkerProcess.objects.create(
        worker_id="w1",
        hostname="h",
        pid=1,
        capacity=10,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    data = api.get("/health").json()["data"]
    assert data["total_instances"] == 8
    assert data["active_connections"] == 2
    assert data["connecting"] == 4  # connecting + qr_pending
    assert data["circuit_breaker_activations"] == 2
    assert data["total_retry_attempts"] == sum(i % 3 for i in range(8))
    assert data["total_recent_failures"] == 8  # the hour-old one is outside the window
    assert data["queue"]["depth"] == 8
    assert data["worker"]["alive"] is True
    assert data["worker"]["worker_id"] == "w1"
    # 6 of 8 running not connected, 2 of 8 breakers open, worker alive: 100 - 30 - 7.5
    assert data["health_score"] == 62


def test_stale_worker_heartbeat_is_not_alive(api: APIClient) -> None:
    old = timezone.now() - timedelta(minutes=5)
    WorkerProcess.objects.create(
        worker_id="w1", hostname="h", pid=1, capacity=10, started_at=old, heartbeat_at=old
    )
    assert api.get("/health").json()["data"]["worker"]["alive"] is False


def test_a_worker_without_progress_for_the_stall_limit_is_reported_stalled(
    api: APIClient, settings: Any
) -> None:
    settings.WAZIPER_WORKER_STALL_S = 60
    last = timezone.now() - timedelta(seconds=61)
    WorkerProcess.objects.create(
        worker_id="w1", hostname="h", pid=1, capacity=10, started_at=last, heartbeat_at=last
    )
    worker = api.get("/health").json()["data"]["worker"]
    assert worker["progressing"] is False
    assert worker["stalled_since"] == last.isoformat()


def test_a_worker_beating_within_the_stall_limit_is_progressing(api: APIClient) -> None:
    WorkerProcess.objects.create(
        worker_id="w1",
        hostname="h",
        pid=1,
        capacity=10,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    worker = api.get("/health").json()["data"]["worker"]
    assert worker["progressing"] is True
    assert worker["stalled_since"] is None


def test_a_stalled_worker_counts_as_not_alive_in_the_score(api: APIClient, settings: Any) -> None:
    # A stall limit shorter than the lease TTL: the worker still counts as alive by its TTL,
    # but a worker that makes no progress serves nobody.
    settings.WAZIPER_WORKER_STALL_S = 5
    last = timezone.now() - timedelta(seconds=10)
    WorkerProcess.objects.create(
        worker_id="w1", hostname="h", pid=1, capacity=10, started_at=last, heartbeat_at=last
    )
    data = api.get("/health").json()["data"]
    assert data["worker"]["alive"] is True
    assert data["health_score"] == 70


@pytest.mark.parametrize("n", [1, 500])
def test_health_query_count_does_not_grow_with_instances(
    api: APIClient, owner: Any, n: int, django_assert_max_num_queries: Any
) -> None:
    _fleet(owner, n)
    # Six for instances, breakers, failures, the worker and the queue; two for the webhooks.
    with django_assert_max_num_queries(8):
        assert api.get("/health").status_code == 200


def test_repeated_health_calls_share_one_computation(
    api: APIClient, owner: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.WAZIPER_HEALTH_CACHE_S = 60
    first = api.get("/health").json()
    _fleet(owner, 3)
    with django_assert_num_queries(0):
        assert api.get("/health").json() == first
    settings.WAZIPER_HEALTH_CACHE_S = 0
    from django.core.cache import cache

    cache.clear()
    assert api.get("/health").json()["data"]["total_instances"] == 3
