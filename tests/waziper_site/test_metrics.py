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


def test_webhook_deliveries_attempts_and_backlog_per_endpoint_are_scraped(
    api: APIClient, staff_token: str, instance: Instance
) -> None:
    from instances.events import emit_event
    from webhooks import service
    from webhooks.models import WebhookDelivery

    endpoint, _ = service.create_endpoint(instance.owner, url="https://93.184.215.14/hook", instance=instance)
    for n in range(3):
        emit_event(instance, "status", {"status": "connected", "detail": str(n)})
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.first().pk).update(status="dead", attempts=10)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    body = api.get("/metrics").content.decode()
    assert 'waziper_webhook_deliveries{status="pending"} 2.0' in body
    assert 'waziper_webhook_deliveries{status="dead"} 1.0' in body
    assert "waziper_webhook_attempts 10.0" in body
    assert f'waziper_webhook_backlog{{endpoint="{endpoint.pk}"}} 2.0' in body
    assert f'waziper_webhook_oldest_pending_seconds{{endpoint="{endpoint.pk}"}}' in body
