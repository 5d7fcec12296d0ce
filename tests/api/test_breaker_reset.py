"""POST /reset-circuit-breaker/<instance_id>: the seed's endpoint, now authenticated."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from breaker.models import BreakerReset, BreakerState, FailureEvent
from instances.models import Instance, InstanceCommand
from instances.service import create_instance, request_running
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import hold, trip_breaker

pytestmark = pytest.mark.django_db


def _url(instance: Instance | str) -> str:
    return f"/reset-circuit-breaker/{getattr(instance, 'instance_id', instance)}"


@pytest.fixture
def tripped(instance: Instance, settings: Any) -> Instance:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    trip_breaker(instance)
    assert BreakerState.objects.get(pk=instance.pk).state == "open"
    return instance


def test_it_answers_the_seeds_exact_body(owner_client: APIClient, tripped: Instance) -> None:
    response = owner_client.post(_url(tripped))
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": f"Circuit breaker reset successfully for instance: {tripped.instance_id}",
        "instance_id": tripped.instance_id,
    }


def test_it_closes_the_breaker_and_keeps_the_history(
    owner_client: APIClient, owner: Any, tripped: Instance
) -> None:
    owner_client.post(_url(tripped), {"reason": "carrier fixed the APN"}, format="json")
    state = BreakerState.objects.get(pk=tripped.pk)
    assert state.state == "closed"
    assert FailureEvent.objects.filter(instance=tripped).count() == 3
    reset = BreakerReset.objects.get(instance=tripped)
    assert (reset.source, reset.user, reset.reason, reset.previous_state) == (
        "api",
        owner,
        "carrier fixed the APN",
        "open",
    )


def test_it_closes_a_forced_open_breaker(owner_client: APIClient, instance: Instance) -> None:
    trip_breaker(instance, forced=True)
    assert owner_client.post(_url(instance)).status_code == 200
    assert BreakerState.objects.get(pk=instance.pk).state == "closed"


def test_resetting_a_closed_breaker_is_recorded_too(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(_url(instance)).status_code == 200
    assert BreakerReset.objects.get(instance=instance).previous_state == "closed"


def test_the_worker_holding_the_instance_reconnects_at_once(
    owner_client: APIClient, owner: Any, settings: Any
) -> None:
    # Without the reset's `reconnect` command the worker would wait out the 600 s cooldown.
    settings.WAZIPER_BREAKER_THRESHOLD = 1
    failing = create_instance(owner, transport="sandbox", sandbox={"connect": "fail"})
    request_running(failing)
    worker = SteppedWorker()
    worker.tick()
    worker.tick(1)
    assert Instance.objects.get(pk=failing.pk).status == "breaker_open"
    Instance.objects.filter(pk=failing.pk).update(sandbox={})  # the network is back
    owner_client.post(_url(failing))
    worker.tick(times=2)
    assert Instance.objects.get(pk=failing.pk).status == "qr_pending"
    assert InstanceCommand.objects.get(instance=failing).result == {"ok": True}


def test_one_pending_reconnect_is_enough(owner_client: APIClient, tripped: Instance) -> None:
    Instance.objects.filter(pk=tripped.pk).update(desired_state="running", status="breaker_open")
    hold(tripped)
    owner_client.post(_url(tripped))
    owner_client.post(_url(tripped))
    assert list(InstanceCommand.objects.values_list("kind", flat=True)) == ["reconnect"]


def test_without_a_worker_holding_it_no_command_is_left_waiting(
    owner_client: APIClient, tripped: Instance
) -> None:
    Instance.objects.filter(pk=tripped.pk).update(desired_state="running")
    owner_client.post(_url(tripped))
    assert not InstanceCommand.objects.exists()


def test_a_too_long_reason_is_400(owner_client: APIClient, tripped: Instance) -> None:
    response = owner_client.post(_url(tripped), {"reason": "x" * 501}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason"]
    assert BreakerState.objects.get(pk=tripped.pk).state == "open"


def test_it_only_allows_post(owner_client: APIClient, tripped: Instance) -> None:
    assert owner_client.get(_url(tripped)).status_code == 405
    assert BreakerState.objects.get(pk=tripped.pk).state == "open"


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.post(_url("6921B60FBF7D9'")).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.post(_url("6921B60FBF7D9")).json() == {
        "status": "error",
        "message": "The Instance ID provided has been invalidated",
        "reason": "No instance with this id, or not one you may view.",
    }


@auth_matrix("POST", ok=200, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, tripped: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "POST", _url(tripped)), expected)
    state = BreakerState.objects.get(pk=tripped.pk).state
    assert state == ("closed" if expected == 200 else "open")
