"""breaker.service against a real database (SQLite here; rerun on PostgreSQL by `make test`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from breaker import service as breaker_service
from breaker.models import BreakerReset, BreakerState, FailureEvent
from breaker.policy import Verdict
from instances.models import Instance, InstanceEvent

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MID = lambda: 0.5  # noqa: E731  (no jitter: the cooldown lands exactly)


def fail(
    instance: Instance, n: int, start: datetime = T0, step: float = 1.0, kind: str = "connect_failed"
) -> Any:
    outcome = None
    for i in range(n):
        outcome = breaker_service.record_failure(
            instance, kind, f"dial {i}", now=start + timedelta(seconds=i * step), rand=MID
        )
    return outcome


def state_of(instance: Instance) -> BreakerState:
    return BreakerState.objects.get(instance=instance)


def breaker_events(instance: Instance) -> list[dict[str, Any]]:
    return [e.payload for e in InstanceEvent.objects.filter(instance=instance, kind="breaker").order_by("id")]


def test_trips_at_exactly_the_threshold(instance: Instance) -> None:
    assert not fail(instance, 14).tripped
    assert state_of(instance).state == "closed"
    outcome = breaker_service.record_failure(
        instance, "connect_failed", "dial 14", now=T0 + timedelta(seconds=14), rand=MID
    )
    assert outcome.tripped
    assert outcome.state == "open"
    state = state_of(instance)
    assert state.open_until == T0 + timedelta(seconds=14 + 600)
    assert [e["state"] for e in breaker_events(instance)] == ["open"]
    assert FailureEvent.objects.filter(instance=instance).count() == 15


def test_failures_outside_the_window_do_not_count(instance: Instance) -> None:
    fail(instance, 10)
    breaker_service.record_success(instance, now=T0 + timedelta(seconds=20))  # a connect worked in between
    later = T0 + timedelta(seconds=400)
    outcome = fail(instance, 10, start=later)
    assert not outcome.tripped
    assert outcome.failures_in_window == 10


def test_failures_before_a_reset_do_not_count(instance: Instance) -> None:
    fail(instance, 14)
    breaker_service.reset(instance, source="api", now=T0 + timedelta(seconds=20), actor="alice")
    outcome = fail(instance, 14, start=T0 + timedelta(seconds=21))
    assert not outcome.tripped
    assert FailureEvent.objects.filter(instance=instance).count() == 28  # history kept


def test_slow_failures_in_a_row_trip_even_outside_the_window(instance: Instance) -> None:
    # fifteen 30-second hangs, 40 s apart: never fifteen within 300 s, still fifteen in a row
    outcome = fail(instance, 15, step=40, kind="connect_timeout")
    assert outcome.tripped
    assert "in a row" in breaker_events(instance)[0]["reason"]


def test_uncounted_failures_are_kept_but_never_trip(instance: Instance) -> None:
    for i in range(20):
        breaker_service.record_failure(
            instance, "connect_failed", "x", now=T0 + timedelta(seconds=i), counts=False
        )
    assert state_of(instance).state == "closed"
    assert FailureEvent.objects.filter(instance=instance, counts=False).count() == 20


def test_open_refuses_with_retry_after_then_one_probe(instance: Instance) -> None:
    fail(instance, 15)
    open_until = state_of(instance).open_until
    before = breaker_service.allow_connect(instance, now=open_until - timedelta(seconds=30), worker_id="w1")
    assert before.verdict is Verdict.REFUSE
    assert before.retry_after_s == 30
    assert breaker_service.allow_connect(instance, now=open_until, worker_id="w1").verdict is Verdict.PROBE
    assert state_of(instance).state == "half_open"
    assert state_of(instance).probe_owner == "w1"
    assert breaker_service.allow_connect(instance, now=open_until, worker_id="w2").verdict is Verdict.REFUSE


def test_probe_success_closes_and_clears_the_count(instance: Instance) -> None:
    fail(instance, 15)
    open_until = state_of(instance).open_until
    breaker_service.allow_connect(instance, now=open_until, worker_id="w1")
    assert breaker_service.record_success(instance, now=open_until + timedelta(seconds=1)) == "closed"
    state = state_of(instance)
    assert state.consecutive_failures == 0
    assert state.counted_since == open_until + timedelta(seconds=1)
    assert [e["state"] for e in breaker_events(instance)] == ["open", "half_open", "closed"]
    assert not fail(instance, 14, start=open_until + timedelta(seconds=2)).tripped


def test_probe_failure_reopens_with_the_cooldown_doubled_and_capped(instance: Instance) -> None:
    fail(instance, 15)
    cooldowns = []
    for _ in range(4):
        open_until = state_of(instance).open_until
        breaker_service.allow_connect(instance, now=open_until, worker_id="w1")
        outcome = breaker_service.record_failure(
            instance, "connect_failed", "probe", now=open_until, rand=MID
        )
        assert outcome.tripped
        assert outcome.state == "open"
        cooldowns.append(state_of(instance).cooldown_s)
    assert cooldowns == [1200, 2400, 3600, 3600]


def test_failed_probes_double_the_cooldown_after_an_earlier_close(instance: Instance) -> None:
    # The breaker was closed once (a reset, or a good probe) long before this run of failures:
    # that close was stable, so the first trip starts from the base cooldown, but each failed
    # probe of this run must still double it. The decay is about the close, not the probe.
    breaker_service.reset(instance, source="api", now=T0 - timedelta(hours=2), actor="alice")
    fail(instance, 15)
    cooldowns = [state_of(instance).cooldown_s]
    for _ in range(2):
        open_until = state_of(instance).open_until
        breaker_service.allow_connect(instance, now=open_until, worker_id="w1")
        breaker_service.record_failure(instance, "connect_failed", "probe", now=open_until, rand=MID)
        cooldowns.append(state_of(instance).cooldown_s)
    assert cooldowns == [600, 1200, 2400]


def test_expired_probe_lease_lets_another_worker_probe(instance: Instance, settings: Any) -> None:
    fail(instance, 15)
    open_until = state_of(instance).open_until
    breaker_service.allow_connect(instance, now=open_until, worker_id="dead-worker")
    lease = settings.WAZIPER_CONNECT_TIMEOUT + settings.WAZIPER_LEASE_TTL
    assert breaker_service.allow_connect(
        instance, now=open_until + timedelta(seconds=lease - 1), worker_id="w2"
    ).verdict is (Verdict.REFUSE)
    decision = breaker_service.allow_connect(
        instance, now=open_until + timedelta(seconds=lease), worker_id="w2"
    )
    assert decision.verdict is Verdict.PROBE
    assert state_of(instance).probe_owner == "w2"


@pytest.mark.parametrize("kind", ["logged_out", "banned"])
def test_logged_out_or_banned_forces_open_until_a_person_resets(instance: Instance, kind: str) -> None:
    outcome = breaker_service.record_failure(instance, kind, "device removed", now=T0)
    assert outcome.tripped
    assert outcome.state == "forced_open"
    far = breaker_service.allow_connect(instance, now=T0 + timedelta(days=30), worker_id="w1")
    assert far.verdict is Verdict.REFUSE
    assert far.retry_after_s is None
    breaker_service.reset(
        instance, source="qr_request", now=T0 + timedelta(days=30), actor="alice", reason="new QR"
    )
    assert (
        breaker_service.allow_connect(instance, now=T0 + timedelta(days=30), worker_id="w1").verdict
        is Verdict.ALLOW
    )


def test_reset_is_recorded_with_who_and_why(instance: Instance, owner: Any) -> None:
    fail(instance, 15)
    record = breaker_service.reset(
        instance, source="api", now=T0 + timedelta(seconds=60), user=owner, reason="fixed proxy"
    )
    assert (record.actor, record.source, record.previous_state, record.reason) == (
        "alice",
        "api",
        "open",
        "fixed proxy",
    )
    assert state_of(instance).state == "closed"
    assert [e["state"] for e in breaker_events(instance)] == ["open", "closed"]
    assert BreakerReset.objects.filter(instance=instance).count() == 1


def test_reset_of_a_closed_breaker_emits_no_transition(instance: Instance) -> None:
    breaker_service.reset(instance, source="command", now=T0)
    assert breaker_events(instance) == []
    assert BreakerReset.objects.filter(instance=instance, previous_state="closed").exists()


def test_status_reports_the_figures(instance: Instance) -> None:
    fail(instance, 15)
    data = breaker_service.status(instance, now=T0 + timedelta(seconds=100))
    assert data["state"] == "open"
    assert data["failures_in_window"] == 15
    assert data["threshold"] == 15
    assert data["window_s"] == 300
    assert data["cooldown_s"] == 600
    assert data["retry_after_s"] == pytest.approx(514)
    assert len(data["recent_failure_events"]) == 10
    assert data["recent_failure_events"][0]["detail"] == "dial 14"


def test_per_instance_overrides_win_over_settings(instance: Instance) -> None:
    BreakerState.objects.create(instance=instance, threshold=3, base_cooldown_s=10)
    assert fail(instance, 3).tripped
    assert state_of(instance).open_until == T0 + timedelta(seconds=2 + 10)


@pytest.mark.django_db(transaction=True)
def test_one_probe_wins_a_race(instance: Instance) -> None:
    fail(instance, 15)
    open_until = state_of(instance).open_until
    verdicts: list[Verdict] = []
    barrier = threading.Barrier(8)

    def probe(n: int) -> None:
        try:
            barrier.wait()
            verdicts.append(
                breaker_service.allow_connect(instance.pk, now=open_until, worker_id=f"w{n}").verdict
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=probe, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verdicts.count(Verdict.PROBE) == 1
    assert verdicts.count(Verdict.REFUSE) == 7
    assert [e["state"] for e in breaker_events(instance)].count("half_open") == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_trip_exactly_once(instance: Instance) -> None:
    barrier = threading.Barrier(6)

    def hammer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                breaker_service.record_failure(
                    instance.pk, "connect_failed", f"{n}/{i}", now=T0 + timedelta(seconds=i), rand=MID
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert FailureEvent.objects.filter(instance=instance).count() == 30
    assert [e["state"] for e in breaker_events(instance)] == ["open"]
    assert state_of(instance).consecutive_failures == 30


@pytest.mark.parametrize("state", BreakerState.State.values)
def test_open_among_agrees_with_is_open(instance: Instance, state: str) -> None:
    BreakerState.objects.update_or_create(instance=instance, defaults={"state": state})
    assert (instance.pk in breaker_service.open_among({instance.pk})) is breaker_service.is_open(instance)
