"""The queue's side of sending: claims and every status change after them.

The worker's sender (worker/sender.py) decides *when*; these functions change
the rows. Every change is a conditional UPDATE on the status it expects (as healthchecks'
sendalerts claims flips), so two workers, or a worker and a person in the admin, can race on a
row and exactly one wins. Nothing here deletes a row.

States: queued → sending (claimed; `handed_off_at` once given to the session) → sent →
delivered → read; sending → queued (retry, or released before hand-off) | failed | uncertain.
A message handed off whose outcome we cannot know becomes `uncertain`, never silently re-sent,
unless WAZIPER_RESEND_UNCERTAIN says an occasional duplicate is preferable to a gap.

Each change an integration hears of (sent, delivered, read, failed, uncertain) also appends a
`message.status` outbox event, one per message, in the transaction of the change
(docs/architecture.md, "The outbox"): a webhook never reports a status that rolled back, nor
misses one that committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from instances.events import emit_event
from instances.models import Instance
from kernel.metrics import MESSAGES
from queueing import policy
from queueing.models import QueuedMessage

logger = logging.getLogger("waziper.queue")
Status = QueuedMessage.Status
IN_FLIGHT = (Status.SENDING, Status.UNCERTAIN)
CLAIM_FIELDS = (
    "pk",
    "message_id",
    "instance_id",
    "chat_id",
    "kind",
    "text",
    "media_url",
    "filename",
    "payload",
    "mentions",
    "typing_s",
)
ERROR_LIMIT = 2000
# Priority first, then whichever message has been due longest (a retry waits its turn behind
# messages that were due before its backoff ended), then arrival. Matches the queue_claim index.
CLAIM_ORDER = ("-priority", "not_before", "id")


@dataclass(frozen=True)
class Claimed:
    """A message this worker claimed, with what the session needs to send it."""

    pk: int
    message_id: uuid.UUID
    instance_id: int
    chat_id: str
    kind: str
    text: str
    media_url: str
    filename: str
    payload: dict[str, Any]
    mentions: list[str]
    typing_s: float | None
    handed_off: bool

    @property
    def ref(self) -> str:
        return str(self.message_id)

    @property
    def target_sent_at(self) -> datetime | None:
        """When the message a reaction, edit or delete acts on was sent (None: not ours, or none)."""
        sent_at = (self.payload.get("target") or {}).get("sent_at")
        return parse_datetime(sent_at) if isinstance(sent_at, str) else None


@dataclass(frozen=True)
class InstancePace:
    spacing: policy.Spacing
    last_handoff: datetime | None
    # The instance's default typing time before a send, in seconds (None, None: no typing).
    typing: tuple[float | None, float | None] = (None, None)


# What a message.status event says about the message (`instance__instance_id`: the public id).
STATUS_FIELDS = ("pk", "message_id", "instance_id", "instance__instance_id", "chat_id", "wa_message_id")


def _rows_to_change(rows: QuerySet[QueuedMessage]) -> list[dict]:
    """The rows a bulk change is about to touch, locked on PostgreSQL so the change matches
    exactly them (SQLite's IMMEDIATE transactions already hold the database's write lock)."""
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(of=("self",))
    return list(rows.values(*STATUS_FIELDS))


def _emit_status(
    row: dict,
    status: str,
    now: datetime,
    *,
    wa_message_id: str | None = None,
    error: str = "",
    at: datetime | None = None,
) -> None:
    payload = {
        "message_id": str(row["message_id"]),
        "instance_id": row["instance__instance_id"],
        "chat_id": row["chat_id"],
        "status": status,
        "wa_message_id": row["wa_message_id"] if wa_message_id is None else wa_message_id,
        "at": (at or now).isoformat(),
    }
    if error:
        payload["error"] = error[:500]
    emit_event(row["instance_id"], "message.status", payload, now=now)


def _due(now: datetime) -> QuerySet[QueuedMessage]:
    return QueuedMessage.objects.filter(status=Status.QUEUED, not_before__lte=now)


def instances_with_due(instance_pks: Iterable[int], now: datetime) -> set[int]:
    """Which of `instance_pks` have a message due now: one query, one index probe per instance
    (EXISTS stops at the first due row instead of counting a backlog)."""
    pks = list(instance_pks)
    if not pks:
        return set()
    due = QueuedMessage.objects.filter(instance_id=OuterRef("pk"), status=Status.QUEUED, not_before__lte=now)
    rows = Instance.objects.filter(pk__in=pks).filter(Exists(due)).order_by().values_list("pk", flat=True)
    return set(rows)


def default_spacing() -> policy.Spacing:
    return policy.spacing_for(None, None, settings.WAZIPER_SEND_DELAY_MIN, settings.WAZIPER_SEND_DELAY_MAX)


def pacing(instance_pks: Iterable[int]) -> dict[int, InstancePace]:
    """Each instance's send spacing and last hand-off, in one query, so spacing survives a
    worker restart instead of letting a fresh worker fire a burst."""
    last = (
        QueuedMessage.objects.filter(instance_id=OuterRef("pk"), handed_off_at__isnull=False)
        .order_by("-handed_off_at")
        .values("handed_off_at")[:1]
    )
    rows = (
        Instance.objects.filter(pk__in=list(instance_pks))
        .annotate(last_handoff=Subquery(last))
        .values_list("pk", "send_delay_min", "send_delay_max", "last_handoff", "typing_min_s", "typing_max_s")
    )
    return {
        pk: InstancePace(
            policy.spacing_for(low, high, settings.WAZIPER_SEND_DELAY_MIN, settings.WAZIPER_SEND_DELAY_MAX),
            last_handoff,
            (typing_min, typing_max),
        )
        for pk, low, high, last_handoff, typing_min, typing_max in rows
    }


def claim_next(instance_pk: int, worker_id: str, now: datetime) -> Claimed | None:
    """Claim the instance's next due message (see CLAIM_ORDER), or None.

    A text message is handed off in the same UPDATE (the session gets it right after); a media
    message is only claimed, and handed off once its download finished (`mark_handed_off`).
    """
    candidates = _due(now).filter(instance_id=instance_pk).order_by(*CLAIM_ORDER)
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: a row another worker is claiming is skipped rather than waited for.
        with transaction.atomic():
            row = candidates.select_for_update(skip_locked=True).values(*CLAIM_FIELDS).first()
            return _take(row, worker_id, now) if row else None
    # SQLite: select_for_update is a no-op; the conditional UPDATE alone decides the race.
    row = candidates.values(*CLAIM_FIELDS).first()
    return _take(row, worker_id, now) if row else None


def _take(row: dict, worker_id: str, now: datetime) -> Claimed | None:
    hand_off = not row["media_url"]
    won = QueuedMessage.objects.filter(pk=row["pk"], status=Status.QUEUED).update(
        status=Status.SENDING,
        claimed_by=worker_id,
        claimed_at=now,
        handed_off_at=now if hand_off else None,
        attempts=F("attempts") + (1 if hand_off else 0),
        updated_at=now,
    )
    if won != 1:
        return None
    return Claimed(**row, handed_off=hand_off)


def _mine(pk: int, worker_id: str) -> QuerySet[QueuedMessage]:
    return QueuedMessage.objects.filter(pk=pk, status=Status.SENDING, claimed_by=worker_id)


def mark_handed_off(pk: int, worker_id: str, now: datetime) -> bool:
    """Record that a claimed media message is being given to the session now. False: the claim
    was taken away meanwhile (orphan cleanup, an admin), so it must not be sent."""
    return bool(
        _mine(pk, worker_id)
        .filter(handed_off_at__isnull=True)
        .update(handed_off_at=now, attempts=F("attempts") + 1, updated_at=now)
    )


def release(pk: int, worker_id: str, now: datetime, reason: str = "") -> bool:
    """Give back a claim that never reached the session (it cannot have been sent)."""
    done = (
        _mine(pk, worker_id)
        .filter(handed_off_at__isnull=True)
        .update(status=Status.QUEUED, claimed_by="", not_before=now, updated_at=now)
    )
    if done and reason:
        logger.info("message %s back in the queue: %s", pk, reason)
    return bool(done)


def _by_ref(instance_pk: int, ref: object) -> QuerySet[QueuedMessage] | None:
    try:
        message_id = uuid.UUID(str(ref))
    except ValueError:
        return None
    return QueuedMessage.objects.filter(instance_id=instance_pk, message_id=message_id)


def record_sent(instance_pk: int, ref: object, wa_message_id: str, now: datetime) -> bool:
    """The session confirmed the send. Also settles a message that timed out into `uncertain`:
    a late confirmation is the truth."""
    rows = _by_ref(instance_pk, ref)
    if rows is None:
        return False
    wa_id = (wa_message_id or "")[:128]
    with transaction.atomic():
        changing = _rows_to_change(rows.filter(status__in=IN_FLIGHT))
        done = (
            QueuedMessage.objects.filter(pk__in=[row["pk"] for row in changing], status__in=IN_FLIGHT).update(
                status=Status.SENT, wa_message_id=wa_id, sent_at=now, updated_at=now
            )
            if changing
            else 0
        )
        for row in changing:
            _emit_status(row, Status.SENT, now, wa_message_id=wa_id)
    if done:
        MESSAGES.labels(outcome="sent").inc()
    return bool(done)


def record_failure(
    instance_pk: int,
    ref: object,
    worker_id: str,
    *,
    error: str,
    retryable: bool,
    dead_socket: bool = False,
    handed_off: bool = True,
    now: datetime,
    rand: policy.Rand,
) -> str | None:
    """A send (or, with handed_off=False, a media download) failed: retry later or fail.

    Returns the new status, or None if the row was no longer ours to change.
    """
    rows = _by_ref(instance_pk, ref)
    if rows is None:
        return None
    row = rows.filter(claimed_by=worker_id, status__in=IN_FLIGHT).values("pk", "status", "attempts").first()
    if row is None:
        return None
    tried = row["attempts"] + (0 if handed_off else 1)
    decision = policy.after_send_failure(
        attempts=tried,
        max_attempts=settings.WAZIPER_SEND_MAX_ATTEMPTS,
        retryable=retryable,
        dead_socket=dead_socket,
        now=now,
        rand=rand,
        base_s=settings.WAZIPER_SEND_RETRY_BASE,
        cap_s=settings.WAZIPER_SEND_RETRY_CAP,
    )
    attempts = tried if decision.counts_attempt else max(0, tried - 1)
    changes: dict[str, object] = {"attempts": attempts, "last_error": error[:ERROR_LIMIT], "updated_at": now}
    if decision.retry:
        new_status = Status.QUEUED
        changes.update(claimed_by="", handed_off_at=None, not_before=decision.not_before)
    else:
        new_status = Status.FAILED
        changes.update(failed_at=now)
    with transaction.atomic():
        done = QueuedMessage.objects.filter(
            pk=row["pk"], status=row["status"], attempts=row["attempts"]
        ).update(status=new_status, **changes)
        if done and new_status == Status.FAILED:
            failed = QueuedMessage.objects.filter(pk=row["pk"]).values(*STATUS_FIELDS).first()
            if failed is not None:
                _emit_status(failed, Status.FAILED, now, error=error)
    if not done:
        return None
    MESSAGES.labels(outcome="retry" if decision.retry else "failed").inc()
    logger.info("message %s: %s (%s): %s", ref, new_status, decision.reason, error[:200])
    return new_status


def _settle_unknown(rows: QuerySet[QueuedMessage], now: datetime, reason: str) -> int:
    """Handed-off messages whose outcome is unknown: `uncertain`, or queued again if the operator
    chose WAZIPER_RESEND_UNCERTAIN."""
    if settings.WAZIPER_RESEND_UNCERTAIN:
        done = rows.update(
            status=Status.QUEUED,
            claimed_by="",
            handed_off_at=None,
            not_before=now,
            last_error=f"re-sent after: {reason}"[:ERROR_LIMIT],
            updated_at=now,
        )
        outcome = "resent"
    else:
        with transaction.atomic():
            changing = _rows_to_change(rows)
            done = (
                QueuedMessage.objects.filter(pk__in=[row["pk"] for row in changing]).update(
                    status=Status.UNCERTAIN, uncertain_at=now, last_error=reason[:ERROR_LIMIT], updated_at=now
                )
                if changing
                else 0
            )
            for row in changing:
                _emit_status(row, Status.UNCERTAIN, now, error=reason)
        outcome = "uncertain"
    if done:
        MESSAGES.labels(outcome=outcome).inc(done)
    return done


def mark_uncertain(pk: int, worker_id: str, now: datetime, reason: str) -> bool:
    return bool(_settle_unknown(_mine(pk, worker_id).filter(handed_off_at__isnull=False), now, reason))


def _settle_claims(rows: QuerySet[QueuedMessage], now: datetime, reason: str, whose: str) -> int:
    """Claims nobody will finish: never handed off → back to the queue (they cannot have been
    sent); handed off → see _settle_unknown. Returns how many rows changed."""
    released = rows.filter(handed_off_at__isnull=True).update(
        status=Status.QUEUED, claimed_by="", not_before=now, updated_at=now
    )
    unknown = _settle_unknown(rows.filter(handed_off_at__isnull=False), now, reason)
    if released or unknown:
        logger.warning(
            "queue: %d claim(s) of %s back in the queue, %d message(s) %s (%s)",
            released,
            whose,
            unknown,
            "re-queued (WAZIPER_RESEND_UNCERTAIN)" if settings.WAZIPER_RESEND_UNCERTAIN else "uncertain",
            reason,
        )
    return released + unknown


def resolve_orphans(live_worker_ids: set[str], now: datetime) -> int:
    """Settle messages left `sending` by workers that are gone (the cleanup step calls this)."""
    orphans = QueuedMessage.objects.filter(status=Status.SENDING).exclude(
        claimed_by__in=list(live_worker_ids)
    )
    return _settle_claims(orphans, now, "the worker sending it stopped before a result", "dead workers")


def resolve_forgotten(worker_id: str, tracked: Iterable[int], claimed_before: datetime, now: datetime) -> int:
    """Settle this live worker's own claims it no longer tracks (a crash between a claim and its
    bookkeeping): without this they would stay `sending` for as long as the worker lives."""
    rows = QueuedMessage.objects.filter(
        status=Status.SENDING, claimed_by=worker_id, claimed_at__lt=claimed_before
    ).exclude(pk__in=list(tracked))
    return _settle_claims(rows, now, "its worker lost track of the send", "this worker")


def apply_receipt(
    instance_pk: int, wa_message_ids: Iterable[str], kind: str, at: datetime, now: datetime
) -> int:
    """Move sent → delivered → read by WhatsApp's ids; never backwards (a late `delivered` for a
    message already read changes nothing)."""
    ids = [str(i) for i in wa_message_ids if i]
    if not ids:
        return 0
    rows = QueuedMessage.objects.filter(instance_id=instance_pk, wa_message_id__in=ids)
    if kind == "delivered":
        before: tuple[str, ...] = (Status.SENT,)
        new_status: str = Status.DELIVERED
        changes: dict[str, object] = {"delivered_at": at}
    elif kind in ("read", "played"):
        before = (Status.SENT, Status.DELIVERED)
        new_status = Status.READ
        changes = {"read_at": at, "delivered_at": Coalesce(F("delivered_at"), Value(at))}
    else:
        return 0
    with transaction.atomic():
        changing = _rows_to_change(rows.filter(status__in=before))
        if not changing:
            return 0
        done = QueuedMessage.objects.filter(pk__in=[row["pk"] for row in changing], status__in=before).update(
            status=new_status, updated_at=now, **changes
        )
        for row in changing:
            _emit_status(row, new_status, now, at=at)
    return done
