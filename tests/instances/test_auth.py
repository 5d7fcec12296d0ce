"""The auth matrix on the instance list: where the token may come from and whose instances show."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import AccessToken, Instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_instances(owner: Any, stranger: Any) -> tuple[Instance, Instance]:
    return (
        Instance.objects.create(owner=owner, transport="sandbox", name="mine"),
        Instance.objects.create(owner=stranger, transport="sandbox", name="theirs"),
    )


def _names(response: Any) -> set[str]:
    return {item["name"] for item in response.json()["data"]}


def test_no_token_is_401_with_the_envelope(api: APIClient) -> None:
    response = api.get("/instances")
    assert response.status_code == 401
    assert response.json() == {
        "status": "error",
        "message": "The authentication process has failed",
        "reason": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == "Bearer"


def test_bad_token_is_401(api: APIClient) -> None:
    response = api.get("/instances", {"access_token": "wzp_nope"})
    assert response.status_code == 401
    assert response.json()["message"] == "The authentication process has failed"
    assert response.json()["reason"] == "Invalid or revoked access token."


def test_revoked_token_is_401(api: APIClient, owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    token.revoke()
    assert api.get("/instances", {"access_token": raw}).status_code == 401


def test_malformed_bearer_header_is_401(api: APIClient) -> None:
    response = api.get("/instances", HTTP_AUTHORIZATION="Bearer a b")
    assert response.status_code == 401


def test_owner_sees_only_their_instances(api: APIClient, owner_token: str, two_instances: Any) -> None:
    response = api.get("/instances", {"access_token": owner_token})
    assert response.status_code == 200
    assert _names(response) == {"mine"}


def test_stranger_sees_only_theirs(api: APIClient, stranger_token: str, two_instances: Any) -> None:
    assert _names(api.get("/instances", {"access_token": stranger_token})) == {"theirs"}


def test_staff_without_permissions_see_none_of_theirs(
    api: APIClient, staff_token: str, two_instances: Any
) -> None:
    assert _names(api.get("/instances", {"access_token": staff_token})) == set()


def test_a_superuser_sees_all(api: APIClient, admin_user: Any, two_instances: Any) -> None:
    raw = AccessToken.objects.issue(admin_user)[1]
    assert _names(api.get("/instances", {"access_token": raw})) == {"mine", "theirs"}


def test_token_in_bearer_header(api: APIClient, owner_token: str, two_instances: Any) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    assert _names(api.get("/instances")) == {"mine"}


def test_token_in_form_body(api: APIClient, owner_token: str) -> None:
    response = api.post("/instances", {"access_token": owner_token, "name": "form", "transport": "sandbox"})
    assert response.status_code == 201
    assert Instance.objects.get(name="form").owner.username == "alice"


def test_token_in_json_body(api: APIClient, owner_token: str) -> None:
    response = api.post(
        "/instances", {"access_token": owner_token, "name": "json", "transport": "sandbox"}, format="json"
    )
    assert response.status_code == 201
    assert Instance.objects.get(name="json").owner.username == "alice"


def test_other_tenants_instance_is_404_not_403(
    api: APIClient, stranger_token: str, two_instances: Any
) -> None:
    mine = two_instances[0]
    response = api.get(f"/instances/{mine.instance_id}", {"access_token": stranger_token})
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "The Instance ID provided has been invalidated",
        "reason": "No instance with this id, or not one you may view.",
    }


# --- failed authentications per client address (instances/throttling.py) ----------------------


def test_fifty_bad_tokens_meet_a_429_long_before_the_fiftieth(api: APIClient, settings: Any) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "20/min"
    statuses = [api.get("/instances", {"access_token": f"wzp_guess{i}"}).status_code for i in range(50)]
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}


def test_a_locked_address_is_refused_with_retry_after_before_its_token_is_checked(
    api: APIClient, owner_token: str, settings: Any
) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"
    for _ in range(3):
        api.get("/instances", {"access_token": "wzp_nope"})
    response = api.get("/instances", {"access_token": owner_token})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 20
    assert response.json()["message"].startswith("Too many failed authentications from your address")
    elsewhere = api.get("/instances", {"access_token": owner_token}, REMOTE_ADDR="198.51.100.8")
    assert elsewhere.status_code == 200


def test_a_forged_forwarded_header_does_not_escape_the_lock(api: APIClient, settings: Any) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"
    statuses = [
        api.get("/instances", {"access_token": "wzp_nope"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_lock(api: APIClient, settings: Any) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"
    settings.WAZIPER_TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(3):
        api.get("/instances", {"access_token": "wzp_nope"}, HTTP_X_FORWARDED_FOR="203.0.113.1")
    locked = api.get("/instances", {"access_token": "wzp_nope"}, HTTP_X_FORWARDED_FOR="203.0.113.1")
    other = api.get("/instances", {"access_token": "wzp_nope"}, HTTP_X_FORWARDED_FOR="203.0.113.2")
    assert (locked.status_code, other.status_code) == (429, 401)
