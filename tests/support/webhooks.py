"""Helpers for webhook tests: endpoints, outbox events shaped as the inbox writes them, and
stepping a deliverer until it has nothing left to do."""

from __future__ import annotations

import time
from typing import Any

from instances.events import emit_event
from instances.models import Instance, InstanceEvent
from kernel.clock import FakeClock
from webhooks import service
from webhooks.deliverer import Deliverer
from webhooks.models import WebhookEndpoint


def make_endpoint(owner: Any, url: str, **kwargs: Any) -> tuple[WebhookEndpoint, str]:
    return service.create_endpoint(owner, url=url, **kwargs)


def inbound_message(instance: Instance, **overrides: Any) -> dict[str, Any]:
    """A `message.received` payload shaped as inbox.service.message_dict writes it."""
    message = {
        "id": "in_1",
        "instance_id": instance.instance_id,
        "direction": "in",
        "wa_message_id": "3EB0C767D26A1D2E4A47",
        "chat": "6281234567890@s.whatsapp.net",
        "sender": "6281234567890@s.whatsapp.net",
        "sender_phone": "6281234567890",
        "from_me": False,
        "is_group": False,
        "push_name": "Budi",
        "kind": "text",
        "text": "halo",
        "media": None,
        "details": {},
        "quoted_message_id": None,
        "target_message_id": None,
        "reactions": [],
        "sent_at": "2026-01-01T12:00:00+00:00",
        "received_at": "2026-01-01T12:00:01+00:00",
        "edited_at": None,
        "revoked_at": None,
        "raw": {
            "key": {
                "remoteJid": "6281234567890@s.whatsapp.net",
                "fromMe": False,
                "id": "3EB0C767D26A1D2E4A47",
            },
            "message": {"conversation": "halo"},
            "messageTimestamp": 1767268800,
            "pushName": "Budi",
        },
    }
    message.update(overrides)
    return message


def emit(instance: Instance, kind: str, payload: dict[str, Any], clock: FakeClock) -> InstanceEvent:
    return emit_event(instance, kind, payload, now=clock.now())


def run_until_idle(deliverer: Deliverer, clock: FakeClock, timeout: float = 10.0) -> None:
    """Step `deliverer` at the clock's time until it claims nothing and holds nothing (real time
    passes only while its threads post)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        did = deliverer.step(clock.now())
        deliverer.drain(timeout)
        if not did and not deliverer.busy:
            return
    raise AssertionError(f"the deliverer was still busy after {timeout}s")
