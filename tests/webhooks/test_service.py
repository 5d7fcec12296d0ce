"""webhooks.service: what people ask of endpoints and deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from instances.events import emit_event
from instances.models import Instance
from instances.service import create_instance
from tests.support.webhooks import make_endpoint
from webhooks import deliveries, service
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
URL = "https://93.184.215.14/hook"


def test_a_rotation_keeps_the_previous_secret_signing_for_the_overlap(
    owner: Any, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_WEBHOOK_SECRET_OVERLAP = 3600
    endpoint, old = make_endpoint(owner, URL, instance=instance)
    new = service.rotate_secret(endpoint, now=T0)
    assert new != old
    fields = (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until)
    assert deliveries.signing_secrets(*fields, T0 + timedelta(seconds=3599)) == (new, old)
    assert deliveries.signing_secrets(*fields, T0 + timedelta(seconds=3600)) == (new,)


def test_a_test_event_is_due_now_whatever_the_filter(owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance, events_filter=["message.received"])
    delivery = service.send_test(endpoint, now=T0)
    assert (delivery.event_type, delivery.next_attempt_at, delivery.webhook_id) == (
        "webhook.test",
        T0,
        f"test_{delivery.pk}",
    )


def test_a_retry_restarts_the_schedule_but_not_while_it_is_being_posted(
    owner: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    emit_event(instance, "status", {"status": "connected", "detail": ""}, now=T0)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=10, next_attempt_at=None)
    assert service.retry_delivery(delivery, now=T0)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 0, T0)
    deliveries.claim(endpoint.pk, "d1", 1, T0, 30)
    assert not service.retry_delivery(delivery, now=T0)


def test_a_replay_delivers_kept_events_again_and_the_missing_ones_anew(
    owner: Any, instance: Instance
) -> None:
    early = emit_event(instance, "status", {"status": "connected", "detail": "before"}, now=T0)
    endpoint, _ = make_endpoint(owner, URL)  # all instances, made after the first event
    other = create_instance(owner, transport="sandbox")
    emit_event(other, "status", {"status": "connected", "detail": "after"}, now=T0)
    emit_event(instance, "qr", {"qr": "2@x"}, now=T0)  # not an integration's event
    WebhookDelivery.objects.update(status="delivered", next_attempt_at=None)
    result = service.replay(endpoint, from_event_id=early.pk, now=T0 + timedelta(hours=1))
    assert (result.queued, result.more) == (2, False)
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending", "pending"]


def test_a_replay_does_not_deliver_an_instance_given_to_someone_else(
    owner: Any, stranger: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    Instance.objects.filter(pk=instance.pk).update(owner=stranger)
    theirs = emit_event(instance, "status", {"status": "connected", "detail": "the new owner's"}, now=T0)
    WebhookDelivery.objects.all().delete()  # the replay alone, whatever the fan-out wrote
    result = service.replay(endpoint, from_event_id=theirs.pk, now=T0)
    assert result.queued == 0


def test_a_replay_delivers_group_and_contact_changes_made_before_the_endpoint(
    owner: Any, instance: Instance
) -> None:
    group = emit_event(instance, "group.updated", {"group_id": "120363000000000001@g.us"}, now=T0)
    emit_event(instance, "contact.updated", {"contact_id": "62812@s.whatsapp.net"}, now=T0)
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    result = service.replay(endpoint, from_event_id=group.pk, now=T0 + timedelta(hours=1))
    assert result.queued == 2
    assert sorted(WebhookDelivery.objects.values_list("event_type", flat=True)) == [
        "contact.updated",
        "group.updated",
    ]


def test_a_replay_stops_at_its_limit_and_says_where(owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    first = [
        emit_event(instance, "status", {"status": "connected", "detail": str(i)}, now=T0) for i in range(3)
    ]
    result = service.replay(endpoint, since=T0, limit=2, now=T0)
    assert (result.last_event_id, result.more) == (first[1].pk, True)


def test_enabling_again_clears_the_reason_and_the_breaker_and_wakes_what_waited(
    owner: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    emit_event(instance, "status", {"status": "connected", "detail": ""}, now=T0)
    WebhookDelivery.objects.update(status="failed", next_attempt_at=T0 + timedelta(hours=6))
    service.update_endpoint(endpoint, enabled=False, now=T0)
    endpoint.breaker_state = "open"
    endpoint.save()
    service.update_endpoint(endpoint, enabled=True, now=T0)
    assert (endpoint.enabled, endpoint.disabled_reason, endpoint.breaker_state) == (True, "", "closed")
    assert WebhookDelivery.objects.get().next_attempt_at == T0


def test_set_instance_webhook_makes_one_waziper_endpoint_then_points_it_elsewhere(
    owner: Any, instance: Instance
) -> None:
    made, secret = service.set_instance_webhook(owner, instance, url=URL, enabled=True, now=T0)
    changed, no_secret = service.set_instance_webhook(owner, instance, url=URL + "2", enabled=True, now=T0)
    assert (made.pk, made.format, secret is not None) == (changed.pk, "waziper", True)
    assert (changed.url, no_secret) == (URL + "2", None)


def test_set_instance_webhook_leaves_the_owners_other_endpoints_alone(owner: Any, instance: Instance) -> None:
    standard, _ = make_endpoint(owner, URL, instance=instance)
    service.set_instance_webhook(owner, instance, url=URL + "2", enabled=False, now=T0)
    standard.refresh_from_db()
    assert (standard.url, standard.enabled) == (URL, True)


def test_set_instance_webhook_saved_disabled_gets_no_deliveries(owner: Any, instance: Instance) -> None:
    service.set_instance_webhook(owner, instance, url=URL, enabled=False, now=T0)
    emit_event(instance, "message.received", {"id": "in_1", "kind": "text", "text": "halo"})
    assert not WebhookDelivery.objects.exists()
