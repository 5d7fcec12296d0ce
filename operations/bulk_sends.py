"""A bulk send that skips recipients without WhatsApp (`/send_bulk` with skip_not_on_whatsapp).

Messages to numbers without WhatsApp can never arrive, and sending them is how accounts get
banned. So the phone numbers among the recipients are checked first (operations/contacts.py:
the directory's cache, then the live session for the rest), and only messages to numbers that
have WhatsApp, or to chats that are not phone numbers (groups), are queued.

The check needs the session for every number the cache does not know: when it cannot answer,
nothing is queued and the caller gets SessionUnavailable or SessionTimeout (the API's 503 and
504), since queueing unchecked messages is what the option asked not to do. A replay of an
Idempotency-Key answers from the queue without checking again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from instances.models import Instance
from operations import contacts
from queueing import enqueue
from queueing.models import QueuedMessage
from queueing.validation import MessageDraft

NOT_ON_WHATSAPP = "not_on_whatsapp"
_PHONE_CHAT_RE = re.compile(r"^([0-9]{5,20})(?:@s\.whatsapp\.net)?$")


@dataclass(frozen=True)
class Skipped:
    index: int  # in the request's list
    recipient: str
    reason: str


@dataclass(frozen=True)
class BulkOutcome:
    enqueued: enqueue.Enqueued | None  # None: every recipient was skipped, nothing queued
    skipped: list[Skipped]


def phone_of(chat_id: str) -> str | None:
    """The phone number a (normalized) chat id stands for; None for groups and other chats."""
    match = _PHONE_CHAT_RE.match(chat_id)
    return match.group(1) if match else None


def enqueue_bulk_to_whatsapp_users(
    instance: Instance,
    drafts: Sequence[MessageDraft],
    *,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> BulkOutcome:
    """Queue the drafts whose recipients have WhatsApp, in one transaction; say which were
    skipped. Raises what enqueue_bulk raises, and the session's SessionUnavailable,
    SessionTimeout or SessionRefused when the numbers cannot be checked."""
    if idempotency_key and (earlier := enqueue.find_bulk_replay(instance, idempotency_key, request_hash)):
        return BulkOutcome(earlier, skipped_in_replay(drafts, earlier.messages))
    phones = [phone for draft in drafts if (phone := phone_of(draft.chat_id))]
    checked = contacts.check_numbers(instance, phones) if phones else []
    without = {c.number.phone for c in checked if not c.number.on_whatsapp}
    kept: list[MessageDraft] = []
    skipped: list[Skipped] = []
    for index, draft in enumerate(drafts):
        if phone_of(draft.chat_id) in without:
            skipped.append(Skipped(index, draft.chat_id, NOT_ON_WHATSAPP))
        else:
            kept.append(draft)
    if not kept:
        return BulkOutcome(None, skipped)
    queued = enqueue.enqueue_bulk(instance, kept, idempotency_key=idempotency_key, request_hash=request_hash)
    if not queued.created:  # a concurrent request with the same key queued first
        return BulkOutcome(queued, skipped_in_replay(drafts, queued.messages))
    return BulkOutcome(queued, skipped)


def skipped_in_replay(drafts: Sequence[MessageDraft], messages: Sequence[QueuedMessage]) -> list[Skipped]:
    """Which drafts the first request skipped: those its queued messages, which kept the
    request's order, do not account for (whether a number has WhatsApp decided it, and the
    repeats of a number shared its fate)."""
    skipped, queued = [], 0
    for index, draft in enumerate(drafts):
        if queued < len(messages) and messages[queued].chat_id == draft.chat_id:
            queued += 1
        else:
            skipped.append(Skipped(index, draft.chat_id, NOT_ON_WHATSAPP))
    return skipped
