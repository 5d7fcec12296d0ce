"""Messages that name another message: a reaction, an edit or a delete (its `target`) and a
reply (the message it quotes). Resolved when queued, so a client hears at once of a message
that does not exist, is not this instance's to change, or is past WhatsApp's window.

A message is named by this API's message_id or by WhatsApp's id. Either finds one of this
instance's own sent messages; a WhatsApp id that is not one of them is taken to be a message
the other person sent in `chat_id` (this gateway does not store received messages yet, so it
cannot tell such an id from a mistyped one). Only in a one-to-one chat: in a group WhatsApp
needs the original sender, which is then unknown.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from instances.models import Instance
from queueing import policy
from queueing.models import QueuedMessage
from queueing.validation import TARGET_KINDS, MessageDraft, full_jid, is_group, is_uuid

Kind = QueuedMessage.Kind
# What a quoted message's bubble can show of one of ours (the rest of its payload stays here).
QUOTED_TEXT_LIMIT = 1_024
_VERBS = {Kind.REACTION: "reacted to", Kind.EDIT: "edited", Kind.DELETE: "deleted", "reply": "quoted"}


def resolve(instance: Instance, draft: MessageDraft, now: datetime) -> MessageDraft:
    """`draft` with payload["target"] and payload["quoted"] filled in; a ValidationError names
    `target_message_id` or `quoted_message_id` when the message cannot be acted on."""
    errors: dict[str, list[str]] = {}
    payload = dict(draft.payload)
    if draft.target_message_id:
        try:
            payload["target"] = _target(instance, draft, now)
        except ValidationError as exc:
            errors["target_message_id"] = exc.messages
    if draft.quoted_message_id:
        try:
            payload["quoted"] = _quoted(instance, draft)
        except ValidationError as exc:
            errors["quoted_message_id"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return replace(draft, payload=payload)


def _own(instance: Instance, ref: str) -> QueuedMessage | None:
    rows = QueuedMessage.objects.filter(instance=instance)
    if is_uuid(ref):
        return rows.filter(message_id=uuid.UUID(ref)).first()
    # One WhatsApp id names one message; should two rows carry it, the latest send is the one.
    return rows.filter(wa_message_id=ref).order_by("-sent_at", "-id").first()


def same_chat(a: str, b: str) -> bool:
    return full_jid(a) == full_jid(b)


def _sent(row: QueuedMessage, chat_id: str, verb: str) -> None:
    if not row.wa_message_id:
        raise ValidationError(
            f"This message has not been sent yet (it is {row.status}): it can be {verb} once it has."
        )
    if row.kind in TARGET_KINDS:
        raise ValidationError(f"A {row.kind} is not a message that can be {verb}.")
    if not same_chat(row.chat_id, chat_id):
        raise ValidationError(f"This message went to {row.chat_id}, not to chat_id {chat_id}.")


def _unknown(kind: str, ref: str, chat_id: str) -> None:
    """Raise unless a WhatsApp id this instance did not send may stand for the other person's."""
    verb = _VERBS[kind]
    if kind in (Kind.EDIT, Kind.DELETE):
        raise ValidationError(f"No message sent by this instance has this id: only those can be {verb}.")
    if is_uuid(ref):
        raise ValidationError("No message of this instance has this message_id.")
    if is_group(chat_id):
        raise ValidationError(
            f"In a group, a message can be {verb} here only by the id of one this instance sent "
            "(WhatsApp needs the original sender, which is not known for others)."
        )


def _ours(ref: str, row: QueuedMessage) -> dict[str, Any]:
    """A message this instance sent, as a reference to it."""
    return {
        "ref": ref,
        "message_id": str(row.message_id),
        "wa_message_id": row.wa_message_id,
        "chat_id": row.chat_id,
        "from_me": True,
        "sender": "",
    }


def _theirs(ref: str, chat_id: str) -> dict[str, Any]:
    """Someone else's message in a one-to-one chat, by its WhatsApp id: its sender is the
    chat's other person."""
    return {
        "ref": ref,
        "message_id": "",
        "wa_message_id": ref,
        "chat_id": chat_id,
        "from_me": False,
        "sender": full_jid(chat_id),
    }


def _target(instance: Instance, draft: MessageDraft, now: datetime) -> dict[str, Any]:
    ref, kind = draft.target_message_id, draft.kind
    row = _own(instance, ref)
    if row is None:
        _unknown(kind, ref, draft.chat_id)
        return {**_theirs(ref, draft.chat_id), "sent_at": None}
    _sent(row, draft.chat_id, _VERBS[kind])
    if kind == Kind.EDIT and row.kind != Kind.TEXT:
        raise ValidationError(f"Only text messages can be edited (this one is {row.kind}).")
    if reason := policy.window_closed(kind, row.sent_at, now):
        raise ValidationError(reason)
    return {**_ours(ref, row), "sent_at": row.sent_at.isoformat() if row.sent_at else None}


def _quoted(instance: Instance, draft: MessageDraft) -> dict[str, Any]:
    ref = draft.quoted_message_id
    row = _own(instance, ref)
    if row is None:
        _unknown("reply", ref, draft.chat_id)
        return {**_theirs(ref, draft.chat_id), "kind": "", "text": ""}
    _sent(row, draft.chat_id, _VERBS["reply"])
    content = {k: v for k, v in row.payload.items() if k not in ("target", "quoted")}
    return {
        **_ours(ref, row),
        "kind": row.kind,
        "text": row.text[:QUOTED_TEXT_LIMIT],
        **({"content": content} if content else {}),
    }
