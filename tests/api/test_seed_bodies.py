"""The seed's documented bodies (seed/server-crash-fix.md), byte for byte where they are fixed.

Waziper's PHP front ends parse these; a renamed key or a changed type breaks them silently.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from breaker.models import BreakerState, FailureEvent
from instances.models import Instance

pytestmark = pytest.mark.django_db

SEED_HEALTH = {
    "status": "success",
    "message": "Server is running",
    "data": {
        "server_status": "running",
        "total_instances": 2,
        "active_connections": 0,
        "connecting": 0,
        "circuit_breaker_activations": 2,
        "total_retry_attempts": 15,
        "total_recent_failures": 20,
        "health_score": 45,
    },
    "timestamp": "2025-11-23T01:40:37.421Z",
}
SEED_RESET = {
    "status": "success",
    "message": "Circuit breaker reset successfully for instance: 6921B60FBF7D9",
    "instance_id": "6921B60FBF7D9",
}


def _seed_fleet(owner: Any) -> None:
    """The fleet behind the seed's /health example: two instances, both breakers open."""
    now = timezone.now()
    for instance_id, retries in (("6921B60FBF7D9", 10), ("0A1B2C3D4E5F6", 5)):
        instance = Instance.objects.create(
            instance_id=instance_id,
            owner=owner,
            transport="sandbox",
            desired_state="running",
            status="breaker_open",
            retry_attempts=retries,
        )
        BreakerState.objects.create(instance=instance, state="open", open_until=now + timedelta(minutes=5))
        FailureEvent.objects.bulk_create(
            FailureEvent(instance=instance, kind="connect_failed", at=now - timedelta(seconds=30))
            for _ in range(10)
        )


def test_health_answers_the_seeds_body(api: APIClient, owner: Any) -> None:
    _seed_fleet(owner)
    body = api.get("/health").json()
    assert list(body) == list(SEED_HEALTH)
    assert {k: body[k] for k in ("status", "message")} == {
        "status": "success",
        "message": "Server is running",
    }
    seed_data = SEED_HEALTH["data"]
    # Every seed figure, same value, except health_score: ours is a share of the fleet, not
    # 15 points per open breaker (README "/health"). Our extras come after the seed's keys.
    assert list(body["data"])[: len(seed_data)] == list(seed_data)
    for key, value in seed_data.items():
        assert type(body["data"][key]) is type(value), key
        if key != "health_score":
            assert body["data"][key] == value, key
    assert 0 <= body["data"]["health_score"] <= 100
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["timestamp"])


def test_reset_answers_the_seeds_body(owner: Any, owner_client: APIClient) -> None:
    Instance.objects.create(instance_id="6921B60FBF7D9", owner=owner, transport="sandbox")
    response = owner_client.post("/reset-circuit-breaker/6921B60FBF7D9")
    assert response.status_code == 200
    assert response.content.decode() == (
        '{"status":"success","message":"Circuit breaker reset successfully for instance: '
        '6921B60FBF7D9","instance_id":"6921B60FBF7D9"}'
    )
    assert response.json() == SEED_RESET
