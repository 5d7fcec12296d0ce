"""GET /instance: info and state; starts the session; 503 while the breaker refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import Instance
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker_sim import link, trip_breaker

pytestmark = pytest.mark.django_db
URL = "/instance"


def _get(client: APIClient, instance: Instance, **params: Any) -> Any:
    return _get_id(client, instance.instance_id, **params)


def _get_id(client: APIClient, instance_id: str, **params: Any) -> Any:
    return client.get(URL, {"instance_id": instance_id, **params})


def test_a_linked_phone_answers_wazipers_user_with_the_instance_beside_it(
    owner_client: APIClient, instance: Instance
) -> None:
    link(instance, jid="6281234567890:12@s.whatsapp.net")
    Instance.objects.filter(pk=instance.pk).update(push_name="Toko Andi")
    response = _get(owner_client, instance)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"]) == ("success", "Success")
    data = body["data"]
    assert (data["id"], data["name"]) == ("6281234567890:12@s.whatsapp.net", "Toko Andi")
    assert data["avatar"].startswith("https://ui-avatars.com/api/?name=Toko%20Andi&background=")
    assert data["instance_id"] == instance.instance_id
    assert data["instance_name"] == "shop"
    assert data["status"] == "connected"
    assert data["breaker"] == {
        "state": "closed",
        "allows_connect": True,
        "open_until": None,
        "retry_after_s": None,
    }


def test_a_linked_phone_without_a_push_name_is_named_by_its_number(
    owner_client: APIClient, instance: Instance
) -> None:
    link(instance, jid="6281234567890:12@s.whatsapp.net")
    assert _get(owner_client, instance).json()["data"]["name"] == "6281234567890"


def test_the_avatar_of_one_phone_is_the_same_on_every_call(
    owner_client: APIClient, instance: Instance
) -> None:
    link(instance)
    avatars = {_get(owner_client, instance).json()["data"]["avatar"] for _ in range(3)}
    assert len(avatars) == 1


def test_no_linked_phone_is_wazipers_relogin_error_with_the_state_beside_it(
    owner_client: APIClient, instance: Instance
) -> None:
    response = _get(owner_client, instance)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"], body["relogin"]) == ("error", "Error", True)
    assert (body["data"]["id"], body["data"]["name"], body["data"]["avatar"]) == (None, None, None)
    assert body["data"]["instance_id"] == instance.instance_id
    assert body["data"]["breaker"]["state"] == "closed"


def test_an_unknown_id_is_invalidated_unless_first_use_creates_it(
    owner_client: APIClient, owner: Any, settings: Any
) -> None:
    assert _get_id(owner_client, "664461B63FB8A").status_code == 404
    settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE = True
    response = _get_id(owner_client, "664461b63fb8a")
    assert response.status_code == 200
    assert response.json()["data"]["instance_id"] == "664461B63FB8A"
    assert Instance.objects.get(instance_id="664461B63FB8A").owner == owner


def test_first_use_never_takes_someone_elses_instance(
    owner_client: APIClient, stranger: Any, settings: Any
) -> None:
    settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE = True
    create_instance(stranger, transport="sandbox", instance_id="664461B63FB8A")
    response = _get_id(owner_client, "664461B63FB8A")
    assert response.status_code == 404
    assert response.json()["message"] == "The Instance ID provided has been invalidated"


def test_first_use_keeps_to_the_instance_limit(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE = True
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    response = _get_id(owner_client, "664461B63FB8A")
    assert response.status_code == 403
    assert "WAZIPER_MAX_INSTANCES_PER_OWNER" in response.json()["message"]
    assert not Instance.objects.filter(instance_id="664461B63FB8A").exists()


def test_first_use_of_a_malformed_id_says_why(owner_client: APIClient, settings: Any) -> None:
    settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE = True
    response = _get_id(owner_client, "QR_TEST_1700000000")
    assert response.status_code == 404
    assert "13 hexadecimal" in response.json()["reason"]


def test_it_starts_a_stopped_instance(owner_client: APIClient, instance: Instance) -> None:
    assert _get(owner_client, instance).json()["data"]["desired_state"] == "running"
    instance.refresh_from_db()
    assert instance.desired_state == "running"


@pytest.mark.parametrize("parked", ["qr_expired", "logged_out"])
def test_it_leaves_a_parked_instance_for_the_next_qr_request(
    owner_client: APIClient, instance: Instance, parked: str
) -> None:
    Instance.objects.filter(pk=instance.pk).update(status=parked)
    assert _get(owner_client, instance).json()["data"]["status"] == parked
    instance.refresh_from_db()
    assert instance.desired_state == "stopped"


def test_it_accepts_a_lower_case_id(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.get(URL, {"instance_id": instance.instance_id.lower()})
    assert response.status_code == 200


def test_it_is_503_with_retry_after_while_the_breaker_is_open(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    trip_breaker(instance)
    response = _get(owner_client, instance)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == "Unable to create session at this time."
    assert body["circuit_breaker"] is True
    assert body["breaker_state"] == "open"
    # 600 s cooldown ± 20 % jitter
    assert 480 <= body["retry_after"] <= 720
    assert response["Retry-After"] == str(body["retry_after"])


def test_a_forced_open_breaker_is_503_without_retry_after(
    owner_client: APIClient, instance: Instance
) -> None:
    trip_breaker(instance, forced=True)
    response = _get(owner_client, instance)
    assert response.status_code == 503
    body = response.json()
    assert body["circuit_breaker"] is True
    assert body["breaker_state"] == "forced_open"
    assert body["retry_after"] is None
    assert "GET /get_qrcode" in body["reason"]
    assert "Retry-After" not in response


def test_an_open_breaker_past_its_cooldown_lets_the_probe_through(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    trip_breaker(instance, at=timezone.now() - timedelta(hours=2))
    response = _get(owner_client, instance)
    assert response.status_code == 200
    assert response.json()["data"]["breaker"]["state"] == "open"
    assert response.json()["data"]["breaker"]["allows_connect"] is True


def test_it_requires_an_instance_id(owner_client: APIClient) -> None:
    response = owner_client.get(URL)
    assert response.status_code == 400
    assert response.json()["errors"] == {"instance_id": ["This field is required."]}
    assert response.json()["message"] == "The Instance ID must be provided for the process to be completed"


def test_it_only_allows_get(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(f"{URL}?instance_id={instance.instance_id}")
    assert response.status_code == 405
    assert response.json()["status"] == "error"


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.get(URL, {"instance_id": "not-an-id"}).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    response = owner_client.get(URL, {"instance_id": "0123456789ABC"})
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "The Instance ID provided has been invalidated",
        "reason": "No instance with this id, or not one you may view.",
    }


def test_it_is_throttled_per_token_with_retry_after(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_THROTTLE_RATE = "3/min"
    assert [_get(owner_client, instance).status_code for _ in range(3)] == [200, 200, 200]
    response = _get(owner_client, instance)
    assert response.status_code == 429
    assert response.json()["status"] == "error"
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["retry_after"] == int(response["Retry-After"])


@auth_matrix("GET", ok=200, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    link(instance)
    response = call_as(request, who, where, "GET", URL, query={"instance_id": instance.instance_id})
    assert_auth_outcome(response, expected)
