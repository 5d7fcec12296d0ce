"""The inbox's writes: store what a session received, apply edits, revokes and reactions to the
messages they refer to, prune by age. The only code that changes `InboundMessage` rows.

Each store happens inside the worker's transaction for the transport event (worker/lifecycle.py)
and emits its outbox event in that same transaction (docs/architecture.md, "The outbox"), so an
event exists exactly when its row does. WhatsApp may deliver a message twice (a reconnect, a
retry receipt): the second delivery stores nothing and emits nothing.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from inbox.models import InboundMessage
from instances.events import emit_event
from instances.models import Instance, InstanceEvent
from kernel.clock import parse_utc
from kernel.text import storable

logger = logging.getLogger("waziper.inbox")

Kind = InboundMessage.Kind
# A row keeps at most this much of the raw WhatsApp message (JSON, UTF-8 bytes).
RAW_MAX_BYTES = 16 * 1024
TEXT_MAX_CHARS = 100_000
UPDATE_KINDS = (Kind.EDIT, Kind.REVOKE, Kind.REACTION)
_KINDS = frozenset(Kind.values)


@dataclass(frozen=True)
class Stored:
    """What `store_incoming` did: the row (None when the data was unusable) and whether it is new."""

    message: InboundMessage | None
    created: bool


def store_incoming(instance_pk: int, data: dict[str, Any], now: datetime) -> Stored:
    """Store one received message (a transport's `incoming` event data) and emit its event:
    `message.received`, or `message.updated` for an edit, a revoke or a reaction (which also
    change the message they refer to). A message already stored for this instance is left as it
    is and emits nothing. Call it inside the transaction that handles the transport event."""
    wa_id = _str(data.get("message_id"), 128)
    if not wa_id:
        logger.warning("instance pk %s: an incoming message without an id was not stored", instance_pk)
        return Stored(None, False)
    existing = InboundMessage.objects.filter(instance_id=instance_pk, wa_message_id=wa_id).first()
    if existing is not None:
        return Stored(existing, False)
    message = _build(instance_pk, wa_id, data, now)
    try:
        with transaction.atomic():  # a savepoint: a racing duplicate leaves the outer work intact
            message.save(force_insert=True)
    except IntegrityError:
        duplicate = InboundMessage.objects.filter(instance_id=instance_pk, wa_message_id=wa_id).first()
        return Stored(duplicate, False)
    instance_id = Instance.objects.filter(pk=instance_pk).values_list("instance_id", flat=True).first() or ""
    if message.kind in UPDATE_KINDS:
        _apply_update(message, instance_id, data, now)
    else:
        emit_event(
            instance_pk, InstanceEvent.Kind.MESSAGE_RECEIVED, message_dict(message, instance_id), now=now
        )
    return Stored(message, True)


def _build(instance_pk: int, wa_id: str, data: dict[str, Any], now: datetime) -> InboundMessage:
    kind = data.get("kind")
    found = data.get("media")
    media: dict[str, Any] = found if isinstance(found, dict) else {}
    download, details, raw = media.get("download"), data.get("details"), data.get("raw")
    size = media.get("size")
    return InboundMessage(
        instance_id=instance_pk,
        wa_message_id=wa_id,
        chat=_str(data.get("chat"), 128),
        sender=_str(data.get("sender"), 128),
        sender_phone=_str(data.get("sender_phone"), 32),
        from_me=data.get("from_me") is True,
        is_group=data.get("is_group") is True,
        push_name=_str(data.get("push_name"), 255),
        kind=kind if isinstance(kind, str) and kind in _KINDS else Kind.OTHER,
        text=_str(data.get("text"), TEXT_MAX_CHARS),
        quoted_message_id=_str(data.get("quoted_message_id"), 128),
        target_message_id=_str(data.get("target_id"), 128),
        media_mimetype=_str(media.get("mimetype"), 255),
        media_size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        media_filename=_str(media.get("filename"), 255),
        media_sha256=_str(media.get("sha256"), 64),
        media_download=_clean(download) if isinstance(download, dict) else {},
        details=_clean(details) if isinstance(details, dict) else {},
        raw=bound_raw(_clean(raw)) if isinstance(raw, dict) else {},
        sent_at=parse_utc(data.get("at")) or now,
        received_at=now,
    )


def _apply_update(update: InboundMessage, instance_id: str, data: dict[str, Any], now: datetime) -> None:
    """An edit, revoke or reaction changes its target (when stored) and emits `message.updated`."""
    target = (
        InboundMessage.objects.filter(instance_id=update.instance_id, wa_message_id=update.target_message_id)
        .exclude(kind__in=UPDATE_KINDS)
        .first()
        if update.target_message_id
        else None
    )
    payload: dict[str, Any] = {"update": update.kind, "target_wa_message_id": update.target_message_id}
    if update.kind == Kind.EDIT:
        payload["previous_text"] = target.text if target is not None else None
        if target is not None:
            target.text, target.edited_at = update.text, update.sent_at
            target.save(update_fields=["text", "edited_at"])
    elif update.kind == Kind.REVOKE:
        if target is not None:
            target.revoked_at = update.sent_at
            target.save(update_fields=["revoked_at"])
    else:
        reaction = {"emoji": update.text, "sender": update.sender, "sender_phone": update.sender_phone}
        payload["reaction"] = reaction
        if target is not None:
            target.reactions = _react(target.reactions, update, reaction)
            target.save(update_fields=["reactions"])
    payload["message"] = message_dict(target, instance_id) if target is not None else None
    payload["update_message"] = message_dict(update, instance_id)
    emit_event(update.instance_id, InstanceEvent.Kind.MESSAGE_UPDATED, payload, now=now)


def _react(current: Any, update: InboundMessage, reaction: dict[str, str]) -> list[dict[str, Any]]:
    """One reaction per sender: a new one replaces theirs, an empty emoji takes it back."""
    who = update.sender or update.sender_phone
    kept = [r for r in (current if isinstance(current, list) else []) if r.get("sender") != who]
    if reaction["emoji"]:
        kept.append({**reaction, "sender": who, "at": _iso(update.sent_at)})
    return kept


def message_dict(message: InboundMessage, instance_id: str) -> dict[str, Any]:
    """A received message as GET /messages/<id> shows it, and as the outbox events carry it."""
    media = None
    if message.media_mimetype or message.media_size is not None or message.media_download:
        media = {
            "mimetype": message.media_mimetype,
            "size": message.media_size,
            "filename": message.media_filename,
            "sha256": message.media_sha256,
        }
    return {
        "id": message.api_id,
        "instance_id": instance_id,
        "direction": "in",
        "wa_message_id": message.wa_message_id,
        "chat": message.chat,
        "sender": message.sender,
        "sender_phone": message.sender_phone,
        "from_me": message.from_me,
        "is_group": message.is_group,
        "push_name": message.push_name,
        "kind": message.kind,
        "text": message.text,
        "media": media,
        "details": message.details or {},
        "quoted_message_id": message.quoted_message_id or None,
        "target_message_id": message.target_message_id or None,
        "reactions": message.reactions or [],
        "sent_at": _iso(message.sent_at),
        "received_at": _iso(message.received_at),
        "edited_at": _iso(message.edited_at),
        "revoked_at": _iso(message.revoked_at),
        "raw": message.raw or {},
    }


def prune(now: datetime) -> int:
    """Received messages older than WAZIPER_INBOX_RETENTION_DAYS (the worker's cleanup)."""
    before = now - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS)
    return InboundMessage.objects.filter(received_at__lt=before).delete()[0]


# -- the raw copy ------------------------------------------------------------------------------


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def bound_raw(raw: dict[str, Any], limit: int = RAW_MAX_BYTES) -> dict[str, Any]:
    """`raw` when its JSON fits in `limit` bytes. Otherwise the quoted message goes first (a reply
    carries a copy of what it quotes), then the message body; what was cut is marked
    `"truncated": {"bytes": <the original size>, "limit": …}`, and the key, time and push name
    stay, so a receiver still knows whose message it was."""
    size = _json_size(raw)
    if size <= limit:
        return raw
    marker = {"bytes": size, "limit": limit}
    message = raw.get("message")
    if isinstance(message, dict):
        trimmed = {name: _without_quote(part) for name, part in message.items()}
        smaller = {**raw, "message": trimmed, "truncated": marker}
        if _json_size(smaller) <= limit:
            return smaller
    kept: dict[str, Any] = {k: raw[k] for k in ("key", "messageTimestamp", "pushName") if k in raw}
    kept["truncated"] = marker
    if _json_size(kept) <= limit:
        return kept
    return {"truncated": marker}


def _without_quote(part: Any) -> Any:
    if not isinstance(part, dict) or not isinstance(part.get("contextInfo"), dict):
        return part
    context = {k: v for k, v in part["contextInfo"].items() if k != "quotedMessage"}
    return {**part, "contextInfo": context}


# -- coercion: the transport's data is trusted for shape, never for size ------------------------


def _str(value: Any, limit: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return storable(str(value))[:limit]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN, and PostgreSQL's jsonb refuses it
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
