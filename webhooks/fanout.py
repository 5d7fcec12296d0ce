"""The fan-out: one delivery row per matching endpoint, in the transaction of the event.

instances.events.emit_event calls `fan_out` for every outbox event it writes (registered in
WebhooksConfig.ready), inside that event's transaction: the deliveries commit with the event or
not at all, so an event committed is an event that will be delivered (docs/architecture.md,
"The outbox"). The cost is one indexed query per event integrations hear of, and none for the
others; nothing is cached, so an endpoint made or changed in one process counts at once in all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, Subquery

from instances.models import Instance, InstanceEvent, may_act_on_all
from kernel import pg_listen
from webhooks import events, formats
from webhooks.models import WebhookDelivery, WebhookEndpoint

# Deliverers LISTEN here on PostgreSQL, so a delivery starts at its commit, not at the next poll.
NOTIFY_CHANNEL = "waziper_webhooks"


def endpoints_for(instance_pk: int) -> Q:
    """Endpoints that hear of an instance's events: its own, and its owner's for all instances."""
    owner = Subquery(Instance.objects.filter(pk=instance_pk).values("owner_id")[:1])
    return Q(instance_id=instance_pk) | Q(instance__isnull=True, owner_id=owner)


def may_hear(owner: Any, instance_owner_id: int) -> bool:
    """Whether an endpoint of `owner` for one instance may still hear of it: while its owner owns
    it or may view every instance. An instance given to someone else stops reaching the endpoints
    its previous owner made for it."""
    return owner.pk == instance_owner_id or may_act_on_all(owner, "view")


def _hearing(candidates: list[tuple[int, int | None]]) -> set[int]:
    """Of (endpoint owner, instance owner) pairs — the latter None for all-instance endpoints,
    which endpoints_for already matched by owner — the endpoint owners who may hear. A query only
    for endpoints made for someone else's instance."""
    owners = {owner for owner, _ in candidates}
    others = {owner for owner, instance_owner in candidates if instance_owner not in (None, owner)}
    if not others:
        return owners
    users = get_user_model().objects.filter(pk__in=others)
    return (owners - others) | {user.pk for user in users if may_act_on_all(user, "view")}


def wants(subscribed: list[str] | None, event_type: str) -> bool:
    return not subscribed or event_type in subscribed


def fan_out(event: InstanceEvent) -> int:
    """Write the deliveries of `event`; returns how many."""
    event_type = events.public_type(event.kind, event.payload)
    if event_type is None:
        return 0
    candidates = list(
        WebhookEndpoint.objects.filter(endpoints_for(event.instance_id), enabled=True)
        .order_by()
        .values_list("pk", "events", "format", "owner_id", "instance__owner_id")
    )
    hearing = _hearing([(owner, instance_owner) for *_, owner, instance_owner in candidates])
    rows = [
        WebhookDelivery(
            endpoint_id=pk,
            event_id=event.pk,
            event_type=event_type,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at=event.created_at,
            created_at=event.created_at,
        )
        for pk, subscribed, fmt, owner, _ in candidates
        if owner in hearing
        and wants(subscribed, event_type)
        and formats.expressible(fmt, event_type, event.payload)
    ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        pg_listen.notify(NOTIFY_CHANNEL)
    return len(rows)
