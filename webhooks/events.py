"""The events integrations subscribe to, read from the outbox's kinds.

The outbox (instances.InstanceEvent) records every change in the words of the app that made it;
this module says which of those an integration hears about, under which public name, and with
which data. Pure functions of (kind, payload): the fan-out and the deliverer both call them.
"""

from __future__ import annotations

from typing import Any

MESSAGE_RECEIVED = "message.received"
MESSAGE_UPDATED = "message.updated"
MESSAGE_STATUS = "message.status"
INSTANCE_STATUS = "instance.status"
BREAKER_OPENED = "breaker.opened"
BREAKER_CLOSED = "breaker.closed"
GROUP_UPDATED = "group.updated"
CONTACT_UPDATED = "contact.updated"
WEBHOOK_TEST = "webhook.test"

# What an endpoint's `events` filter may name (webhook.test is sent on request, whatever the filter).
EVENT_TYPES: tuple[str, ...] = (
    MESSAGE_RECEIVED,
    MESSAGE_UPDATED,
    MESSAGE_STATUS,
    INSTANCE_STATUS,
    BREAKER_OPENED,
    BREAKER_CLOSED,
    GROUP_UPDATED,
    CONTACT_UPDATED,
)

# Outbox kinds that may become webhook events (public_type decides from the payload): what a
# replay reads from the outbox.
PUBLIC_KINDS: tuple[str, ...] = (
    MESSAGE_RECEIVED,
    MESSAGE_UPDATED,
    MESSAGE_STATUS,
    GROUP_UPDATED,
    CONTACT_UPDATED,
    "status",
    "breaker",
)
# Outbox kinds integrations hear of under their own name.
_AS_THEY_ARE = frozenset({MESSAGE_RECEIVED, MESSAGE_UPDATED, MESSAGE_STATUS, GROUP_UPDATED, CONTACT_UPDATED})

# Instance statuses an integration acts on, by their public names; the others (starting,
# connecting, stopped …) are the gateway's own business and stay on the live pages.
PUBLIC_STATUS = {
    "qr_pending": "qr",
    "connected": "connected",
    "disconnected": "disconnected",
    "logged_out": "logged_out",
}
BREAKER_TYPES = {"open": BREAKER_OPENED, "forced_open": BREAKER_OPENED, "closed": BREAKER_CLOSED}
# message.status: the statuses of our sends an integration cares about.
SEND_STATUSES = ("sent", "delivered", "read", "failed", "uncertain")


def public_type(kind: str, payload: dict[str, Any]) -> str | None:
    """The public event type of an outbox event, or None if integrations do not hear of it."""
    if kind in _AS_THEY_ARE:
        return kind
    if kind == "status":
        return INSTANCE_STATUS if payload.get("status") in PUBLIC_STATUS else None
    if kind == "breaker":
        return BREAKER_TYPES.get(str(payload.get("state")))
    return None


def _without_raw(message: Any) -> Any:
    if isinstance(message, dict):
        return {key: value for key, value in message.items() if key != "raw"}
    return message


def public_data(kind: str, payload: dict[str, Any], instance_id: str | None) -> dict[str, Any]:
    """The `data` of an event as the standard format posts it. Every event names its instance.

    Messages go as the API shows them: the raw WhatsApp payload stays out (the `waziper` format
    is the one built from it).
    """
    data: dict[str, Any]
    if kind == MESSAGE_RECEIVED:
        data = _without_raw(payload)
    elif kind == MESSAGE_UPDATED:
        data = dict(payload)
        for key in ("message", "update_message"):
            if key in data:
                data[key] = _without_raw(data[key])
    elif kind == "status":
        data = {
            "status": PUBLIC_STATUS.get(str(payload.get("status")), str(payload.get("status"))),
            "detail": payload.get("detail", ""),
        }
        for key in ("jid", "push_name"):
            if key in payload:
                data[key] = payload[key]
    elif kind == "breaker":
        data = {
            "state": payload.get("state"),
            "previous": payload.get("previous"),
            "reason": payload.get("reason", ""),
            "open_until": payload.get("open_until"),
        }
    else:
        data = dict(payload)
    data["instance_id"] = instance_id
    return data
