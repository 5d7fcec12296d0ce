"""GET /circuit-breaker-status/<instance_id>: state, window, limits and recent failures."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from breaker import service as breaker_service
from instances.models import Instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker_sim import hold, link, trip_breaker

pytestmark = pytest.mark.django_db
ISSUE_KEYS = {
    "state",
    "failures_in_window",
    "threshold",
    "window_s",
    "cooldown_s",
    "opened_at",
    "open_until",
    "retry_attempts",
    "recent_failure_events",
}
# Waziper's server's keys, beside this project's.
WAZIPER_KEYS = {
    "instance_id",
    "retry_attempts",
    "recent_failures",
    "circuit_breaker_active",
    "session_exists",
    "connecting",
    "last_failure_timestamps",
}


def _url(instance: Instance | str) -> str:
    return f"/circuit-breaker-status/{getattr(instance, 'instance_id', instance)}"


def test_a_fresh_instance_is_closed_with_the_default_limits(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.get(_url(instance))
    assert response.status_code == 200
    data = response.json()["data"]
    assert ISSUE_KEYS <= set(data)
    assert (data["state"], data["failures_in_window"], data["recent_failure_events"]) == ("closed", 0, [])
    assert (data["threshold"], data["window_s"], data["cooldown_s"]) == (15, 300, 600)
    assert data["opened_at"] is None
    assert data["open_until"] is None


def test_an_open_breaker_shows_its_failures_and_until_when(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    Instance.objects.filter(pk=instance.pk).update(retry_attempts=2)
    trip_breaker(instance)
    data = owner_client.get(_url(instance)).json()["data"]
    assert (data["state"], data["failures_in_window"], data["threshold"]) == ("open", 3, 3)
    assert data["opened_at"] is not None
    assert data["open_until"] > data["opened_at"]
    assert data["retry_attempts"] == 2
    assert data["recent_failure_events"][0]["kind"] == "connect_failed"
    assert data["recent_failure_events"][0]["detail"] == "dial refused"
    assert {"at", "kind", "detail"} <= set(data["recent_failure_events"][0])


def test_a_reset_clears_the_window_but_not_the_history(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    trip_breaker(instance)
    breaker_service.reset(instance, source="api", now=timezone.now())
    data = owner_client.get(_url(instance)).json()["data"]
    assert (data["state"], data["failures_in_window"], len(data["recent_failure_events"])) == ("closed", 0, 3)


def test_a_fresh_instance_answers_wazipers_keys(owner_client: APIClient, instance: Instance) -> None:
    data = owner_client.get(_url(instance)).json()["data"]
    assert WAZIPER_KEYS <= set(data)
    assert data["instance_id"] == instance.instance_id
    assert data["recent_failures"] == 0
    assert data["circuit_breaker_active"] is False
    assert data["session_exists"] is False
    assert data["connecting"] is False
    assert data["last_failure_timestamps"] == []


def test_recent_failures_is_the_count_in_the_window_as_waziper_means_it(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    at = timezone.now()
    trip_breaker(instance, at=at)
    data = owner_client.get(_url(instance)).json()["data"]
    assert data["recent_failures"] == 3
    assert data["circuit_breaker_active"] is True
    assert data["last_failure_timestamps"] == [int(at.timestamp() * 1000)] * 3


def test_a_held_connecting_instance_has_a_session_that_is_connecting(
    owner_client: APIClient, instance: Instance
) -> None:
    Instance.objects.filter(pk=instance.pk).update(status="connecting")
    hold(instance)
    data = owner_client.get(_url(instance)).json()["data"]
    assert data["session_exists"] is True
    assert data["connecting"] is True


def test_a_connected_instance_nobody_holds_has_no_session(
    owner_client: APIClient, instance: Instance
) -> None:
    link(instance)
    data = owner_client.get(_url(instance)).json()["data"]
    assert data["session_exists"] is False


def test_it_only_allows_get(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(_url(instance)).status_code == 405


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.get(_url("DROP TABLE")).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.get(_url("0123456789ABC")).status_code == 404


@auth_matrix("GET", ok=200, action="view")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "GET", _url(instance)), expected)


def test_failure_details_hide_internal_addresses_from_tenants_but_not_from_staff(
    owner_client: APIClient, api: APIClient, staff: Any, staff_token: str, instance: Instance
) -> None:
    staff.user_permissions.add(Permission.objects.get(codename="view_instance"))
    detail = "dial tcp 10.0.0.5:1080: connect: connection refused; lookup x on 127.0.0.53:53: no such host"
    breaker_service.record_failure(instance, "connect_failed", detail, now=timezone.now())
    tenant = owner_client.get(_url(instance)).json()["data"]["recent_failure_events"][0]["detail"]
    staff = api.get(_url(instance), {"access_token": staff_token}).json()["data"]["recent_failure_events"][0]
    assert tenant == "dial tcp <address>: connect: connection refused; lookup x: no such host"
    assert staff["detail"] == detail
