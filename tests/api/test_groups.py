"""The group endpoints end to end: API → command → a real worker → the sandbox phone's groups →
back, with the directory's cache in front of the reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from directory import cache
from instances.models import Instance, InstanceCommand
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db

STAFF = "120363000000000001@g.us"
NEWS = "120363000000000002@g.us"
GROUPS = [
    {
        "id": STAFF,
        "name": "Staff",
        "description": "Shifts",
        "participants": ["628200000002", {"phone": "628200000003", "superadmin": True}],
    },
    {"id": NEWS, "name": "News", "admin": False, "participants": ["628200000004"]},
]


@pytest.fixture
def phone(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    """A connected sandbox instance in two groups; the worker steps whenever a view waits."""
    instance = connected_sandbox(owner, worker, groups=GROUPS, on_whatsapp=["628200000002", "628200000005"])
    worker.run_while_waiting(fake_wait)
    return instance


def url(instance: Instance, rest: str = "") -> str:
    return f"/instances/{instance.instance_id}/groups{rest}"


def questions() -> list[str]:
    return [c.payload["op"] for c in InstanceCommand.objects.filter(kind="query").order_by("pk")]


def by_phone(group: dict[str, Any]) -> dict[str, tuple[bool, bool]]:
    return {p["phone"]: (p["admin"], p["superadmin"]) for p in group["participants"]}


# -- reading --------------------------------------------------------------------------------------


def test_the_list_shows_each_group_with_its_participants_and_admin_flags(
    owner_client: APIClient, phone: Instance
) -> None:
    response = owner_client.get(url(phone))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["count"], data["cached"]) == (2, False)
    assert [(g["name"], g["size"]) for g in data["groups"]] == [("News", 2), ("Staff", 3)]
    staff = data["groups"][1]
    assert (staff["id"], staff["description"]) == (STAFF, "Shifts")
    assert by_phone(staff) == {
        "628200000002": (False, False),
        "628200000003": (True, True),
        phone.jid.split(":")[0]: (True, False),
    }


def test_a_second_read_is_answered_from_the_database_without_asking_the_session(
    owner_client: APIClient, phone: Instance
) -> None:
    first = owner_client.get(url(phone)).json()["data"]
    second = owner_client.get(url(phone)).json()["data"]
    assert second["cached"] is True
    assert second["groups"] == first["groups"]
    assert second["fetched_at"] == first["fetched_at"]
    assert questions() == ["groups"]


def test_refresh_asks_the_session_again(owner_client: APIClient, phone: Instance) -> None:
    owner_client.get(url(phone))
    assert owner_client.get(url(phone), {"refresh": "1"}).json()["data"]["cached"] is False
    assert questions() == ["groups", "groups"]


def test_a_cache_of_zero_seconds_asks_every_time(
    owner_client: APIClient, phone: Instance, settings: Any
) -> None:
    settings.WAZIPER_GROUPS_CACHE_S = 0
    owner_client.get(url(phone))
    owner_client.get(url(phone))
    assert questions() == ["groups", "groups"]


def test_one_group_is_shown_with_when_it_was_read(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.get(url(phone, f"/{STAFF}"))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["group"]["id"], data["group"]["size"], data["cached"]) == (STAFF, 3, False)
    assert owner_client.get(url(phone, "/120363000000000001")).json()["data"]["cached"] is True


def test_a_group_the_account_is_not_in_is_404_with_the_sessions_reason(
    owner_client: APIClient, phone: Instance
) -> None:
    response = owner_client.get(url(phone, "/120363999999999999@g.us"))
    assert response.status_code == 404
    assert response.json()["reason"] == "not_found"


def test_a_malformed_group_id_is_400_naming_jid(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.get(url(phone, "/628200000002@s.whatsapp.net"))
    assert response.status_code == 400
    assert "jid" in response.json()["errors"]
    assert questions() == []


def test_a_stopped_instance_is_503_with_its_state(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.get(url(instance))
    assert response.status_code == 503
    assert response.json()["instance_status"] == "stopped"


def test_a_fresh_cache_answers_even_while_the_instance_is_stopped(
    owner_client: APIClient, instance: Instance
) -> None:
    cache.store_groups(instance, [], timezone.now())
    response = owner_client.get(url(instance))
    assert response.status_code == 200
    assert response.json()["data"] == {
        "count": 0,
        "groups": [],
        "fetched_at": response.json()["data"]["fetched_at"],
        "cached": True,
    }


# -- changing ----------------------------------------------------------------------------------


def test_create_answers_the_new_group_and_who_was_not_added(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.post(
        url(phone), {"name": "Launch", "participants": ["+628200000005", "628200000009"]}, format="json"
    )
    assert response.status_code == 201
    created = response.json()["data"]
    assert (created["name"], created["size"]) == ("Launch", 2)
    assert by_phone(created)[phone.jid.split(":")[0]] == (True, True)
    assert [(n["participant"], n["code"]) for n in created["not_added"]] == [("628200000009", 404)]
    assert created["created_at"].endswith("Z")


def test_a_created_group_is_in_the_cached_list_without_asking_again(
    owner_client: APIClient, phone: Instance
) -> None:
    owner_client.get(url(phone))
    created = owner_client.post(url(phone), {"name": "Launch"}, format="json").json()["data"]
    listed = owner_client.get(url(phone)).json()["data"]
    assert created["id"] in [g["id"] for g in listed["groups"]]
    assert questions() == ["groups", "group_create"]


def test_create_from_a_form_takes_comma_separated_participants(
    owner_client: APIClient, phone: Instance
) -> None:
    response = owner_client.post(url(phone), {"name": "Launch", "participants": "628200000005, 628200000002"})
    assert response.status_code == 201
    assert response.json()["data"]["size"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Launch", "participants": ["12"]}, "participants"),
        ({"name": "Launch", "participants": [5]}, "participants"),
    ],
)
def test_a_bad_create_is_400_naming_the_field(
    owner_client: APIClient, phone: Instance, body: dict[str, Any], field: str
) -> None:
    response = owner_client.post(url(phone), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_participants_are_changed_with_an_answer_each_and_the_group_read_again(
    owner_client: APIClient, phone: Instance
) -> None:
    owner_client.get(url(phone))
    response = owner_client.post(
        url(phone, f"/{STAFF}/participants"),
        {"action": "add", "phones": ["628200000005", "628200000002", "628200000009"]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "1 of 3 done"
    assert [(p["participant"], p["ok"], p["code"]) for p in body["data"]["participants"]] == [
        ("628200000005", True, None),
        ("628200000002", False, 409),
        ("628200000009", False, 404),
    ]
    listed = owner_client.get(url(phone)).json()["data"]
    assert listed["cached"] is False  # the change made the cached list stale
    assert [g["size"] for g in listed["groups"] if g["id"] == STAFF] == [4]


@pytest.mark.parametrize("action", ["promote", "demote", "remove"])
def test_promote_demote_and_remove_change_the_group(
    owner_client: APIClient, phone: Instance, action: str
) -> None:
    response = owner_client.post(
        url(phone, f"/{STAFF}/participants"), {"action": action, "phones": "628200000002"}, format="json"
    )
    assert response.json()["data"]["participants"][0]["ok"] is True
    after = owner_client.get(url(phone, f"/{STAFF}")).json()["data"]["group"]
    expected = {"promote": (True, False), "demote": (False, False), "remove": None}[action]
    assert by_phone(after).get("628200000002") == expected


def test_changes_in_a_group_the_account_does_not_administer_are_403_forbidden(
    owner_client: APIClient, phone: Instance
) -> None:
    response = owner_client.post(
        url(phone, f"/{NEWS}/participants"), {"action": "add", "phones": ["628200000005"]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phones": ["628200000005"]}, "action"),
        ({"action": "ban", "phones": ["628200000005"]}, "action"),
        ({"action": "add"}, "phones"),
        ({"action": "add", "phones": []}, "phones"),
        ({"action": "add", "phones": [f"6282000{i:05d}" for i in range(51)]}, "phones"),
        ({"action": "add", "phones": ["628200000005", "not-a-phone"]}, "phones"),
    ],
)
def test_a_bad_participant_change_is_400_naming_the_field(
    owner_client: APIClient, phone: Instance, body: dict[str, Any], field: str
) -> None:
    response = owner_client.post(url(phone, f"/{STAFF}/participants"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert questions() == []


def test_a_bad_phone_is_named_in_the_error(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.post(
        url(phone, f"/{STAFF}/participants"),
        {"action": "add", "phones": ["628200000005", "12ab"]},
        format="json",
    )
    assert "'12ab'" in response.json()["errors"]["phones"][0]


def test_the_invite_link_stays_until_reset(owner_client: APIClient, phone: Instance) -> None:
    first = owner_client.get(url(phone, f"/{STAFF}/invite-link")).json()["data"]
    again = owner_client.get(url(phone, f"/{STAFF}/invite-link")).json()["data"]
    reset = owner_client.get(url(phone, f"/{STAFF}/invite-link"), {"reset": "1"}).json()["data"]
    assert first["link"].startswith("https://chat.whatsapp.com/")
    assert again["link"] == first["link"]
    assert (reset["reset"], reset["link"] != first["link"]) == (True, True)


def test_leaving_a_group_drops_it_from_the_cached_list(owner_client: APIClient, phone: Instance) -> None:
    owner_client.get(url(phone))
    response = owner_client.post(url(phone, f"/{NEWS}/leave"))
    assert response.status_code == 200
    assert response.json()["data"] == {"group": NEWS, "left": True}
    listed = owner_client.get(url(phone)).json()["data"]
    assert [g["id"] for g in listed["groups"]] == [STAFF]
    assert listed["cached"] is True


# -- who may ---------------------------------------------------------------------------------------


@auth_matrix("GET", ok=200, action="view")
@pytest.mark.parametrize("rest", ["", f"/{STAFF}"])
def test_reads_are_for_those_who_may_view(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int, rest: str
) -> None:
    now = timezone.now()
    cache.store_groups(
        instance, [{"id": STAFF, "name": "Staff", "description": "", "size": 0, "participants": []}], now
    )
    assert_auth_outcome(call_as(request, who, where, "GET", url(instance, rest)), expected)


@auth_matrix("GET", ok=503, action="view")
def test_the_invite_link_is_for_those_who_may_view(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    # The instance is stopped: who may ask gets as far as the session, which cannot answer.
    assert_auth_outcome(call_as(request, who, where, "GET", url(instance, f"/{STAFF}/invite-link")), expected)


@auth_matrix("GET", ok=503, action="change")
def test_an_invite_link_reset_is_for_those_who_may_change(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    path = url(instance, f"/{STAFF}/invite-link")
    assert_auth_outcome(call_as(request, who, where, "GET", path, query={"reset": "1"}), expected)


@auth_matrix("POST", ok=503, action="change")
@pytest.mark.parametrize(
    ("rest", "body"),
    [
        ("", {"name": "Launch", "participants": "628200000005,628200000002"}),
        (f"/{STAFF}/participants", {"action": "add", "phones": "628200000005"}),
        (f"/{STAFF}/leave", {}),
    ],
)
def test_changes_are_for_those_who_may_change(
    request: pytest.FixtureRequest,
    instance: Instance,
    who: str,
    where: str,
    expected: int,
    rest: str,
    body: dict[str, Any],
) -> None:
    assert_auth_outcome(call_as(request, who, where, "POST", url(instance, rest), body=body), expected)
