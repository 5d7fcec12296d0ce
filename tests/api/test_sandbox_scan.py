"""POST /sandbox/<instance_id>/scan: the simulated phone scans the QR code it is shown."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, SandboxPhone
from instances.service import create_instance, request_running
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import show_qr

pytestmark = pytest.mark.django_db


def _url(instance: Instance | str) -> str:
    return f"/sandbox/{getattr(instance, 'instance_id', instance)}/scan"


def test_the_worker_links_the_phone_after_the_scan(
    owner_client: APIClient, instance: Instance, worker: SteppedWorker
) -> None:
    request_running(instance)
    worker.tick()
    response = owner_client.post(_url(instance))
    assert response.status_code == 202
    assert response.json()["qr_shown"] is True
    worker.tick()
    instance.refresh_from_db()
    assert instance.status == "connected"
    assert instance.jid.endswith("@s.whatsapp.net")


def test_it_records_the_scan_for_the_worker(owner_client: APIClient, instance: Instance) -> None:
    show_qr(instance)
    response = owner_client.post(_url(instance))
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Scan requested",
        "instance_id": instance.instance_id,
        "qr_shown": True,
    }
    assert SandboxPhone.objects.get(instance=instance).scan_requested_at is not None


def test_without_a_qr_code_shown_it_waits_for_the_next_one(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.post(_url(instance))
    assert response.status_code == 202
    assert response.json()["qr_shown"] is False
    assert SandboxPhone.objects.get(instance=instance).scan_requested_at is not None


def test_a_neonize_instance_is_409(owner_client: APIClient, owner: Any) -> None:
    real = create_instance(owner, transport="neonize")
    response = owner_client.post(_url(real))
    assert response.status_code == 409
    assert response.json() == {"status": "error", "message": "Only sandbox instances have a simulated phone."}


def test_it_only_allows_post(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.get(_url(instance)).status_code == 405


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.post(_url("not-hex-at-all")).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.post(_url("0123456789ABC")).status_code == 404


@auth_matrix("POST", ok=202, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "POST", _url(instance)), expected)
    requested = SandboxPhone.objects.get(instance=instance).scan_requested_at
    assert (requested is not None) == (expected == 202)


def test_a_body_access_token_that_is_not_a_string_is_a_400_naming_it(
    owner_client: APIClient, instance: Instance
) -> None:
    show_qr(instance)
    response = owner_client.post(_url(instance), {"access_token": 9147906}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"access_token"}
    assert SandboxPhone.objects.get(instance=instance).scan_requested_at is None
