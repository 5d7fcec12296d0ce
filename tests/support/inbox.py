"""Received messages for tests: a transport's `incoming` event data, and rows stored from it
through the inbox's own service (the only writer)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from inbox.models import InboundMessage
from inbox.service import store_incoming
from instances.models import Instance

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def incoming(**fields: Any) -> dict[str, Any]:
    """An `incoming` event's data as a transport reports it: a text from 628222 by default."""
    data: dict[str, Any] = {
        "message_id": f"3EB0{next(_ids):012X}",
        "chat": "628222@s.whatsapp.net",
        "sender": "628222@s.whatsapp.net",
        "sender_phone": "628222",
        "from_me": False,
        "is_group": False,
        "push_name": "Budi",
        "kind": "text",
        "text": "halo",
        "at": T0.isoformat(),
        "raw": {"key": {"remoteJid": "628222@s.whatsapp.net", "fromMe": False}, "message": {}},
    }
    data.update(fields)
    return data


def receive(instance: Instance, now: datetime = T0, **fields: Any) -> InboundMessage:
    """Store one received message for `instance` (as the worker would) and return its row."""
    stored = store_incoming(instance.pk, incoming(**fields), now)
    assert stored.message is not None
    return stored.message
