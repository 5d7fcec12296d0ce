"""Delivery rows from claim to outcome, and the endpoint breaker transitions they cause.

A deliverer (webhooks/deliverer.py) decides *when*; these functions change the rows. A claim is
a lease: `lease_owner`, `lease_expires_at`, and `next_attempt_at` moved to the lease's end, so a
deliverer that dies leaves its deliveries due again once the lease lapses, and another takes
them with the same `webhook-id` (at least once). Every change is conditional on what was read
(the lease owner, or "still due"), so two deliverers racing for a row cannot both win; on
PostgreSQL the claim also skips rows another deliverer is locking (SKIP LOCKED).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When

from breaker import policy as breaker_policy
from breaker.policy import BreakerConfig, Verdict
from kernel.metrics import WEBHOOK_BREAKER_TRANSITIONS, WEBHOOK_DELIVERIES
from webhooks import formats, policy
from webhooks.models import WebhookDelivery, WebhookEndpoint, webhook_id

logger = logging.getLogger("waziper.webhooks")
Status = WebhookDelivery.Status
Breaker = WebhookEndpoint.Breaker
ERROR_LIMIT = 500
EVENT_GONE = "the event is no longer kept in the outbox (WAZIPER_EVENT_RETENTION_DAYS)"


def breaker_config() -> BreakerConfig:
    return policy.breaker_config(
        settings.WAZIPER_WEBHOOK_BREAKER_THRESHOLD,
        settings.WAZIPER_WEBHOOK_BREAKER_COOLDOWN,
        settings.WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN,
        settings.WAZIPER_WEBHOOK_LEASE_TTL,
    )


def _breaker_of(row: dict) -> policy.EndpointBreaker:
    return policy.EndpointBreaker(
        state=row["breaker_state"],
        consecutive_failures=row["consecutive_failures"],
        trips=row["trips"],
        open_until=row["open_until"],
        probe_lease_until=row["probe_lease_until"],
        closed_at=row["closed_at"],
    )


_BREAKER_FIELDS = (
    "pk",
    "breaker_state",
    "consecutive_failures",
    "trips",
    "open_until",
    "probe_lease_until",
    "closed_at",
)


@dataclass(frozen=True)
class DueEndpoint:
    pk: int
    breaker: policy.EndpointBreaker


def due_endpoints(now: datetime) -> list[DueEndpoint]:
    """Enabled endpoints with a delivery due now: one query, one index probe per endpoint."""
    due = WebhookDelivery.objects.filter(endpoint_id=OuterRef("pk"), next_attempt_at__lte=now)
    rows = (
        WebhookEndpoint.objects.filter(enabled=True)
        .filter(Exists(due))
        .order_by("pk")
        .values(*_BREAKER_FIELDS)
    )
    return [DueEndpoint(row["pk"], _breaker_of(row)) for row in rows]


def claim(endpoint_pk: int, owner: str, limit: int, now: datetime, lease_s: float) -> list[int]:
    """Lease up to `limit` of the endpoint's due deliveries, the longest due first."""
    if limit < 1:
        return []
    lease_until = now + timedelta(seconds=lease_s)
    due = WebhookDelivery.objects.filter(endpoint_id=endpoint_pk, next_attempt_at__lte=now).order_by(
        "next_attempt_at", "id"
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        pks = list(due.values_list("pk", flat=True)[:limit])
        if not pks:
            return []
        # "Still due" is the condition: a row another deliverer leased meanwhile has its
        # next_attempt_at at that lease's end, after `now`.
        won = WebhookDelivery.objects.filter(pk__in=pks, next_attempt_at__lte=now).update(
            status=Status.DELIVERING,
            lease_owner=owner,
            lease_expires_at=lease_until,
            next_attempt_at=lease_until,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
        if won != len(pks):
            pks = list(
                WebhookDelivery.objects.filter(
                    pk__in=pks, lease_owner=owner, lease_expires_at=lease_until
                ).values_list("pk", flat=True)
            )
    return sorted(pks, key=pks.index)


def claim_probe(endpoint: DueEndpoint, owner: str, now: datetime, lease_s: float) -> list[int]:
    """The breaker's cooldown is over: take the one probe (half-open), then its one delivery."""
    breaker = endpoint.breaker
    lease_until = now + timedelta(seconds=lease_s)
    with transaction.atomic():
        took = WebhookEndpoint.objects.filter(
            pk=endpoint.pk,
            breaker_state=breaker.state,
            open_until=breaker.open_until,
            probe_lease_until=breaker.probe_lease_until,
        ).update(
            breaker_state=Breaker.HALF_OPEN, probe_owner=owner, probe_lease_until=lease_until, updated_at=now
        )
        if not took:
            return []
        WEBHOOK_BREAKER_TRANSITIONS.labels(to_state=Breaker.HALF_OPEN).inc()
        logger.info("webhook endpoint %s: breaker half-open, one probe by %s", endpoint.pk, owner)
        return claim(endpoint.pk, owner, 1, now, lease_s)


def renew(owner: str, pks: Iterable[int], now: datetime, lease_s: float) -> int:
    """Extend this deliverer's leases on the deliveries it still holds."""
    held = list(pks)
    if not held:
        return 0
    until = now + timedelta(seconds=lease_s)
    return WebhookDelivery.objects.filter(pk__in=held, lease_owner=owner, status=Status.DELIVERING).update(
        lease_expires_at=until, next_attempt_at=until
    )


def _release(rows: Iterable[int] | None, owner: str, *, uncount: bool) -> int:
    query = WebhookDelivery.objects.filter(lease_owner=owner, status=Status.DELIVERING)
    if rows is not None:
        query = query.filter(pk__in=list(rows))
    attempts = F("attempts") - 1 if uncount else F("attempts")
    done = query.update(
        status=Case(
            When(attempts__lte=1 if uncount else 0, then=Value(Status.PENDING)), default=Value(Status.FAILED)
        ),
        attempts=attempts,
        lease_owner="",
        lease_expires_at=None,
        # Due at once, and as of its event's time: it keeps its place in the backlog's order.
        next_attempt_at=F("created_at"),
    )
    if done:
        WEBHOOK_DELIVERIES.labels(outcome="released").inc(done)
    return done


def release_unstarted(owner: str, pks: Iterable[int]) -> int:
    """Give back leased deliveries that were never posted: due at once, the attempt uncounted."""
    return _release(pks, owner, uncount=True)


def release_all_of(owner: str) -> int:
    """A deliverer starting under the name of one that died takes back what it held: due at once
    (some may have been posted already: they go again with the same webhook-id)."""
    return _release(None, owner, uncount=False)


# --- what to post ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A leased delivery with everything its POST needs (built before the thread posts it)."""

    pk: int
    endpoint_pk: int
    url: str
    webhook_id: str
    body: str | None  # None: nothing can be posted (the event is gone)
    secrets: tuple[str, ...]
    attempts: int


def signing_secrets(
    secret: str, previous: str, previous_until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign now: the endpoint's, and the previous one during a rotation's overlap."""
    if previous and previous_until and previous_until > now:
        return (secret, previous)
    return (secret,)


_JOB_FIELDS = (
    "pk",
    "endpoint_id",
    "attempts",
    "event_type",
    "payload",
    "created_at",
    "event_id",
    "event__kind",
    "event__payload",
    "event__created_at",
    "event__instance__instance_id",
)
_ENDPOINT_FIELDS = (
    "pk",
    "url",
    "format",
    "secret",
    "previous_secret",
    "previous_secret_until",
    "instance__instance_id",
)


def event_of(row: dict, endpoint: dict) -> formats.Event | None:
    """What a delivery's body is made from: its outbox event, or its own payload (a test)."""
    if row["payload"] is not None:
        return formats.Event(
            type=row["event_type"],
            kind=row["event_type"],
            payload=row["payload"],
            instance_id=endpoint["instance__instance_id"],
            created_at=row["created_at"],
        )
    if row["event__kind"] is None:
        return None  # pruned from the outbox
    return formats.Event(
        type=row["event_type"],
        kind=row["event__kind"],
        payload=row["event__payload"],
        instance_id=row["event__instance__instance_id"],
        created_at=row["event__created_at"],
    )


def load_jobs(pks: Sequence[int], now: datetime) -> list[Job]:
    """The jobs of leased deliveries, in the order given: two queries, whatever their number."""
    rows = {row["pk"]: row for row in WebhookDelivery.objects.filter(pk__in=list(pks)).values(*_JOB_FIELDS)}
    endpoint_pks = {row["endpoint_id"] for row in rows.values()}
    endpoints = {
        e["pk"]: e for e in WebhookEndpoint.objects.filter(pk__in=endpoint_pks).values(*_ENDPOINT_FIELDS)
    }
    jobs = []
    for pk in pks:
        row = rows.get(pk)
        endpoint = endpoints.get(row["endpoint_id"]) if row is not None else None
        if row is None or endpoint is None:
            continue  # deleted with its endpoint meanwhile
        event = event_of(row, endpoint)
        jobs.append(
            Job(
                pk=pk,
                endpoint_pk=endpoint["pk"],
                url=endpoint["url"],
                webhook_id=webhook_id(row["event_id"], pk),
                body=formats.body(endpoint["format"], event) if event is not None else None,
                secrets=signing_secrets(
                    endpoint["secret"], endpoint["previous_secret"], endpoint["previous_secret_until"], now
                ),
                attempts=row["attempts"],
            )
        )
    return jobs


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one POST came to. `status_code` None: no HTTP answer (`error` says why)."""

    pk: int
    endpoint_pk: int
    attempts: int
    status_code: int | None
    error: str = ""
    excerpt: str = ""
    retry_after_s: float | None = None
    unsendable: bool = False  # nothing to post: dead at once


def record(results: Sequence[Attempt], owner: str, now: datetime, rand: Callable[[], float]) -> None:
    """Write the outcomes of finished attempts and the breaker transitions they cause, in one
    transaction. An outcome for a lease this deliverer no longer holds changes nothing."""
    if not results:
        return
    successes: dict[int, int] = {}
    failures: dict[int, int] = {}
    gone: set[int] = set()
    with transaction.atomic():
        delivered = [
            r
            for r in results
            if not r.unsendable and policy.verdict(r.status_code) is policy.Verdict.DELIVERED
        ]
        _record_delivered(delivered, owner, now)
        for result in delivered:
            successes[result.endpoint_pk] = successes.get(result.endpoint_pk, 0) + 1
        delivered_pks = {result.pk for result in delivered}
        for result in results:
            if result.pk in delivered_pks:
                continue
            if _record_failure(result, owner, now, rand) and not result.unsendable:
                failures[result.endpoint_pk] = failures.get(result.endpoint_pk, 0) + 1
                if policy.verdict(result.status_code) is policy.Verdict.GONE:
                    gone.add(result.endpoint_pk)
        _apply_breakers(successes, failures, now, rand)
        for endpoint_pk in gone:
            _disable_gone(endpoint_pk, now)


def _record_delivered(results: Sequence[Attempt], owner: str, now: datetime) -> None:
    groups: dict[tuple[int | None, str], list[int]] = {}
    for result in results:
        groups.setdefault((result.status_code, result.excerpt), []).append(result.pk)
    for (code, excerpt), pks in groups.items():
        done = WebhookDelivery.objects.filter(pk__in=pks, lease_owner=owner, status=Status.DELIVERING).update(
            status=Status.DELIVERED,
            delivered_at=now,
            last_status_code=code,
            last_response_excerpt=excerpt,
            last_error="",
            next_attempt_at=None,
            lease_owner="",
            lease_expires_at=None,
        )
        WEBHOOK_DELIVERIES.labels(outcome="delivered").inc(done)


def _describe(result: Attempt) -> str:
    if result.status_code is None:
        return result.error or "no answer"
    return f"HTTP {result.status_code}" + (f": {result.error}" if result.error else "")


def _record_failure(result: Attempt, owner: str, now: datetime, rand: Callable[[], float]) -> bool:
    verdict = policy.verdict(result.status_code)
    if result.unsendable:
        next_at, outcome = None, "dead"
    elif verdict is policy.Verdict.GONE:
        # Due again as soon as someone re-enables the endpoint; until then it is not claimed.
        next_at, outcome = now, "gone"
    else:
        next_at = policy.next_attempt_at(
            result.attempts,
            now,
            rand(),
            retry_after_s=result.retry_after_s,
            retry_after_cap_s=settings.WAZIPER_WEBHOOK_RETRY_AFTER_CAP,
            scale=settings.WAZIPER_WEBHOOK_RETRY_SCALE,
        )
        outcome = "retry" if next_at is not None else "dead"
    done = WebhookDelivery.objects.filter(pk=result.pk, lease_owner=owner, status=Status.DELIVERING).update(
        status=Status.DEAD if next_at is None else Status.FAILED,
        next_attempt_at=next_at,
        last_status_code=result.status_code,
        last_error=_describe(result)[:ERROR_LIMIT],
        last_response_excerpt=result.excerpt,
        lease_owner="",
        lease_expires_at=None,
    )
    if done:
        WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
        if outcome == "dead":
            logger.warning(
                "webhook delivery %s is dead after %d attempt(s): %s",
                result.pk,
                result.attempts,
                _describe(result),
            )
    return bool(done)


def _apply_breakers(
    successes: dict[int, int], failures: dict[int, int], now: datetime, rand: Callable[[], float]
) -> None:
    touched = set(successes) | set(failures)
    if not touched:
        return
    rows = WebhookEndpoint.objects.filter(pk__in=touched)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update()
    config = breaker_config()
    for row in rows.values(*_BREAKER_FIELDS):
        pk, breaker = row["pk"], _breaker_of(row)
        if successes.get(pk):
            # One success in the batch: the receiver is up.
            if breaker.state != Breaker.CLOSED:
                _close(pk, breaker, now)
            elif breaker.consecutive_failures:
                WebhookEndpoint.objects.filter(pk=pk).update(consecutive_failures=0)
            continue
        failed = failures.get(pk, 0)
        decision = policy.after_failures(breaker, failed, now, config, rand())
        if not decision.trip:
            WebhookEndpoint.objects.filter(pk=pk).update(
                consecutive_failures=F("consecutive_failures") + failed
            )
            continue
        WebhookEndpoint.objects.filter(pk=pk).update(
            breaker_state=Breaker.OPEN,
            consecutive_failures=F("consecutive_failures") + failed,
            trips=decision.trips,
            opened_at=now,
            open_until=decision.open_until,
            probe_owner="",
            probe_lease_until=None,
            updated_at=now,
        )
        WEBHOOK_BREAKER_TRANSITIONS.labels(to_state=Breaker.OPEN).inc()
        logger.warning(
            "⚠️ webhook endpoint %s: breaker open until %s after %d failed attempt(s) in a row%s",
            pk,
            decision.open_until,
            breaker.consecutive_failures + failed,
            " (the probe failed)" if breaker.state == breaker_policy.HALF_OPEN else "",
        )


def _close(endpoint_pk: int, breaker: policy.EndpointBreaker, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_pk).update(
        breaker_state=Breaker.CLOSED,
        consecutive_failures=0,
        closed_at=now,
        open_until=None,
        probe_owner="",
        probe_lease_until=None,
        updated_at=now,
    )
    woken = wake_waiting(endpoint_pk, now)
    WEBHOOK_BREAKER_TRANSITIONS.labels(to_state=Breaker.CLOSED).inc()
    logger.info(
        "🔄 webhook endpoint %s: breaker closed (%s → closed); %d waiting delivery(ies) due now",
        endpoint_pk,
        breaker.state,
        woken,
    )


def wake_waiting(endpoint_pk: int, now: datetime) -> int:
    """The receiver is back (or a person says so): everything that waited for it (retries
    scheduled during the outage included) is due as of its event's time, so the backlog goes out
    at once and in the order the events happened, rather than retries last."""
    return WebhookDelivery.objects.filter(
        endpoint_id=endpoint_pk,
        status__in=(Status.PENDING, Status.FAILED),
        next_attempt_at__gt=F("created_at"),
    ).update(next_attempt_at=F("created_at"))


def _disable_gone(endpoint_pk: int, now: datetime) -> None:
    reason = f"the receiver answered 410 Gone at {formats.iso(now)}"
    done = WebhookEndpoint.objects.filter(pk=endpoint_pk, enabled=True).update(
        enabled=False, disabled_reason=reason, updated_at=now
    )
    if done:
        logger.warning("webhook endpoint %s disabled: %s", endpoint_pk, reason)


def may_deliver(endpoint: DueEndpoint, now: datetime) -> Verdict:
    return policy.may_deliver(endpoint.breaker, now).verdict


def endpoint_verdicts(endpoint_pks: Iterable[int], now: datetime) -> dict[int, Verdict]:
    """May these endpoints be posted to now? One query; a disabled or deleted one may not."""
    rows = WebhookEndpoint.objects.filter(pk__in=list(endpoint_pks), enabled=True).values(*_BREAKER_FIELDS)
    return {row["pk"]: policy.may_deliver(_breaker_of(row), now).verdict for row in rows}


def prune(now: datetime) -> int:
    """Finished deliveries older than the outbox keeps events: a replay could not rebuild them."""
    before = now - timedelta(days=settings.WAZIPER_EVENT_RETENTION_DAYS)
    return WebhookDelivery.objects.filter(
        status__in=(Status.DELIVERED, Status.DEAD), created_at__lt=before
    ).delete()[0]
