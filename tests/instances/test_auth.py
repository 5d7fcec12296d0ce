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
    assert response.json() == {"status": "error", "message": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Bearer"


def test_bad_token_is_401(api: APIClient) -> None:
    response = api.get("/instances", {"access_token": "wzp_nope"})
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked access token."


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
    assert response.json() == {"status": "error", "message": "Instance not found."}
