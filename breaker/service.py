"""Every change to a breaker goes through here, one transaction per change.

Concurrency: the instance's BreakerState row is locked (`select_for_update` on PostgreSQL; on
SQLite the IMMEDIATE transaction already holds the database's write lock), counters move with
F() expressions, and the probe is claimed with a conditional UPDATE, so two workers, or the web
server and a worker, never double-trip or double-probe. Nothing here raises to the caller for a
refused connect: it returns a decision.

Each transition writes exactly one log line, one metric increment and one outbox event.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from breaker import policy
from breaker.models import BreakerReset, BreakerState, FailureEvent
from breaker.policy import BreakerConfig, BreakerView, ConnectDecision, Verdict
from instances.events import emit_event
from instances.models import Instance
from kernel.metrics import BREAKER_TRANSITIONS, FAILURES

logger = logging.getLogger("waziper.breaker")
State = BreakerState.State
FORCING_KINDS = {FailureEvent.Kind.LOGGED_OUT, FailureEvent.Kind.BANNED}

Rand = Callable[[], float]


@dataclass(frozen=True)
class FailureOutcome:
    """What recording a failure did: whether it tripped (or re-opened) the breaker."""

    state: str
    tripped: bool
    open_until: datetime | None
    failures_in_window: int


def config_for(state: BreakerState) -> BreakerConfig:
    """Settings, overridden per instance where the row says so."""
    return BreakerConfig(
        threshold=state.threshold or settings.WAZIPER_BREAKER_THRESHOLD,
        window_s=state.window_s or settings.WAZIPER_BREAKER_WINDOW,
        cooldown_s=state.base_cooldown_s or settings.WAZIPER_BREAKER_COOLDOWN,
        max_cooldown_s=state.max_cooldown_s or settings.WAZIPER_BREAKER_MAX_COOLDOWN,
        # A probe is one connect attempt; its lease outlives the attempt's timeout plus a
        # worker's lease, so only a dead worker's probe expires.
        probe_lease_s=settings.WAZIPER_CONNECT_TIMEOUT + settings.WAZIPER_LEASE_TTL,
    )


def _instance_pk(instance: Instance | int) -> int:
    return instance if isinstance(instance, int) else instance.pk


def _label(instance_pk: int) -> str:
    return Instance.objects.filter(pk=instance_pk).values_list("instance_id", flat=True).first() or str(
        instance_pk
    )


def _locked_state(instance_pk: int) -> BreakerState:
    BreakerState.objects.get_or_create(instance_id=instance_pk)
    return BreakerState.objects.select_for_update().get(instance_id=instance_pk)


def _counted(state: BreakerState, config: BreakerConfig, now: datetime) -> Any:
    start = policy.window_start(now, config, state.counted_since)
    return FailureEvent.objects.filter(instance_id=state.instance_id, counts=True, at__gte=start, at__lte=now)


def failures_in_window(state: BreakerState, config: BreakerConfig, now: datetime) -> int:
    return int(_counted(state, config, now).count())


def _transition(state: BreakerState, to_state: str, now: datetime, reason: str, **fields: Any) -> None:
    """Write the new state, and its one log line, metric and outbox event."""
    previous = state.state
    state.state = to_state
    for name, value in fields.items():
        setattr(state, name, value)
    state.save()
    BREAKER_TRANSITIONS.labels(to_state=to_state).inc()
    instance_id = _label(state.instance_id)
    if to_state in (State.OPEN, State.FORCED_OPEN):
        until = f" until {state.open_until:%H:%M:%S}" if state.open_until else " until a manual reset"
        logger.warning(
            "⚠️ Circuit breaker activated for %s (%s → %s%s): %s",
            instance_id,
            previous,
            to_state,
            until,
            reason,
        )
    else:
        logger.info(
            "🔄 Circuit breaker %s for %s (%s → %s): %s", to_state, instance_id, previous, to_state, reason
        )
    emit_event(
        state.instance_id,
        "breaker",
        {
            "state": to_state,
            "previous": previous,
            "reason": reason,
            "open_until": state.open_until.isoformat() if state.open_until else None,
        },
        now=now,
    )


def _open(state: BreakerState, config: BreakerConfig, now: datetime, reason: str, rand: Rand) -> None:
    # Only a trip out of `closed` asks whether that close was stable: a failed probe reopens an
    # open breaker, and the close it would look at is the one before this whole open run.
    trips_before = (
        policy.trips_after_close(state.trips, state.closed_at, now, config)
        if state.state == State.CLOSED
        else state.trips
    )
    cooldown = policy.cooldown_for_trip(trips_before, config)
    open_until = now + timedelta(seconds=policy.jittered(cooldown, config, rand()))
    _transition(
        state,
        State.OPEN,
        now,
        reason,
        opened_at=now,
        open_until=open_until,
        cooldown_s=cooldown,
        trips=trips_before + 1,
        probe_owner="",
        probe_lease_until=None,
    )


def record_failure(
    instance: Instance | int,
    kind: str,
    detail: str = "",
    *,
    now: datetime,
    counts: bool = True,
    force: bool = False,
    rand: Rand = random.random,
) -> FailureOutcome:
    """Store a failure and trip the breaker if it crossed the threshold (or the probe failed).

    `logged_out` and `banned` force the breaker open, as does `force` (a failure no retry can
    mend, such as a corrupt session store): only a person closes it again.
    """
    instance_pk = _instance_pk(instance)
    with transaction.atomic():
        state = _locked_state(instance_pk)
        config = config_for(state)
        FailureEvent.objects.create(
            instance_id=instance_pk, kind=kind, detail=detail[:4000], at=now, counts=counts
        )
        FAILURES.labels(kind=kind).inc()
        if not counts:
            return FailureOutcome(
                state.state, False, state.open_until, failures_in_window(state, config, now)
            )
        BreakerState.objects.filter(pk=instance_pk).update(
            consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
        )
        state.refresh_from_db()
        in_window = failures_in_window(state, config, now)
        tripped = False
        if (force or kind in FORCING_KINDS) and state.state != State.FORCED_OPEN:
            _transition(
                state,
                State.FORCED_OPEN,
                now,
                f"{kind}: {detail}"[:200],
                open_until=None,
                forced_reason=f"{kind}: {detail}"[:200],
                probe_owner="",
                probe_lease_until=None,
                opened_at=now,
            )
            tripped = True
        elif state.state == State.HALF_OPEN:
            _open(state, config, now, f"probe failed: {kind}: {detail}"[:300], rand)
            tripped = True
        elif state.state == State.CLOSED and policy.should_trip(
            in_window, state.consecutive_failures, config
        ):
            rule = (
                f"{in_window} failures in {config.window_s:g}s"
                if in_window >= config.threshold
                else (f"{state.consecutive_failures} failed attempts in a row")
            )
            _open(
                state,
                config,
                now,
                f"{rule} (threshold {config.threshold}); last: {kind}: {detail}"[:300],
                rand,
            )
            tripped = True
        return FailureOutcome(state.state, tripped, state.open_until, in_window)


def record_success(instance: Instance | int, *, now: datetime) -> str:
    """A connect succeeded: clear the run of failures, close a probing or open breaker."""
    instance_pk = _instance_pk(instance)
    # Fast path without a transaction: a healthy reconnect of a closed breaker with nothing to clear.
    if BreakerState.objects.filter(pk=instance_pk, state=State.CLOSED, consecutive_failures=0).exists():
        return State.CLOSED
    with transaction.atomic():
        state = _locked_state(instance_pk)
        if state.state in (State.HALF_OPEN, State.OPEN):
            _transition(
                state,
                State.CLOSED,
                now,
                "connected",
                counted_since=now,
                consecutive_failures=0,
                closed_at=now,
                open_until=None,
                probe_owner="",
                probe_lease_until=None,
            )
        elif state.consecutive_failures:
            state.consecutive_failures = 0
            state.save(update_fields=["consecutive_failures", "updated_at"])
        return state.state


def allow_connect(instance: Instance | int, *, now: datetime, worker_id: str) -> ConnectDecision:
    """Ask before every connect. PROBE means this caller won the one probe; REFUSE says until when."""
    instance_pk = _instance_pk(instance)
    state = BreakerState.objects.filter(pk=instance_pk).first()
    if state is None or state.state == State.CLOSED:
        return ConnectDecision(Verdict.ALLOW, State.CLOSED)
    view = BreakerView(
        state=state.state, open_until=state.open_until, probe_lease_until=state.probe_lease_until
    )
    decision = policy.decide_connect(view, now)
    if decision.verdict is not Verdict.PROBE:
        return decision
    config = config_for(state)
    with transaction.atomic():
        # The claim: only one caller's conditional update matches the row as it was read.
        claimed = BreakerState.objects.filter(
            pk=instance_pk,
            state=state.state,
            open_until=state.open_until,
            probe_lease_until=state.probe_lease_until,
        ).update(
            state=State.HALF_OPEN,
            probe_owner=worker_id,
            probe_lease_until=now + timedelta(seconds=config.probe_lease_s),
        )
        if claimed != 1:
            return ConnectDecision(
                Verdict.REFUSE, State.HALF_OPEN, config.probe_lease_s, "another worker probes"
            )
        state.refresh_from_db()
        BREAKER_TRANSITIONS.labels(to_state=State.HALF_OPEN).inc()
        logger.info("🔄 Circuit breaker half_open for %s: one probe by %s", _label(instance_pk), worker_id)
        emit_event(
            instance_pk,
            "breaker",
            {"state": State.HALF_OPEN, "previous": view.state, "reason": decision.reason, "open_until": None},
            now=now,
        )
    return decision


def reset(
    instance: Instance | int,
    *,
    source: str,
    now: datetime,
    user: Any = None,
    actor: str = "",
    reason: str = "",
) -> BreakerReset:
    """Close the breaker by hand (API, admin, command, QR request) and record who and why.

    History stays: failures are counted from now on, older ones are kept for the record.
    """
    instance_pk = _instance_pk(instance)
    with transaction.atomic():
        state = _locked_state(instance_pk)
        previous = state.state
        record = BreakerReset.objects.create(
            instance_id=instance_pk,
            at=now,
            source=source,
            user=user if getattr(user, "pk", None) else None,
            actor=(actor or getattr(user, "username", "") or source)[:150],
            reason=reason[:500],
            previous_state=previous,
        )
        fields = dict(
            counted_since=now,
            consecutive_failures=0,
            open_until=None,
            opened_at=None,
            probe_owner="",
            probe_lease_until=None,
            forced_reason="",
            trips=0,
            last_reset_at=now,
            closed_at=now,
        )
        if previous == State.CLOSED:
            for name, value in fields.items():
                setattr(state, name, value)
            state.save()
        else:
            _transition(state, State.CLOSED, now, f"reset by {record.actor} ({source})", **fields)
        return record


# Statuses in which a worker has a WhatsApp session open for the instance (Waziper's
# `session_exists`), and those of a connection under way (its `connecting`).
_SESSION_STATUSES = (
    Instance.Status.STARTING,
    Instance.Status.CONNECTING,
    Instance.Status.QR_PENDING,
    Instance.Status.CONNECTED,
)
_CONNECTING_STATUSES = (Instance.Status.STARTING, Instance.Status.CONNECTING)
# Waziper's list of failure times holds a window's worth; a cap keeps a flapping instance's short.
FAILURE_TIMES_LIMIT = 100


def status(instance: Instance, *, now: datetime, recent: int = 10) -> dict[str, Any]:
    """The breaker as the API and commands show it: this project's figures, and beside them
    those of Waziper's `/circuit-breaker-status` (`instance_id`, `retry_attempts`, the count
    `recent_failures`, `circuit_breaker_active`, `session_exists`, `connecting`,
    `last_failure_timestamps` in epoch milliseconds); the recent failures themselves are
    `recent_failure_events`."""
    state, _ = BreakerState.objects.get_or_create(instance=instance)
    config = config_for(state)
    in_window = failures_in_window(state, config, now)
    newest = _counted(state, config, now).order_by("-at", "-id").values_list("at", flat=True)
    times = list(newest[:FAILURE_TIMES_LIMIT])[::-1]
    lease = instance.lease_expires_at
    held = bool(instance.worker_id) and lease is not None and lease > now
    decision = policy.decide_connect(
        BreakerView(
            state=state.state, open_until=state.open_until, probe_lease_until=state.probe_lease_until
        ),
        now,
    )
    recent_failures = FailureEvent.objects.filter(instance=instance).order_by("-at", "-id")[:recent]
    return {
        "instance_id": instance.instance_id,
        "state": state.state,
        "failures_in_window": in_window,
        "consecutive_failures": state.consecutive_failures,
        "threshold": config.threshold,
        "window_s": config.window_s,
        "cooldown_s": state.cooldown_s if state.cooldown_s else config.cooldown_s,
        "max_cooldown_s": config.max_cooldown_s,
        "opened_at": state.opened_at.isoformat() if state.opened_at else None,
        "open_until": state.open_until.isoformat() if state.open_until else None,
        "retry_after_s": decision.retry_after_s,
        "forced_reason": state.forced_reason or None,
        "last_reset_at": state.last_reset_at.isoformat() if state.last_reset_at else None,
        "retry_attempts": instance.retry_attempts,
        "recent_failures": in_window,
        "circuit_breaker_active": state.state != State.CLOSED,
        "session_exists": held and instance.status in _SESSION_STATUSES,
        "connecting": held and instance.status in _CONNECTING_STATUSES,
        "last_failure_timestamps": [int(at.timestamp() * 1000) for at in times],
        "recent_failure_events": [
            {"at": f.at.isoformat(), "kind": f.kind, "detail": f.detail, "counts": f.counts}
            for f in recent_failures
        ],
    }


def open_among(instance_pks: set[int]) -> set[int]:
    """Which of these instances' breakers refuse traffic (is_open for many, one query)."""
    if not instance_pks:
        return set()
    return set(
        BreakerState.objects.filter(
            pk__in=instance_pks, state__in=(State.OPEN, State.HALF_OPEN, State.FORCED_OPEN)
        ).values_list("pk", flat=True)
    )


def is_open(instance: Instance | int) -> bool:
    return BreakerState.objects.filter(
        pk=_instance_pk(instance), state__in=(State.OPEN, State.HALF_OPEN, State.FORCED_OPEN)
    ).exists()


@dataclass(frozen=True)
class Outlook:
    """May the instance connect now, as the breaker's policy sees it (without claiming a probe)."""

    state: str
    allows_connect: bool
    open_until: datetime | None
    retry_after_s: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "allows_connect": self.allows_connect,
            "open_until": self.open_until.isoformat() if self.open_until else None,
            "retry_after_s": self.retry_after_s,
        }


def outlook(instance: Instance | int, now: datetime) -> Outlook:
    """One indexed read; an instance that never failed has no breaker row and is closed."""
    row = (
        BreakerState.objects.filter(pk=_instance_pk(instance))
        .values_list("state", "open_until", "probe_lease_until")
        .first()
    )
    if row is None:
        return Outlook(policy.CLOSED, True, None, None)
    state, open_until, probe_lease_until = row
    view = policy.BreakerView(state=state, open_until=open_until, probe_lease_until=probe_lease_until)
    decision = policy.decide_connect(view, now)
    wait = decision.retry_after_s
    # Round up and never say 0: a client told "retry after 0" retries at once and is refused.
    retry_after = None if wait is None else max(1, math.ceil(wait))
    return Outlook(state, decision.allowed, open_until, retry_after)


def prune_failures(now: datetime) -> int:
    """Drop failure history older than WAZIPER_FAILURE_RETENTION_DAYS (the breaker counts only
    the window since its last reset, so old rows are evidence, not state)."""
    before = now - timedelta(days=settings.WAZIPER_FAILURE_RETENTION_DAYS)
    return FailureEvent.objects.filter(at__lt=before).delete()[0]
