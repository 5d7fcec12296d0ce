"""operations/control.py force_retry: the breaker reset recorded, and a dial now unless a
session is connected or connecting already."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from breaker.models import BreakerReset, BreakerState
from instances.models import Instance, InstanceCommand
from operations import control
from tests.support.worker_sim import hold, link, trip_breaker

pytestmark = pytest.mark.django_db


def test_it_resets_an_open_breaker_and_starts_the_session(
    instance: Instance, owner: Any, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 2
    trip_breaker(instance)
    assert control.force_retry(instance, user=owner, now=timezone.now()) == control.STARTED
    assert BreakerState.objects.get(instance=instance).state == "closed"
    reset = BreakerReset.objects.get(instance=instance)
    assert (reset.source, reset.reason, reset.user) == ("api", "force retry", owner)
    instance.refresh_from_db()
    assert instance.desired_state == "running"


def test_a_held_waiting_instance_is_told_to_dial_now(instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(desired_state="running", status="disconnected")
    hold(instance)
    assert control.force_retry(instance) == control.STARTED
    assert InstanceCommand.objects.filter(instance=instance, kind="reconnect").exists()


def test_a_held_connected_session_exists_already(instance: Instance) -> None:
    link(instance)
    Instance.objects.filter(pk=instance.pk).update(desired_state="running")
    hold(instance)
    assert control.force_retry(instance) == control.SESSION_EXISTS
    assert BreakerReset.objects.filter(instance=instance).count() == 1


def test_a_held_connecting_session_is_left_to_connect(instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(desired_state="running", status="connecting")
    hold(instance)
    assert control.force_retry(instance) == control.CONNECTING


def test_a_connected_row_no_worker_holds_is_started_again(instance: Instance) -> None:
    link(instance)
    assert control.force_retry(instance) == control.STARTED
