"""The worker's steps with the real sandbox transport and a fake clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from breaker.models import BreakerState, FailureEvent
from directory.cache import cached_groups, store_groups
from instances.commands import send as send_command
from instances.models import Instance, InstanceCommand, InstanceEvent, SandboxPhone, WorkerProcess
from instances.service import (
    create_instance,
    request_running,
    request_sandbox_scan,
    request_stopped,
)
from kernel.clock import FakeClock
from tests.support.worker import make_worker, status_of, tick
from tests.support.worker_sim import FakeWait

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sandbox(owner: Any, name: str = "shop", **behaviour: Any) -> Instance:
    instance = create_instance(owner, name=name, transport="sandbox", sandbox=behaviour)
    request_running(instance)
    return instance


def statuses(instance: Instance) -> list[str]:
    return [
        e.payload["status"]
        for e in InstanceEvent.objects.filter(instance=instance, kind="status").order_by("id")
    ]


def test_connect_qr_scan_connected(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner)
    worker = make_worker(clock)
    tick(worker, clock)
    instance.refresh_from_db()
    assert instance.status == "qr_pending"
    assert instance.worker_id == "w1"
    assert instance.last_qr.startswith("2@")
    assert instance.qr_expires_at == clock.now() + timedelta(seconds=60)
    assert InstanceEvent.objects.filter(instance=instance, kind="qr").count() == 1
    request_sandbox_scan(instance)
    tick(worker, clock, 1)
    instance.refresh_from_db()
    assert instance.status == "connected"
    assert instance.jid.endswith("@s.whatsapp.net")
    assert statuses(instance) == ["starting", "connecting", "qr_pending", "connected"]


def test_qr_rotates_then_parks_as_qr_expired_without_a_failure(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner)
    worker = make_worker(clock)
    tick(worker, clock)
    codes = {Instance.objects.get(pk=instance.pk).last_qr}
    tick(worker, clock, 60)
    codes.add(Instance.objects.get(pk=instance.pk).last_qr)
    for _ in range(5):
        tick(worker, clock, 20)
    instance.refresh_from_db()
    assert len(codes) == 2
    assert InstanceEvent.objects.filter(instance=instance, kind="qr").count() == 6
    assert instance.status == "qr_expired"
    assert instance.desired_state == "stopped"
    assert not FailureEvent.objects.filter(instance=instance).exists()
    tick(worker, clock, 1)
    assert instance.pk not in worker.leased


def test_a_linked_phone_reconnects_without_a_qr(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(instance) == "connected"
    assert not InstanceEvent.objects.filter(instance=instance, kind="qr").exists()


def test_failing_connects_trip_the_breaker_and_stop_attempts(
    owner: Any, clock: FakeClock, settings: Any
) -> None:
    instance = sandbox(owner, connect="fail")
    healthy = sandbox(owner, name="healthy", linked=True)
    worker = make_worker(clock)
    for _ in range(40):
        tick(worker, clock, settings.WAZIPER_RETRY_CAP)
    failures = FailureEvent.objects.filter(instance=instance)
    assert failures.count() == settings.WAZIPER_BREAKER_THRESHOLD
    assert "connection refused" in failures.first().detail
    assert BreakerState.objects.get(instance=instance).state == "open"
    assert status_of(instance) == "breaker_open"
    assert status_of(healthy) == "connected"
    assert not FailureEvent.objects.filter(instance=healthy).exists()


def test_default_schedule_trips_inside_the_window(owner: Any, clock: FakeClock, settings: Any) -> None:
    instance = sandbox(owner, connect="fail")
    worker = make_worker(clock)
    start = clock.now()
    tick(worker, clock)
    while worker.leased[instance.pk].status != "breaker_open":
        # worst case of the full jitter: every wait is its cap (rand → 1)
        worker.rand = lambda: 0.999999
        clock.current = max(clock.now() + timedelta(seconds=0.3), worker.leased[instance.pk].next_attempt_at)
        worker.run_once(clock.now())
        assert clock.now() - start < timedelta(seconds=settings.WAZIPER_BREAKER_WINDOW)
    assert FailureEvent.objects.filter(instance=instance).count() == settings.WAZIPER_BREAKER_THRESHOLD


def test_open_breaker_half_opens_after_cooldown_and_a_good_probe_closes_it(
    owner: Any, clock: FakeClock, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 2
    instance = sandbox(owner, connect="fail")
    worker = make_worker(clock)
    tick(worker, clock, 1, times=10)
    state = BreakerState.objects.get(instance=instance)
    assert state.state == "open"
    Instance.objects.filter(pk=instance.pk).update(sandbox={"linked": True})
    clock.current = state.open_until - timedelta(seconds=1)
    tick(worker, clock)
    assert FailureEvent.objects.filter(instance=instance).count() == 2  # still refused
    clock.current = state.open_until
    tick(worker, clock)
    assert status_of(instance) == "connected"
    assert BreakerState.objects.get(instance=instance).state == "closed"


def test_restarting_the_worker_keeps_the_breaker_open(owner: Any, clock: FakeClock, settings: Any) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    instance = sandbox(owner, connect="fail")
    first = make_worker(clock, "w1")
    tick(first, clock, 2, times=10)
    assert BreakerState.objects.get(instance=instance).state == "open"
    first.shutdown(clock.now())
    second = make_worker(clock, "w2")
    tick(second, clock, 1, times=5)
    assert BreakerState.objects.get(instance=instance).state == "open"
    assert FailureEvent.objects.filter(instance=instance).count() == 3
    assert status_of(instance) == "breaker_open"


def test_hanging_connect_is_cancelled_at_the_timeout_and_counted(
    owner: Any, clock: FakeClock, settings: Any
) -> None:
    instance = sandbox(owner, connect="hang")
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(instance) == "connecting"
    tick(worker, clock, settings.WAZIPER_CONNECT_TIMEOUT - 1)
    assert not FailureEvent.objects.filter(instance=instance).exists()
    tick(worker, clock, 1)
    failure = FailureEvent.objects.get(instance=instance)
    assert failure.kind == "connect_timeout"
    assert "no answer within 30s" in failure.detail
    assert status_of(instance) == "disconnected"
    assert worker.leased[instance.pk].session is None


def test_lease_takeover_after_a_worker_dies(owner: Any, clock: FakeClock, settings: Any) -> None:
    instance = sandbox(owner, linked=True)
    dead = make_worker(clock, "dead")
    tick(dead, clock)
    assert status_of(instance) == "connected"
    survivor = make_worker(clock, "alive")
    tick(survivor, clock, 1)
    assert instance.pk not in survivor.leased  # the lease is still live
    tick(survivor, clock, settings.WAZIPER_LEASE_TTL)  # `dead` never renews
    instance.refresh_from_db()
    assert instance.worker_id == "alive"
    assert instance.status == "connected"


def test_stopping_an_instance_closes_its_session_and_releases_the_lease(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    request_stopped(instance)
    tick(worker, clock, 1)
    instance.refresh_from_db()
    assert instance.status == "stopped"
    assert instance.worker_id == ""
    assert instance.pk not in worker.leased


def test_unexpected_drop_is_a_failure_and_reconnects(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    worker.leased[instance.pk].session.drop()
    tick(worker, clock, 0.3)
    assert FailureEvent.objects.get(instance=instance).kind == "disconnected"
    assert status_of(instance) == "disconnected"
    tick(worker, clock, 5, times=2)
    assert status_of(instance) == "connected"


def test_live_check_finds_a_dead_session(owner: Any, clock: FakeClock, settings: Any) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    worker.leased[instance.pk].session.phase = "closed"  # the socket died silently
    tick(worker, clock, settings.WAZIPER_LIVE_CHECK_INTERVAL)
    tick(worker, clock, 0.3)
    assert FailureEvent.objects.get(instance=instance).kind == "live_check"


def test_logout_command_unlinks_and_removes_the_session_store(
    owner: Any, clock: FakeClock, settings: Any
) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    store = instance.session_dir()
    import os

    os.makedirs(store)
    command = send_command(instance, InstanceCommand.Kind.LOGOUT)
    tick(worker, clock, 0.3)
    command.refresh_from_db()
    instance.refresh_from_db()
    assert command.result == {"ok": True}
    assert command.finished_at is not None
    assert instance.status == "logged_out"
    assert instance.desired_state == "stopped"
    assert instance.jid == ""
    assert not os.path.exists(store)
    assert SandboxPhone.objects.get(instance=instance).linked_jid == ""
    assert BreakerState.objects.get(instance=instance).state == "closed"  # asked for: not a failure


def test_a_logout_forgets_the_accounts_cached_groups(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    store_groups(instance, [{"id": "120363000000000001@g.us", "name": "Tim", "size": 2}], clock.now())
    worker = make_worker(clock)
    tick(worker, clock)
    send_command(instance, InstanceCommand.Kind.LOGOUT)
    tick(worker, clock, 0.3)
    assert cached_groups(instance, clock.now(), max_age_s=3600) is None


def test_pair_phone_command_returns_a_code(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner)
    worker = make_worker(clock)
    tick(worker, clock)
    command = send_command(instance, InstanceCommand.Kind.PAIR_PHONE, {"phone": "6281234567890"})
    tick(worker, clock, 0.3)
    command.refresh_from_db()
    assert len(command.result["code"]) == 9
    assert command.result["code"][4] == "-"
    assert InstanceEvent.objects.filter(instance=instance, kind="pair_code").exists()


def test_reset_plus_reconnect_command_retries_at_once(owner: Any, clock: FakeClock, settings: Any) -> None:
    from breaker import service as breaker_service

    settings.WAZIPER_BREAKER_THRESHOLD = 2
    instance = sandbox(owner, connect="fail")
    worker = make_worker(clock)
    tick(worker, clock, 1, times=6)
    assert status_of(instance) == "breaker_open"
    Instance.objects.filter(pk=instance.pk).update(sandbox={"linked": True})
    breaker_service.reset(instance, source="api", now=clock.now(), actor="alice")
    send_command(instance, InstanceCommand.Kind.RECONNECT)
    tick(worker, clock, 0.3, times=2)
    assert status_of(instance) == "connected"


def test_an_unavailable_transport_forces_the_breaker_open_with_the_reason(
    owner: Any, clock: FakeClock
) -> None:
    instance = create_instance(owner, name="real", transport="neonize")
    request_running(instance)
    worker = make_worker(clock, transports={})
    tick(worker, clock)
    failure = FailureEvent.objects.get(instance=instance)
    assert "transport 'neonize' is not available" in failure.detail
    assert BreakerState.objects.get(instance=instance).state == "forced_open"


def test_one_instances_exception_does_not_stop_the_others(owner: Any, clock: FakeClock) -> None:
    from worker.transports.sandbox import SandboxTransport

    broken = sandbox(owner, name="broken", linked=True)
    healthy = sandbox(owner, name="healthy", linked=True)

    class Exploding(SandboxTransport):
        def open_session(self, spec):  # a bug in a transport, for one instance only
            if spec.instance_pk == broken.pk:
                raise RuntimeError("boom")
            return super().open_session(spec)

    worker = make_worker(clock, transports={"sandbox": Exploding()})
    tick(worker, clock)
    assert status_of(healthy) == "connected"
    assert "RuntimeError: boom" in FailureEvent.objects.get(instance=broken).detail
    assert status_of(broken) == "disconnected"


def test_a_session_that_raises_while_polled_is_its_instances_failure_only(
    owner: Any, clock: FakeClock
) -> None:
    from worker.transports.sandbox import SandboxSession, SandboxTransport

    broken = sandbox(owner, name="broken", linked=True)
    healthy = sandbox(owner, name="healthy", linked=True)

    class ExplodingSession(SandboxSession):
        def poll(self, now):  # a bug reading one session's events (a host's odd line, say)
            if self.phase == "connected":
                raise ValueError("year 31690708 is out of range")
            return super().poll(now)

    class Transport(SandboxTransport):
        def open_session(self, spec):
            return (ExplodingSession if spec.instance_pk == broken.pk else SandboxSession)(spec)

    worker = make_worker(clock, transports={"sandbox": Transport()})
    tick(worker, clock)
    tick(worker, clock, 0.3)
    assert status_of(healthy) == "connected"
    assert "out of range" in FailureEvent.objects.get(instance=broken).detail
    assert status_of(broken) == "disconnected"
    assert worker.leased[broken.pk].session is None


def test_a_wall_clock_stepped_back_does_not_stall_the_periodic_steps(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    clock.advance(-3600)  # NTP steps the clock back an hour
    request_stopped(instance)
    tick(worker, clock, 1)
    assert status_of(instance) == "stopped"
    assert instance.pk not in worker.leased
    assert WorkerProcess.objects.get(worker_id="w1").heartbeat_at == clock.now()


def test_heartbeat_and_shutdown_are_recorded(owner: Any, clock: FakeClock, settings: Any) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    tick(worker, clock, settings.WAZIPER_LEASE_TTL / 3)
    beat = WorkerProcess.objects.get(worker_id="w1")
    assert beat.instances_held == 1
    assert beat.heartbeat_at == clock.now()
    worker.shutdown(clock.now())
    instance.refresh_from_db()
    assert instance.worker_id == ""
    assert instance.status == "disconnected"
    assert WorkerProcess.objects.get(worker_id="w1").stopped_at == clock.now()


def test_only_a_tick_that_completes_writes_the_heartbeat(owner: Any, clock: FakeClock) -> None:
    sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    beaten_at = clock.now()

    def broken_cleanup(now: Any) -> bool:
        raise RuntimeError("a step that fails on every tick")

    worker.step_cleanup = broken_cleanup
    for _ in range(3):
        with pytest.raises(RuntimeError):
            tick(worker, clock, 60)
    assert WorkerProcess.objects.get(worker_id="w1").heartbeat_at == beaten_at


def test_a_routine_stop_lets_the_send_in_flight_finish(owner: Any, clock: FakeClock, settings: Any) -> None:
    from queueing.models import QueuedMessage
    from tests.support.queue import queue_message

    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    message = queue_message(instance, created_at=clock.now())
    tick(worker, clock, 0.3)
    assert worker.dispatcher.busy == 1  # handed to the session, result not yet read
    worker.drain()
    worker.shutdown(clock.now())
    message.refresh_from_db()
    assert message.status in (QueuedMessage.Status.SENT, QueuedMessage.Status.DELIVERED)


def test_a_logout_the_session_never_answers_is_finished_with_an_error(owner: Any, clock: FakeClock) -> None:
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    session = worker.leased[instance.pk].session
    session.logout = lambda now: None  # the phone side never answers
    command = send_command(instance, InstanceCommand.Kind.LOGOUT)
    tick(worker, clock, 0.3)
    session.drop()  # …and then the connection dies
    tick(worker, clock, 0.3)
    command.refresh_from_db()
    assert command.finished_at is not None
    assert command.result == {"error": "the session ended before it answered"}


@pytest.mark.django_db(transaction=True)  # the loop's recovery closes stale connections
def test_an_unexpected_error_in_a_step_does_not_end_the_worker(owner: Any, clock: FakeClock) -> None:
    worker = make_worker(clock)
    calls = []

    def flaky_cleanup(now: Any) -> bool:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("a bug outside any instance")
        worker.shutdown_requested = True  # the loop survived the first call: stop now
        return False

    worker.step_cleanup = flaky_cleanup
    worker.run()
    assert len(calls) == 2
    assert WorkerProcess.objects.get(worker_id="w1").stopped_at is not None


def idle_with_fake_time(worker: Any, wait: FakeWait) -> None:
    worker.sleep, worker.monotonic = wait.sleep, wait.clock
    worker.idle()


def test_an_idle_pause_lasts_its_whole_length_when_nothing_is_asked(owner: Any, clock: FakeClock) -> None:
    sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    wait = FakeWait()
    idle_with_fake_time(worker, wait)
    assert wait.now == pytest.approx(worker.IDLE_SLEEP_S)


def test_a_command_written_during_an_idle_pause_ends_it_at_the_next_look(
    owner: Any, clock: FakeClock
) -> None:
    """A web request waits for the answer: it must not wait out the worker's whole pause."""
    instance = sandbox(owner, linked=True)
    worker = make_worker(clock)
    tick(worker, clock)
    wait = FakeWait()
    wait.on_sleep = lambda n: (
        send_command(instance, InstanceCommand.Kind.QUERY, {"op": "groups"}) if n == 2 else None
    )
    idle_with_fake_time(worker, wait)
    assert wait.sleeps == 2  # written during the second sleep, seen by the look after it
    assert wait.now == pytest.approx(2 * worker.COMMAND_LOOK_S)
