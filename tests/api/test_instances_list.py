"""GET/POST /instances: list yours, create one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import AccessToken, Instance, SandboxPhone
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as, staff_with

pytestmark = pytest.mark.django_db
URL = "/instances"


def test_it_lists_only_the_callers_instances(
    owner_client: APIClient, instance: Instance, stranger: Any
) -> None:
    create_instance(stranger, name="theirs", transport="sandbox")
    response = owner_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert [item["instance_id"] for item in body["data"]] == [instance.instance_id]
    assert body["data"][0]["owner"] == "alice"


def _listed(api: APIClient, user: Any) -> set[str]:
    raw = AccessToken.objects.issue(user)[1]
    return {item["name"] for item in api.get(URL, {"access_token": raw}).json()["data"]}


def test_staff_without_permissions_list_only_their_own(
    api: APIClient, staff: Any, instance: Instance, stranger: Any
) -> None:
    create_instance(stranger, name="theirs", transport="sandbox")
    create_instance(staff, name="staff's own", transport="sandbox")
    assert _listed(api, staff) == {"staff's own"}


def test_the_view_permission_lists_every_instance(api: APIClient, instance: Instance, stranger: Any) -> None:
    create_instance(stranger, name="theirs", transport="sandbox")
    assert _listed(api, staff_with("viewer", "view_instance")) == {"shop", "theirs"}


def test_a_superuser_lists_every_instance(
    api: APIClient, admin_user: Any, instance: Instance, stranger: Any
) -> None:
    create_instance(stranger, name="theirs", transport="sandbox")
    assert _listed(api, admin_user) == {"shop", "theirs"}


def test_it_creates_a_stopped_instance_from_json(owner_client: APIClient, owner: Any) -> None:
    response = owner_client.post(
        URL,
        {"name": "support", "transport": "sandbox", "sandbox": {"connect": "fail"}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Instance created"
    created = Instance.objects.get(instance_id=body["data"]["instance_id"])
    assert (created.owner, created.name, created.sandbox) == (owner, "support", {"connect": "fail"})
    assert (created.desired_state, created.status) == ("stopped", "stopped")
    assert SandboxPhone.objects.filter(instance=created).exists()


def test_it_creates_from_a_form_with_sandbox_json_as_text(owner_client: APIClient) -> None:
    response = owner_client.post(
        URL, {"name": "form", "transport": "sandbox", "sandbox": json.dumps({"latency_ms": 50})}
    )
    assert response.status_code == 201
    assert response.json()["data"]["sandbox"] == {"latency_ms": 50}


def test_the_transport_defaults_to_the_setting(owner_client: APIClient, settings: Any) -> None:
    settings.WAZIPER_DEFAULT_TRANSPORT = "sandbox"
    assert owner_client.post(URL, {}, format="json").json()["data"]["transport"] == "sandbox"


def test_it_takes_a_proxy(owner_client: APIClient) -> None:
    response = owner_client.post(
        URL, {"transport": "neonize", "proxy_url": "socks5://93.184.215.14:1080"}, format="json"
    )
    assert response.json()["data"]["proxy_url"] == "socks5://93.184.215.14:1080"


INTERNAL_PROXIES = [
    "socks5://127.0.0.1:1080",
    "http://10.0.0.5:3128",
    "socks5h://192.168.1.1:1080",
    "socks5://169.254.169.254:1080",
    "socks5://[::1]:1080",
    "socks5://[fe80::1]:1080",
    "socks5://[::ffff:127.0.0.1]:1080",
    "socks5://localhost:1080",
]


@pytest.mark.parametrize("proxy", INTERNAL_PROXIES)
def test_a_tenants_proxy_on_an_internal_address_is_400(owner_client: APIClient, proxy: str) -> None:
    response = owner_client.post(URL, {"transport": "neonize", "proxy_url": proxy}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["proxy_url"]
    assert "WAZIPER_ALLOW_PRIVATE_PROXY_URLS" in response.json()["errors"]["proxy_url"][0]
    assert not Instance.objects.exists()


def test_staff_may_set_a_proxy_on_an_internal_address(api: APIClient, staff_token: str) -> None:
    body = {"transport": "neonize", "proxy_url": "socks5://127.0.0.1:1080"}
    response = api.post(f"{URL}?access_token={staff_token}", body, format="json")
    assert response.status_code == 201


def test_the_operator_may_allow_internal_proxies_for_everyone(owner_client: APIClient, settings: Any) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_PROXY_URLS = True
    body = {"transport": "neonize", "proxy_url": "socks5://127.0.0.1:1080"}
    assert owner_client.post(URL, body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"transport": "telegram"}, "transport"),
        ({"proxy_url": "ftp://host:21"}, "proxy_url"),
        ({"proxy_url": "socks5://host"}, "proxy_url"),
        ({"proxy_url": "socks5://[::1:1080"}, "proxy_url"),  # urlsplit: ValueError
        ({"name": "x" * 101}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"transport": "sandbox", "sandbox": {"connect": "sometimes"}}, "sandbox"),
        ({"transport": "sandbox", "sandbox": "{not json"}, "sandbox"),
        ({"transport": "sandbox", "sandbox": [1]}, "sandbox"),
        ({"transport": "neonize", "sandbox": {"connect": "fail"}}, "sandbox"),
    ],
)
def test_bad_fields_are_400_naming_the_field(owner_client: APIClient, payload: dict, field: str) -> None:
    response = owner_client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert list(response.json()["errors"]) == [field]
    assert not Instance.objects.exists()


def test_sandbox_json_text_nested_too_deeply_is_400(owner_client: APIClient) -> None:
    response = owner_client.post(
        "/instances", {"transport": "sandbox", "sandbox": "[" * 100_000}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["sandbox"] == ["Must be a JSON object."]


def test_a_json_array_body_is_400(owner_client: APIClient) -> None:
    assert owner_client.post(URL, [1, 2], format="json").status_code == 400


def test_an_oversized_body_is_413(owner_client: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = owner_client.post(URL, {"name": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"status": "error", "message": "Request body too large."}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_only_allows_get_and_post(owner_client: APIClient, method: str) -> None:
    assert getattr(owner_client, method)(URL).status_code == 405


@auth_matrix("GET", ok=200, stranger=200, action=None)
def test_auth_matrix_list(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    response = call_as(request, who, where, "GET", URL)
    assert_auth_outcome(response, expected)
    if who in ("stranger", "staff"):
        assert response.json()["data"] == []


@auth_matrix("POST", ok=201, stranger=201, action=None)
def test_auth_matrix_create(request: pytest.FixtureRequest, who: str, where: str, expected: int) -> None:
    response = call_as(request, who, where, "POST", URL, body={"name": "new", "transport": "sandbox"})
    assert_auth_outcome(response, expected)
    assert Instance.objects.filter(name="new").count() == (1 if expected == 201 else 0)


def test_creating_past_the_instance_limit_is_403_naming_it(
    owner_client: APIClient, owner: Any, settings: Any
) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 2
    codes = [owner_client.post(URL, {"transport": "sandbox"}, format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 403]
    response = owner_client.post(URL, {"transport": "sandbox"}, format="json")
    assert response.json()["status"] == "error"
    assert "WAZIPER_MAX_INSTANCES_PER_OWNER=2" in response.json()["message"]
    assert Instance.objects.filter(owner=owner).count() == 2


def test_it_creates_an_instance_with_a_chosen_id(owner_client: APIClient) -> None:
    response = owner_client.post("/instances", {"instance_id": "664461b63fb8a", "transport": "sandbox"})
    assert response.status_code == 201
    assert response.json()["data"]["instance_id"] == "664461B63FB8A"


@pytest.mark.parametrize("bad", ["QR_TEST_1", "664461B63FB8", "664461B63FB8Z"])
def test_a_malformed_chosen_id_is_400_naming_it(owner_client: APIClient, bad: str) -> None:
    response = owner_client.post("/instances", {"instance_id": bad, "transport": "sandbox"})
    assert response.status_code == 400
    assert "instance_id" in response.json()["errors"]


def test_a_chosen_id_in_use_is_409_naming_it(owner_client: APIClient, stranger: Any) -> None:
    create_instance(stranger, transport="sandbox", instance_id="664461B63FB8A")
    response = owner_client.post("/instances", {"instance_id": "664461B63FB8A", "transport": "sandbox"})
    assert response.status_code == 409
    assert "instance_id" in response.json()["errors"]
    assert Instance.objects.get(instance_id="664461B63FB8A").owner == stranger
