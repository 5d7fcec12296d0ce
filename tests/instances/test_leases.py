"""Lease claims racing the web side: the web's change lands between the worker's scan for
candidates and its conditional UPDATE (interleaved with Django's execute_wrapper hook)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from instances.models import Instance
from instances.service import create_instance, logout, request_running, request_stopped
from kernel.clock import FakeClock
from tests.support.worker import make_worker, tick

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]


def before_the_claim(change: Callable[[], Any]) -> Callable[..., Any]:
    """An execute wrapper that runs `change` once, right before the lease-claiming UPDATE."""
    done: list[bool] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if not done and sql.startswith('UPDATE "instances_instance" SET "worker_id"'):
            done.append(True)
            change()
        return execute(sql, params, many, context)

    return wrapper


def running_sandbox(owner: Any) -> Instance:
    instance = create_instance(owner, name="shop", transport="sandbox")
    request_running(instance)
    return instance


def test_an_instance_logged_out_between_scan_and_claim_is_not_taken(owner: Any) -> None:
    instance = running_sandbox(owner)
    clock = FakeClock()
    worker = make_worker(clock)
    with connection.execute_wrapper(before_the_claim(lambda: logout(instance, now=clock.now()))):
        tick(worker, clock)
    tick(worker, clock, 1)
    instance.refresh_from_db()
    assert (instance.status, instance.desired_state, instance.worker_id) == ("logged_out", "stopped", "")
    assert instance.pk not in worker.leased


def test_an_instance_stopped_between_scan_and_claim_is_never_dialed(owner: Any) -> None:
    instance = running_sandbox(owner)
    clock = FakeClock()
    worker = make_worker(clock)
    with connection.execute_wrapper(before_the_claim(lambda: request_stopped(instance))):
        tick(worker, clock)
    instance.refresh_from_db()
    assert (instance.status, instance.desired_state, instance.worker_id) == ("stopped", "stopped", "")
    assert instance.pk not in worker.leased


def test_a_breaker_reset_while_no_worker_held_the_instance_is_honoured_on_takeover(
    owner: Any, settings: Any
) -> None:
    from breaker import service as breaker_service
    from breaker.models import BreakerState
    from instances.service import nudge_reconnect

    settings.WAZIPER_BREAKER_THRESHOLD = 2
    instance = create_instance(owner, name="shop", transport="sandbox", sandbox={"connect": "fail"})
    request_running(instance)
    clock = FakeClock()
    first = make_worker(clock, "w1")
    tick(first, clock, 1, times=6)
    assert Instance.objects.get(pk=instance.pk).status == "breaker_open"
    first.shutdown(clock.now())  # a deploy: no worker for a moment
    Instance.objects.filter(pk=instance.pk).update(sandbox={"linked": True})  # the proxy was fixed
    breaker_service.reset(instance, source="api", now=clock.now(), actor="alice")  # what POST /reset-... does
    assert nudge_reconnect(instance, clock.now()) is None  # nobody to nudge
    second = make_worker(clock, "w2")
    tick(second, clock, 1, times=2)
    assert BreakerState.objects.get(instance=instance).state == "closed"
    assert Instance.objects.get(pk=instance.pk).status == "connected"


# --- sharing scarce capacity between owners ------------------------------------------------------


def running_for(owner: Any, n: int) -> list[Instance]:
    return [running_sandbox(owner) for _ in range(n)]


def test_a_full_worker_leases_the_small_tenants_instance_too(owner: Any, stranger: Any) -> None:
    bulk = running_for(owner, 5)  # created first: the oldest, which used to go first
    small = running_sandbox(stranger)
    clock = FakeClock()
    worker = make_worker(clock, capacity=2)
    tick(worker, clock)
    assert small.pk in worker.leased
    assert len(worker.leased.keys() & {i.pk for i in bulk}) == 1


def test_owners_take_turns_counting_what_they_already_hold(owner: Any, stranger: Any) -> None:
    from instances import leases

    mine = running_for(owner, 4)
    theirs = running_for(stranger, 4)
    now = FakeClock().now()
    first = leases.acquire("w1", now, 30, 3, held=[])
    assert [i.pk for i in first] == [mine[0].pk, mine[1].pk, theirs[0].pk]
    # Leased now: two of owner's, one of stranger's. Stranger's turn comes first.
    second = leases.acquire("w2", now, 30, 1, held=[])
    assert [i.pk for i in second] == [theirs[1].pk]
