"""Waziper's server paths this project had no equivalent of: GET /, GET /generate-instance-id,
POST /force-retry/<id>."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from breaker.models import BreakerReset
from instances.models import Instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait, hold, link

pytestmark = pytest.mark.django_db


def test_the_root_welcomes_like_waziper_without_a_token(api: APIClient) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.content == b'{"status":"success","message":"Welcome to WAZIPER"}'


def test_the_root_ignores_a_bad_token(api: APIClient) -> None:
    assert api.get("/", {"access_token": "nope"}).status_code == 200


def test_generate_instance_id_answers_an_unused_id_in_wazipers_shape(
    api: APIClient, instance: Instance
) -> None:
    response = api.get("/generate-instance-id")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "instance_id", "message"]
    assert (body["status"], body["message"]) == (
        "success",
        "Use this instance_id to create a new WhatsApp session",
    )
    assert re.fullmatch(r"[0-9A-F]{13}", body["instance_id"])
    assert body["instance_id"] != instance.instance_id


def test_generate_instance_id_creates_nothing(api: APIClient) -> None:
    api.get("/generate-instance-id")
    assert not Instance.objects.exists()


def test_force_retry_resets_and_starts_in_wazipers_words(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(f"/force-retry/{instance.instance_id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"]) == ("success", "Retry triggered")
    assert body["data"] == {
        "success": True,
        "message": "Retry initiated successfully",
        "session_created": True,
    }
    assert BreakerReset.objects.filter(instance=instance).count() == 1


def test_force_retry_on_a_connected_session_says_it_exists(
    owner_client: APIClient, instance: Instance
) -> None:
    link(instance)
    Instance.objects.filter(pk=instance.pk).update(desired_state="running")
    hold(instance)
    data = owner_client.post(f"/force-retry/{instance.instance_id}").json()["data"]
    assert data == {"success": False, "message": "Session already exists", "session_exists": True}


def test_force_retry_without_a_token_is_wazipers_access_token_required(
    api: APIClient, instance: Instance
) -> None:
    response = api.post(f"/force-retry/{instance.instance_id}")
    assert response.status_code == 401
    assert response.json()["message"] == "Access token required"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not BreakerReset.objects.exists()


def test_force_retry_with_a_bad_token_fails_authentication(api: APIClient, instance: Instance) -> None:
    response = api.post(f"/force-retry/{instance.instance_id}?access_token=nope")
    assert response.status_code == 401
    assert response.json()["message"] == "The authentication process has failed"


@auth_matrix("POST", ok=200, action="change")
def test_force_retry_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    response = call_as(request, who, where, "POST", f"/force-retry/{instance.instance_id}")
    if who == "nobody":
        assert response.status_code == 401
        assert response.json()["message"] == "Access token required"
        return
    assert_auth_outcome(response, expected)


def test_force_retry_is_post_only(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.get(f"/force-retry/{instance.instance_id}").status_code == 405


# --- GET /get_groups ----------------------------------------------------------------------------

STAFF = "120363000000000001@g.us"
GROUPS = [
    {
        "id": STAFF,
        "name": "Staff",
        "description": "Shifts",
        "participants": ["628200000002", {"phone": "628200000003", "superadmin": True}],
    },
    {"id": "120363000000000002@g.us", "name": "News", "admin": False, "participants": ["628200000004"]},
]


@pytest.fixture
def in_groups(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    instance = connected_sandbox(owner, worker, groups=GROUPS)
    worker.run_while_waiting(fake_wait)
    return instance


def test_get_groups_answers_wazipers_shape(owner_client: APIClient, in_groups: Instance) -> None:
    response = owner_client.get("/get_groups", {"instance_id": in_groups.instance_id})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"], body["count"], body["cached"]) == (
        "success",
        "Success",
        2,
        False,
    )
    staff = next(group for group in body["data"] if group["id"] == STAFF)
    assert list(staff)[:5] == ["id", "name", "size", "desc", "participants"]
    assert (staff["name"], staff["size"], staff["desc"]) == ("Staff", 3, "Shifts")
    roles = {p["phone"]: (p["admin"], p["is_admin"]) for p in staff["participants"]}
    assert roles["628200000002"] == (None, False)
    assert roles["628200000003"] == ("superadmin", True)
    assert roles[in_groups.jid.split(":")[0].split("@")[0]] == ("admin", True)


def test_get_groups_is_the_same_list_as_the_instances_groups(
    owner_client: APIClient, in_groups: Instance
) -> None:
    listed = owner_client.get(f"/instances/{in_groups.instance_id}/groups").json()["data"]["groups"]
    waziper = owner_client.get("/get_groups", {"instance_id": in_groups.instance_id}).json()["data"]
    assert [(g["id"], g["name"], g["size"]) for g in waziper] == [
        (g["id"], g["name"], g["size"]) for g in listed
    ]


def test_get_groups_with_no_live_session_is_an_empty_list_as_waziper_gives(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.get("/get_groups", {"instance_id": instance.instance_id})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["data"], body["count"]) == ("success", [], 0)
    assert body["instance_status"] == "stopped"
    assert body["reason"]


def test_get_groups_answers_a_fresh_list_while_disconnected(
    owner_client: APIClient, in_groups: Instance
) -> None:
    owner_client.get("/get_groups", {"instance_id": in_groups.instance_id})
    Instance.objects.filter(pk=in_groups.pk).update(status="disconnected")
    body = owner_client.get("/get_groups", {"instance_id": in_groups.instance_id}).json()
    assert (body["count"], body["cached"]) == (2, True)


def test_get_groups_is_504_when_the_session_does_not_answer(
    owner_client: APIClient, owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected_sandbox(owner, worker, query="hang")
    worker.run_while_waiting(fake_wait)
    response = owner_client.get("/get_groups", {"instance_id": instance.instance_id})
    assert response.status_code == 504
    assert response.json()["status"] == "error"


@auth_matrix("GET", ok=200, action="view")
def test_get_groups_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    response = call_as(request, who, where, "GET", "/get_groups", query={"instance_id": instance.instance_id})
    assert_auth_outcome(response, expected)
