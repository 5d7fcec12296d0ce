"""Putting messages into the queue and taking them out of it by hand (cancel, requeue).

Enqueue never talks to WhatsApp: it validates (see validation.py), writes rows in one transaction
and returns. A locked or full database surfaces as QueueUnavailable with nothing written, which
the API answers with 503 so the client retries rather than assuming the message is queued.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from instances.models import Instance
from queueing import references
from queueing.models import QueuedMessage
from queueing.validation import MessageDraft

logger = logging.getLogger("waziper.queue")
Status = QueuedMessage.Status
REQUEUEABLE = (Status.FAILED, Status.UNCERTAIN, Status.CANCELLED)


class QueueUnavailable(Exception):
    """The database refused the write (locked, full, gone); nothing was queued."""


class IdempotencyConflict(Exception):
    """An Idempotency-Key already used for a different request."""


@dataclass(frozen=True)
class Enqueued:
    messages: list[QueuedMessage]
    created: bool  # False: an Idempotency-Key replay returned earlier messages
    bulk_id: uuid.UUID | None = None

    @property
    def message(self) -> QueuedMessage:
        return self.messages[0]


def _row(instance: Instance, draft: MessageDraft, now: datetime, **extra: object) -> QueuedMessage:
    return QueuedMessage(
        instance=instance,
        chat_id=draft.chat_id,
        kind=draft.kind,
        text=draft.text,
        media_url=draft.media_url,
        filename=draft.filename,
        payload=draft.payload,
        quoted_message_id=draft.quoted_message_id,
        mentions=list(draft.mentions),
        typing_s=draft.typing_s,
        priority=draft.priority,
        status=Status.QUEUED,
        not_before=now,
        created_at=now,
        **extra,
    )


def _replay(instance: Instance, key: str, request_hash: str) -> Enqueued | None:
    first = QueuedMessage.objects.filter(instance=instance, idempotency_key=key).first()
    if first is None:
        return None
    if first.request_hash and first.request_hash != request_hash:
        raise IdempotencyConflict(key)
    if first.bulk_id is None:
        return Enqueued([first], created=False)
    rows = list(QueuedMessage.objects.filter(bulk_id=first.bulk_id).order_by("id"))
    return Enqueued(rows, created=False, bulk_id=first.bulk_id)


def _write(
    instance: Instance, rows: list[QueuedMessage], replay_key: str | None, request_hash: str
) -> Enqueued | None:
    """Insert `rows` atomically; None if a concurrent request with the same key won the race."""
    try:
        with transaction.atomic():
            if len(rows) == 1:
                rows[0].save(force_insert=True)
            else:
                QueuedMessage.objects.bulk_create(rows)
    except IntegrityError:
        # Only the per-instance key constraint can collide here: another request with the same
        # Idempotency-Key committed first. Answer with its messages, never a second set.
        if replay_key is None:
            raise
        return None
    except (OperationalError, InterfaceError) as exc:
        logger.warning("enqueue for %s refused by the database: %s", instance.instance_id, exc)
        raise QueueUnavailable(str(exc)) from exc
    return Enqueued(rows, created=True, bulk_id=rows[0].bulk_id)


def _guarded(instance: Instance, key: str | None, request_hash: str, rows: list[QueuedMessage]) -> Enqueued:
    replay_key = None if key is None else rows[0].idempotency_key
    try:
        if replay_key is not None and (earlier := _replay(instance, replay_key, request_hash)):
            return earlier
        written = _write(instance, rows, replay_key, request_hash)
        if written is None:
            earlier = _replay(instance, replay_key or "", request_hash)
            if earlier is None:  # the winner rolled back after all: nothing to replay
                raise QueueUnavailable("concurrent request with the same Idempotency-Key")
            return earlier
        return written
    except (OperationalError, InterfaceError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def enqueue(
    instance: Instance,
    draft: MessageDraft,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Enqueued:
    """Queue one validated message. With `idempotency_key`, a repeat returns the first message.

    A message naming another (a reaction, an edit, a delete, a reply) is resolved here
    (queueing/references.py), after the replay check: a repeat answers with the first message
    even once the message it named is past WhatsApp's window. Raises django's ValidationError
    naming `target_message_id` or `quoted_message_id` when that message cannot be acted on.
    """
    now = now or timezone.now()
    request_hash = draft.fingerprint() if idempotency_key else ""
    if draft.target_message_id or draft.quoted_message_id:
        try:
            if idempotency_key is not None and (earlier := _replay(instance, idempotency_key, request_hash)):
                return earlier
            draft = references.resolve(instance, draft, now)
        except (OperationalError, InterfaceError) as exc:
            raise QueueUnavailable(str(exc)) from exc
    row = _row(instance, draft, now, idempotency_key=idempotency_key, request_hash=request_hash)
    return _guarded(instance, idempotency_key, request_hash, [row])


def enqueue_bulk(
    instance: Instance,
    drafts: Sequence[MessageDraft],
    *,
    idempotency_key: str | None = None,
    request_hash: str = "",
    now: datetime | None = None,
) -> Enqueued:
    """Queue many messages in one transaction: all of them or none.

    A bulk's Idempotency-Key is stored per row as `<key>#<index>` (the uniqueness constraint is
    per row); `request_hash` should fingerprint the request (template and recipients), not the
    rendered texts, since spintax renders differently each time.
    """
    if not drafts:
        raise ValueError("a bulk needs at least one message")
    now = now or timezone.now()
    bulk_id = uuid.uuid4()
    rows = [
        _row(
            instance,
            draft,
            now,
            bulk_id=bulk_id,
            idempotency_key=f"{idempotency_key}#{index}" if idempotency_key else None,
            request_hash=request_hash if idempotency_key else "",
        )
        for index, draft in enumerate(drafts)
    ]
    return _guarded(instance, idempotency_key, request_hash, rows)


def find_bulk_replay(instance: Instance, idempotency_key: str, request_hash: str) -> Enqueued | None:
    """The bulk already queued under `idempotency_key` (for this request), or None; raises
    IdempotencyConflict if the key was used for another request. For a caller that has work to
    skip on a replay (checking recipients) before it calls enqueue_bulk."""
    try:
        return _replay(instance, f"{idempotency_key}#0", request_hash)
    except (OperationalError, InterfaceError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def cancel(message: QueuedMessage, *, now: datetime | None = None) -> bool:
    """Cancel a message that is still queued; False (and the row unchanged) otherwise."""
    now = now or timezone.now()
    done = QueuedMessage.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, cancelled_at=now, updated_at=now
    )
    message.refresh_from_db()
    return bool(done)


def cancel_queued(queryset: QuerySet[QueuedMessage], *, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return queryset.filter(status=Status.QUEUED).update(
        status=Status.CANCELLED, cancelled_at=now, updated_at=now
    )


def requeue(queryset: QuerySet[QueuedMessage], *, now: datetime | None = None) -> int:
    """Put failed, uncertain or cancelled messages back in the queue with fresh attempts.

    Requeueing an `uncertain` message is a person's decision to risk a duplicate: it may already
    have reached the recipient.
    """
    now = now or timezone.now()
    return queryset.filter(status__in=REQUEUEABLE).update(
        status=Status.QUEUED,
        not_before=now,
        attempts=0,
        claimed_by="",
        handed_off_at=None,
        updated_at=now,
    )
