"""Lease claims racing the web side: the web's change lands between the worker's scan for
candidates and its conditional UPDATE (interleaved with Django's execute_wrapper hook)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from instances.models import Instance
from instances.runtime.clock import FakeClock
from instances.service import create_instance, logout, request_running, request_stopped
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
    assert instance.pk not in worker.held


def test_an_instance_stopped_between_scan_and_claim_is_never_dialed(owner: Any) -> None:
    instance = running_sandbox(owner)
    clock = FakeClock()
    worker = make_worker(clock)
    with connection.execute_wrapper(before_the_claim(lambda: request_stopped(instance))):
        tick(worker, clock)
    instance.refresh_from_db()
    assert (instance.status, instance.desired_state, instance.worker_id) == ("stopped", "stopped", "")
    assert instance.pk not in worker.held
