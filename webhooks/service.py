"""Endpoint and delivery changes asked for by people (the API, the admin): every write of these
rows outside the deliverer goes through here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances.models import Instance, InstanceEvent
from kernel import pg_listen
from webhooks import deliveries, events, fanout, formats, signing
from webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("waziper.webhooks")
Status = WebhookDelivery.Status
REPLAY_LIMIT = 10_000


def create_endpoint(
    owner: Any,
    *,
    url: str,
    instance: Instance | None = None,
    events_filter: list[str] | None = None,
    format: str = formats.STANDARD,
    description: str = "",
    now: datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret (shown to the caller once; it signs every delivery)."""
    now = now or timezone.now()
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        instance=instance,
        url=url,
        events=list(events_filter or []),
        format=format,
        description=description,
        secret=secret,
        created_at=now,
        updated_at=now,
    )
    logger.info("webhook endpoint %s created for %s", endpoint.pk, owner)
    return endpoint, secret


def set_instance_webhook(
    owner: Any, instance: Instance, *, url: str, enabled: bool, now: datetime | None = None
) -> tuple[WebhookEndpoint, str | None]:
    """Waziper's one webhook per instance (its public API's set_webhook): the owner's `waziper`
    endpoint for `instance`, made or pointed at `url`, and switched on or off. Returns it with its
    secret when it is new (shown once), else with None: the secret it had stays."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .filter(owner=owner, instance=instance, format=formats.WAZIPER)
            .order_by("pk")
            .first()
        )
        if endpoint is None:
            endpoint, secret = create_endpoint(
                owner, url=url, instance=instance, format=formats.WAZIPER, description="set_webhook", now=now
            )
            if not enabled:
                update_endpoint(endpoint, enabled=False, now=now)
            return endpoint, secret
        return update_endpoint(endpoint, url=url, enabled=enabled, now=now), None


def _closed_breaker() -> dict[str, Any]:
    return {
        "breaker_state": WebhookEndpoint.Breaker.CLOSED,
        "consecutive_failures": 0,
        "open_until": None,
        "probe_owner": "",
        "probe_lease_until": None,
    }


def update_endpoint(
    endpoint: WebhookEndpoint, *, now: datetime | None = None, **changes: Any
) -> WebhookEndpoint:
    """Change url, events, format, description or enabled. Enabling again clears the reason it was
    disabled and closes its breaker: a person says the receiver is worth trying."""
    now = now or timezone.now()
    fields: dict[str, Any] = {}
    for name in ("url", "format", "description"):
        if name in changes:
            fields[name] = changes[name]
    if "events" in changes:
        fields["events"] = list(changes["events"])
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        fields["enabled"] = bool(changes["enabled"])
        if fields["enabled"]:
            fields.update(disabled_reason="", **_closed_breaker())
        else:
            fields["disabled_reason"] = "disabled by a person"
    if fields:
        fields["updated_at"] = now
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        if fields.get("enabled"):
            deliveries.wake_waiting(endpoint.pk, now)  # what waited while it was off is due now
        endpoint.refresh_from_db()
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> str:
    """A new secret; the old one keeps signing too for WAZIPER_WEBHOOK_SECRET_OVERLAP."""
    now = now or timezone.now()
    secret = signing.new_secret()
    overlap = settings.WAZIPER_WEBHOOK_SECRET_OVERLAP
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret=secret,
        previous_secret=endpoint.secret if overlap > 0 else "",
        previous_secret_until=now + timedelta(seconds=overlap) if overlap > 0 else None,
        updated_at=now,
    )
    endpoint.refresh_from_db()
    logger.info("webhook endpoint %s: secret rotated", endpoint.pk)
    return secret


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """The endpoint and its delivery log go; a deliverer's lease on one of them just ends."""
    endpoint.delete()


def reset_breaker(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> int:
    """Close the endpoint's breaker and make what waited due now; returns how many woke."""
    now = now or timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(updated_at=now, **_closed_breaker())
        return deliveries.wake_waiting(endpoint.pk, now)


def send_test(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> WebhookDelivery:
    """Queue a `webhook.test` event for the endpoint, due now (whatever its event filter)."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event=None,
            event_type=events.WEBHOOK_TEST,
            payload={"endpoint_id": endpoint.pk, "message": "A test event from waziper."},
            status=Status.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        _notify()
    return delivery


def _notify() -> None:
    pg_listen.notify(fanout.NOTIFY_CHANNEL)


def retry_delivery(delivery: WebhookDelivery, *, now: datetime | None = None) -> bool:
    """Send it again now with a fresh schedule (a delivered one too: its webhook-id is the same).
    False if a deliverer is posting it at this moment."""
    now = now or timezone.now()
    done = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=Status.DELIVERING)
        .update(status=Status.PENDING, attempts=0, next_attempt_at=now, last_error="")
    )
    if done:
        _notify()
        delivery.refresh_from_db()
    return bool(done)


@dataclass(frozen=True)
class Replay:
    queued: int  # deliveries created or made due again
    last_event_id: int | None  # the last event looked at
    more: bool  # the limit stopped it: replay again from last_event_id + 1


def endpoint_instances(endpoint: WebhookEndpoint) -> list[int]:
    if endpoint.instance_id is not None:
        owner_id = Instance.objects.filter(pk=endpoint.instance_id).values_list("owner_id", flat=True).first()
        if owner_id is None or not fanout.may_hear(endpoint.owner, owner_id):
            return []
        return [endpoint.instance_id]
    return list(Instance.objects.filter(owner_id=endpoint.owner_id).values_list("pk", flat=True))


def replay(
    endpoint: WebhookEndpoint,
    *,
    from_event_id: int | None = None,
    since: datetime | None = None,
    limit: int = REPLAY_LIMIT,
    now: datetime | None = None,
) -> Replay:
    """Deliver again the outbox events from `from_event_id` (or from the time `since`) that the
    endpoint subscribes to and the outbox still keeps: new deliveries for those it never had,
    and the ones it had made due again (same webhook-id). At most `limit` events per call."""
    now = now or timezone.now()
    rows = InstanceEvent.objects.filter(
        instance_id__in=endpoint_instances(endpoint), kind__in=events.PUBLIC_KINDS
    )
    if from_event_id is not None:
        rows = rows.filter(pk__gte=from_event_id)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    picked = list(rows.order_by("pk").values_list("pk", "kind", "payload")[: limit + 1])
    more = len(picked) > limit
    picked = picked[:limit]
    wanted: dict[int, str] = {}
    for pk, kind, payload in picked:
        event_type = events.public_type(kind, payload)
        if (
            event_type is not None
            and fanout.wants(endpoint.events, event_type)
            and formats.expressible(endpoint.format, event_type, payload)
        ):
            wanted[pk] = event_type
    with transaction.atomic():
        existing = set(
            WebhookDelivery.objects.filter(endpoint=endpoint, event_id__in=list(wanted)).values_list(
                "event_id", flat=True
            )
        )
        again = (
            WebhookDelivery.objects.filter(endpoint=endpoint, event_id__in=list(existing))
            .exclude(status=Status.DELIVERING)
            .update(status=Status.PENDING, attempts=0, next_attempt_at=now, last_error="")
        )
        new = [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=pk,
                event_type=event_type,
                status=Status.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            for pk, event_type in wanted.items()
            if pk not in existing
        ]
        WebhookDelivery.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        _notify()
    return Replay(queued=again + len(new), last_event_id=picked[-1][0] if picked else None, more=more)
