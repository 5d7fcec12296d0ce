"""GET/DELETE /instances/<instance_id>: show one, delete one (and its session store)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from breaker.models import BreakerState
from instances.models import Instance, InstanceEvent
from instances.service import create_instance, request_running
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import trip_breaker

pytestmark = pytest.mark.django_db


def _url(instance: Instance | str) -> str:
    return f"/instances/{getattr(instance, 'instance_id', instance)}"


def _store(instance: Instance) -> Path:
    store = Path(instance.session_dir())
    store.mkdir(parents=True)
    (store / "whatsmeow.db").write_bytes(b"keys")
    return store


def test_it_shows_the_instance(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.get(_url(instance))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["instance_id"], data["name"], data["transport"]) == (instance.instance_id, "shop", "sandbox")
    assert data["status"] == "stopped"
    assert "last_qr" not in data
    assert "worker_id" not in data


def test_it_accepts_a_lower_case_id(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.get(_url(instance.instance_id.lower())).status_code == 200


def test_delete_removes_the_row_its_history_and_its_store(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 2
    trip_breaker(instance)
    store = _store(instance)
    response = owner_client.delete(_url(instance))
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Instance deleted",
        "instance_id": instance.instance_id,
    }
    assert not Instance.objects.exists()
    assert not BreakerState.objects.exists()
    assert not InstanceEvent.objects.exists()
    assert not store.exists()
    assert owner_client.get(_url(instance)).status_code == 404


def test_the_worker_holding_a_deleted_instance_closes_it_and_removes_its_store(
    owner_client: APIClient, owner: Any, worker: SteppedWorker, settings: Any
) -> None:
    phone = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    request_running(phone)
    worker.tick()
    assert worker.holds(phone.pk)
    store = _store(phone)
    assert owner_client.delete(_url(phone)).status_code == 200
    # The web request leaves the open session's store to its worker...
    assert store.exists()
    # ...which notices the row is gone at its next lease renewal (every third of the lease TTL).
    worker.tick(settings.WAZIPER_LEASE_TTL / 3)
    assert not worker.holds(phone.pk)
    assert not store.exists()


def test_delete_without_a_store_on_disk_is_fine(owner_client: APIClient, instance: Instance) -> None:
    assert not os.path.exists(instance.session_dir())
    assert owner_client.delete(_url(instance)).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_it_only_allows_get_and_delete(owner_client: APIClient, instance: Instance, method: str) -> None:
    assert getattr(owner_client, method)(_url(instance)).status_code == 405
    assert Instance.objects.exists()


@pytest.mark.parametrize("bad", ["nope", "6921B60FBF7D9X", "%2e%2e", "0" * 300])
def test_it_validates_the_id(owner_client: APIClient, bad: str) -> None:
    assert owner_client.get(_url(bad)).status_code == 404
    assert owner_client.delete(_url(bad)).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.get(_url("0123456789ABC")).json() == {
        "status": "error",
        "message": "The Instance ID provided has been invalidated",
        "reason": "No instance with this id, or not one you may view.",
    }


@auth_matrix("GET", ok=200, action="view")
def test_auth_matrix_show(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "GET", _url(instance)), expected)


@auth_matrix("DELETE", ok=200, action="delete")
def test_auth_matrix_delete(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "DELETE", _url(instance)), expected)
    assert Instance.objects.exists() == (expected != 200)


def test_status_detail_hides_internal_addresses_from_tenants_but_not_from_staff(
    owner_client: APIClient, api: APIClient, staff: Any, staff_token: str, instance: Instance
) -> None:
    staff.user_permissions.add(Permission.objects.get(codename="view_instance"))
    detail = "dial tcp 10.0.0.5:1080: connect: connection refused"
    Instance.objects.filter(pk=instance.pk).update(status_detail=detail)
    url = f"/instances/{instance.instance_id}"
    tenant = owner_client.get(url).json()["data"]["status_detail"]
    staff = api.get(url, {"access_token": staff_token}).json()["data"]["status_detail"]
    assert tenant == "dial tcp <address>: connect: connection refused"
    assert staff == detail
