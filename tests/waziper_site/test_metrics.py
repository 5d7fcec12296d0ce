from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from breaker import service as breaker_service
from instances.models import Instance

pytestmark = pytest.mark.django_db


def test_staff_token_scrapes_the_fleet_gauges(api: APIClient, staff_token: str, instance: Instance) -> None:
    from django.utils import timezone

    breaker_service.record_failure(instance, "connect_failed", "refused", now=timezone.now())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'waziper_instances{status="stopped"} 1.0' in body
    assert 'waziper_breakers{state="closed"} 1.0' in body
    assert 'waziper_failures_total{kind="connect_failed"}' in body


def test_metrics_are_not_for_owners_or_strangers(api: APIClient, owner_token: str) -> None:
    assert api.get("/metrics").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    assert api.get("/metrics").status_code == 403


def test_admin_session_may_scrape(client: Any, staff: Any) -> None:
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200
