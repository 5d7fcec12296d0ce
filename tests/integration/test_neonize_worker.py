"""The real Worker, stepping on a real clock, with the real neonize transport: session hosts
running real neonize, several sessions each, forked from the fork server and dialing the fault
kit's loopback proxies. The retry schedule is compressed by settings; the breaker keeps its
default threshold (15) where the test is about it.

The fds / threads / RSS test is also the "twenty instances at once" test: 300 attempts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bench.faultkit import FaultProxy
from breaker.models import BreakerState, FailureEvent
from instances.models import Instance
from instances.service import create_instance, request_running
from kernel.clock import SystemClock
from tests.support.worker import make_worker
from worker.loop import Worker
from worker.sessionhost.main import TEST_GO_PANIC_ENV
from worker.transports.host_pool import HostPool
from worker.transports.host_process import REAPER
from worker.transports.neonize import NeonizeSession, NeonizeTransport

# Committed transactions, as the worker runs in production: inside one test-wide transaction
# SQLite spills savepoint journals to a temp file, which would count as a descriptor "leak".
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DIAL_ERROR = "failed to dial whatsapp web websocket"
CLOCK = SystemClock()
SESSIONS_PER_HOST = 3
CRASHER = "DEADC0DE00001"  # an instance id: its connect makes its host's Go runtime panic


@pytest.fixture
def worker(settings: Any) -> Any:
    settings.WAZIPER_RETRY_BASE = 0.01
    settings.WAZIPER_RETRY_CAP = 0.02
    settings.WAZIPER_BREAKER_COOLDOWN = 600
    transport = NeonizeTransport(
        sessions_per_host=SESSIONS_PER_HOST, env={**os.environ, TEST_GO_PANIC_ENV: CRASHER}
    )
    transport.pool.IDLE_S = 0.5  # empty hosts exit soon, so fd counts settle quickly
    w = make_worker(CLOCK, transports={"neonize": transport})
    yield w
    w.shutdown(CLOCK.now())
    assert REAPER.wait_idle(5), "session hosts outlived the worker"


def pool_of(worker: Worker) -> HostPool:
    transport = worker.transports["neonize"]
    assert isinstance(transport, NeonizeTransport)
    return transport.pool


def neonize(owner: Any, name: str, proxy_url: str = "", threshold: int | None = None) -> Instance:
    instance = create_instance(owner, name=name, transport="neonize", proxy_url=proxy_url)
    if threshold is not None:
        BreakerState.objects.create(instance=instance, threshold=threshold)
    request_running(instance)
    return instance


def run_until(worker: Worker, done: Callable[[], bool], timeout: float, what: str) -> None:
    """Step the worker as `run()` would (minus its sleep) until `done()`, checked every 0.1 s."""
    deadline = checked = time.monotonic()
    deadline += timeout
    while time.monotonic() < deadline:
        if not worker.run_once(CLOCK.now()):
            time.sleep(0.005)
        if time.monotonic() - checked >= 0.1:
            checked = time.monotonic()
            if done():
                return
    raise AssertionError(f"{what} not reached within {timeout}s")


def all_open(*instances: Instance) -> Callable[[], bool]:
    pks = [i.pk for i in instances]
    return lambda: BreakerState.objects.filter(instance__in=pks, state="open").count() == len(pks)


def failures(instance: Instance) -> list[FailureEvent]:
    return list(FailureEvent.objects.filter(instance=instance).order_by("id"))


def session_of(worker: Worker, instance: Instance) -> NeonizeSession | None:
    held = worker.leased.get(instance.pk)
    session = held.session if held else None
    return session if isinstance(session, NeonizeSession) else None


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def fds() -> list[str]:
    """What this process's descriptors point at (so a failure says what leaked)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # the directory listing's own descriptor, already closed
    return sorted(targets)


def test_a_refusing_proxy_trips_the_breaker_at_the_default_threshold_with_neonizes_text(
    owner: Any, worker: Worker, settings: Any
) -> None:
    with FaultProxy("refuse") as refuse:
        refused = neonize(owner, "refused", refuse.url)
        run_until(worker, all_open(refused), 90, "breaker open")
    recorded = failures(refused)
    assert [f.kind for f in recorded] == ["connect_failed"] * settings.WAZIPER_BREAKER_THRESHOLD
    assert all(DIAL_ERROR in f.detail and "connection refused" in f.detail for f in recorded)
    refused.refresh_from_db()
    assert refused.status == "breaker_open"
    assert session_of(worker, refused) is None


def test_a_hanging_proxy_is_cut_off_by_the_connect_timeout_until_the_breaker_trips(
    owner: Any, worker: Worker, settings: Any
) -> None:
    # A timeout well above a host's start (~0.6 s, more on a busy machine) and a lower
    # per-instance threshold: each attempt costs the whole timeout.
    settings.WAZIPER_CONNECT_TIMEOUT = 2.5
    with FaultProxy("hang") as hang:
        hung = neonize(owner, "hung", hang.url, threshold=4)
        run_until(worker, all_open(hung), 60, "breaker open")
        assert REAPER.wait_idle(5)  # every timed-out host was killed and reaped
    assert [f.kind for f in failures(hung)] == ["connect_timeout"] * 4
    assert failures(hung)[-1].detail == "no answer within 2.5s; connection cancelled"
    hung.refresh_from_db()
    assert hung.status == "breaker_open"
    assert session_of(worker, hung) is None


def test_a_corrupt_store_forces_the_breaker_open_after_one_attempt_without_a_crash_loop(
    owner: Any, worker: Worker, settings: Any
) -> None:
    instance = create_instance(owner, name="corrupt", transport="neonize")
    store = os.path.join(settings.WAZIPER_SESSIONS_DIR, instance.instance_id)
    os.makedirs(store)
    with open(os.path.join(store, "whatsmeow.sqlite3"), "wb") as f:
        f.write(os.urandom(4096))
    request_running(instance)
    forced = lambda: BreakerState.objects.filter(instance=instance, state="forced_open").exists()  # noqa: E731
    run_until(worker, forced, 60, "breaker forced open")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # a crash loop would show here as more attempts
        worker.run_once(CLOCK.now())
        time.sleep(0.01)
    [failure] = failures(instance)
    assert failure.kind == "connect_failed"
    assert "re-link required" in failure.detail
    instance.refresh_from_db()
    assert instance.status == "breaker_open"


def host_of(worker: Worker, instance: Instance) -> int | None:
    session = session_of(worker, instance)
    return session.pid if session is not None else None


def dialing(worker: Worker, *instances: Instance) -> Callable[[], bool]:
    """Each has a session whose host is up and has said ready (its dial is under way)."""

    def check() -> bool:
        sessions = [session_of(worker, i) for i in instances]
        return all(s is not None and bool(s.ready) and s.pid is not None for s in sessions)

    return check


def test_a_go_crash_costs_the_sessions_of_its_host_which_reconnect_while_others_are_untouched(
    owner: Any, worker: Worker, settings: Any
) -> None:
    settings.WAZIPER_CONNECT_TIMEOUT = 60
    with FaultProxy("hang") as hang:
        kept = [neonize(owner, f"kept-{i}", hang.url) for i in range(SESSIONS_PER_HOST)]
        run_until(worker, dialing(worker, *kept), 60, "a full host dialing")
        victims = [neonize(owner, f"victim-{i}", hang.url) for i in range(SESSIONS_PER_HOST - 1)]
        run_until(worker, dialing(worker, *victims), 60, "a second host dialing")
        kept_host, doomed = host_of(worker, kept[0]), host_of(worker, victims[0])
        assert {host_of(worker, i) for i in kept} == {kept_host}
        assert {host_of(worker, i) for i in victims} == {doomed} != {kept_host}

        crasher = create_instance(owner, name="crasher", transport="neonize", proxy_url=hang.url)
        Instance.objects.filter(pk=crasher.pk).update(instance_id=CRASHER)
        BreakerState.objects.create(instance=crasher, threshold=1)  # one crash, then it rests
        request_running(crasher)  # placed on the host with room: the victims'

        def redialed() -> bool:
            pids = [host_of(worker, i) for i in victims]
            return all(pid not in (None, doomed) for pid in pids) and dialing(worker, *victims)()

        run_until(worker, redialed, 60, "the victims reconnected on another host")

    [crash] = failures(crasher)
    assert crash.kind == "host_crashed"
    assert f"session host (pid {doomed}) killed by SIGABRT: panic: runtime error" in crash.detail
    for victim in victims:
        assert [(f.kind, f.detail) for f in failures(victim)] == [(crash.kind, crash.detail)]
        victim.refresh_from_db()
        assert victim.status == "connecting"
    for instance in kept:  # the other host: same process, nothing recorded
        assert host_of(worker, instance) == kept_host
        assert failures(instance) == []
    crasher.refresh_from_db()
    assert crasher.status == "breaker_open"


def test_a_hung_dial_given_up_costs_no_other_session_of_its_host(
    owner: Any, worker: Worker, settings: Any
) -> None:
    settings.WAZIPER_CONNECT_TIMEOUT = 4.0
    with FaultProxy("hang") as hang, FaultProxy("refuse") as refuse:
        first = neonize(owner, "first", hang.url, threshold=1)
        run_until(worker, dialing(worker, first), 60, "the first dial under way")
        host = host_of(worker, first)
        started = time.monotonic()
        others = [neonize(owner, f"other-{i}", hang.url) for i in range(SESSIONS_PER_HOST - 1)]
        run_until(worker, lambda: time.monotonic() - started > 1.5 and dialing(worker, *others)(), 60, "")
        assert {host_of(worker, i) for i in others} == {host}

        # The first dial hits the connect timeout; the others, started 1.5 s later, not yet.
        run_until(worker, lambda: bool(failures(first)), 30, "the first dial given up")
        assert [f.kind for f in failures(first)] == ["connect_timeout"]
        for other in others:
            assert failures(other) == []
            assert host_of(worker, other) == host
        assert os.kill(host, 0) is None  # the host lives on for the sessions it still carries

        # It takes no new session (it carries a dial nobody can cancel); a newcomer gets its own
        # host, whose lock is free: its refused dial is answered at once.
        newcomer = neonize(owner, "newcomer", refuse.url, threshold=1)
        run_until(worker, lambda: bool(failures(newcomer)), 30, "the newcomer's dial refused")
        assert [f.kind for f in failures(newcomer)] == ["connect_failed"]
        assert all(failures(other) == [] for other in others)
        [pooled] = [h for h in pool_of(worker).hosts if h.process.pid == host]
        assert pooled.retiring
        assert pooled.abandoned == {first.instance_id}


@pytest.mark.timeout(400)
def test_twenty_instances_failing_at_once_leave_the_workers_fds_threads_and_rss_flat(
    owner: Any, worker: Worker, settings: Any
) -> None:
    threshold = settings.WAZIPER_BREAKER_THRESHOLD
    pool = pool_of(worker)
    with FaultProxy("refuse") as refuse:
        # Warm-up: every code path imported, the reaper thread and the fork server started, the
        # allocator settled.
        warm = [neonize(owner, f"warm-{i}", refuse.url, threshold=3) for i in range(2)]
        run_until(worker, all_open(*warm), 60, "warm-up breakers open")
        run_until(worker, lambda: not pool.hosts, 30, "idle hosts gone")
        assert REAPER.wait_idle(5)
        before = fds(), threading.active_count(), rss_kb()

        crowd = [neonize(owner, f"crowd-{i:02d}", refuse.url) for i in range(20)]
        started = time.monotonic()
        run_until(worker, all_open(*crowd), 330, "twenty breakers open")
        elapsed = time.monotonic() - started
        hosts = pool.started
        # The worker goes on as usual with every breaker open; its empty hosts exit.
        run_until(worker, lambda: not pool.hosts, 30, "idle hosts gone")
        assert REAPER.wait_idle(5)
        after = fds(), threading.active_count(), rss_kb()

    recorded = FailureEvent.objects.filter(instance__in=crowd)
    assert recorded.count() == 20 * threshold, "every failed attempt is recorded, none lost"
    assert all(len(failures(i)) == threshold for i in crowd)
    assert set(recorded.values_list("kind", flat=True)) == {"connect_failed"}
    assert all(
        DIAL_ERROR in d and "connection refused" in d for d in recorded.values_list("detail", flat=True)
    )
    counts = [(len(m[0]), m[1], m[2]) for m in (before, after)]
    print(
        f"\n{20 * threshold} attempts in {elapsed:.0f}s on {hosts} hosts in all; "
        f"fds, threads, RSS KB: {counts[0]} -> {counts[1]}"
    )
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] <= before[2] * 1.05
