"""The admin's webhook pages: endpoints without their secrets, the delivery log, and the retry,
replay, test and breaker actions, each on what the person may change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from instances.events import emit_event
from instances.models import Instance
from tests.support.webhooks import make_endpoint
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"
URL = "https://93.184.215.14/hook"


@pytest.fixture
def admin_client(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "admin-pass-123")
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, url: str, action: str, rows: list[Any]) -> Any:
    return client.post(url, {"action": action, "_selected_action": [r.pk for r in rows]}, follow=True)


def test_an_endpoint_page_never_shows_its_secret(
    admin_client: Client, owner: Any, instance: Instance
) -> None:
    endpoint, secret = make_endpoint(owner, URL, instance=instance)
    page = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert URL in page
    assert secret not in page


def test_the_delivery_log_shows_status_attempts_code_and_the_answer(
    admin_client: Client, owner: Any, instance: Instance
) -> None:
    make_endpoint(owner, URL, instance=instance)
    emit_event(instance, "status", {"status": "connected", "detail": ""})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=3, last_status_code=503, last_response_excerpt="upstream is sleeping"
    )
    listing = admin_client.get(DELIVERIES, {"status__exact": "failed"}).content.decode()
    assert "503" in listing
    detail = admin_client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "upstream is sleeping" in detail


def test_retry_action_makes_deliveries_due_now_with_fresh_attempts(
    admin_client: Client, owner: Any, instance: Instance
) -> None:
    make_endpoint(owner, URL, instance=instance)
    emit_event(instance, "status", {"status": "connected", "detail": ""})
    WebhookDelivery.objects.update(status="dead", attempts=10, next_attempt_at=None)
    response = act(admin_client, DELIVERIES, "retry_deliveries", list(WebhookDelivery.objects.all()))
    assert "Queued 1 delivery(ies) again." in response.content.decode()
    assert (WebhookDelivery.objects.get().status, WebhookDelivery.objects.get().attempts) == ("pending", 0)


def test_replay_action_delivers_the_last_day_again(
    admin_client: Client, owner: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    emit_event(instance, "status", {"status": "connected", "detail": ""})
    WebhookDelivery.objects.update(status="delivered", next_attempt_at=None)
    act(admin_client, ENDPOINTS, "replay_recent", [endpoint])
    assert WebhookDelivery.objects.get().status == "pending"


def test_test_and_breaker_actions(admin_client: Client, owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(breaker_state="open")
    act(admin_client, ENDPOINTS, "send_test", [endpoint])
    act(admin_client, ENDPOINTS, "reset_breakers", [endpoint])
    assert WebhookDelivery.objects.get().event_type == "webhook.test"
    assert WebhookEndpoint.objects.get().breaker_state == "closed"


def test_staff_without_permissions_see_only_their_own_endpoints(
    django_user_model: Any, owner: Any, instance: Instance
) -> None:
    from django.contrib.auth.models import Permission

    make_endpoint(owner, URL, instance=instance)
    staff = django_user_model.objects.create_user(username="sam", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    client = Client()
    client.force_login(staff)
    page = client.get(ENDPOINTS).content.decode()
    assert "0 webhook endpoints" in page
