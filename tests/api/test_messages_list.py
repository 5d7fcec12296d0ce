"""GET /messages: received and sent messages together, newest first, filtered by instance,
direction, chat and time, one cursor page at a time, only of instances the caller may view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.inbox import T0, receive
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db


def at(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


def listed(client: APIClient, **query: Any) -> dict[str, Any]:
    response = client.get("/messages", query)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def test_both_directions_come_newest_first(owner_client: APIClient, instance: Instance) -> None:
    old_in = receive(instance, now=at(1), text="first")
    sent = queue_message(instance, created_at=at(2))
    new_in = receive(instance, now=at(3), text="third")
    body = listed(owner_client)
    assert ids(body) == [new_in.api_id, str(sent.message_id), old_in.api_id]
    assert [item["direction"] for item in body["data"]] == ["in", "out", "in"]
    assert body["next"] is None


def test_a_received_message_is_listed_as_the_api_shows_it_without_its_raw_copy(
    owner_client: APIClient, instance: Instance
) -> None:
    message = receive(instance, text="halo", push_name="Budi")
    [item] = listed(owner_client)["data"]
    assert (item["id"], item["text"], item["push_name"], item["instance_id"]) == (
        message.api_id,
        "halo",
        "Budi",
        instance.instance_id,
    )
    assert "raw" not in item


def test_a_sent_message_is_listed_with_its_status(owner_client: APIClient, instance: Instance) -> None:
    sent = queue_message(instance, status="read")
    [item] = listed(owner_client)["data"]
    assert (item["id"], item["message_id"], item["status"]) == (str(sent.message_id),) * 2 + ("read",)


def test_pages_follow_the_cursor_until_none_is_left(owner_client: APIClient, instance: Instance) -> None:
    expected = []
    for i in range(7):
        if i % 2:
            expected.append(str(queue_message(instance, created_at=at(i)).message_id))
        else:
            expected.append(receive(instance, now=at(i)).api_id)
    expected.reverse()
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        body = listed(owner_client, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += ids(body)
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == expected


def test_messages_at_the_same_instant_are_each_listed_once_across_pages(
    owner_client: APIClient, instance: Instance
) -> None:
    for _ in range(3):
        receive(instance, now=T0)
        queue_message(instance, created_at=T0)
    first = listed(owner_client, limit=4)
    second = listed(owner_client, limit=4, cursor=first["next"])
    both = ids(first) + ids(second)
    assert len(both) == 6
    assert len(set(both)) == 6
    assert second["next"] is None


@pytest.mark.parametrize(("direction", "expected"), [("in", ["in"]), ("out", ["out"])])
def test_direction_keeps_one_side(
    owner_client: APIClient, instance: Instance, direction: str, expected: list[str]
) -> None:
    receive(instance)
    queue_message(instance)
    assert [item["direction"] for item in listed(owner_client, direction=direction)["data"]] == expected


def test_instance_id_keeps_one_instance(owner: Any, owner_client: APIClient, instance: Instance) -> None:
    other = create_instance(owner, name="other", transport="sandbox")
    receive(instance)
    theirs = receive(other)
    queue_message(instance)
    assert ids(listed(owner_client, instance_id=other.instance_id)) == [theirs.api_id]


@pytest.mark.parametrize("chat", ["628222", "+628222", "628222@s.whatsapp.net", "628222@c.us"])
def test_chat_by_number_or_jid_finds_both_directions(
    owner_client: APIClient, instance: Instance, chat: str
) -> None:
    mine = receive(instance, chat="628222@s.whatsapp.net")
    receive(instance, chat="628999@s.whatsapp.net")
    to_them = queue_message(instance, chat_id="628222")
    queue_message(instance, chat_id="628999")
    assert set(ids(listed(owner_client, chat=chat))) == {mine.api_id, str(to_them.message_id)}


def test_a_chat_by_number_finds_what_that_person_sent_from_a_hidden_id(
    owner_client: APIClient, instance: Instance
) -> None:
    hidden = receive(instance, chat="190000111@lid", sender="190000111@lid", sender_phone="628222")
    assert ids(listed(owner_client, chat="628222")) == [hidden.api_id]


def test_a_group_chat_is_named_by_its_jid(owner_client: APIClient, instance: Instance) -> None:
    group = receive(instance, chat="120363000000000001@g.us", is_group=True)
    receive(instance)
    assert ids(listed(owner_client, chat="120363000000000001@g.us")) == [group.api_id]


def test_since_and_until_bound_the_time(owner_client: APIClient, instance: Instance) -> None:
    receive(instance, now=at(1))
    middle_in = receive(instance, now=at(2))
    middle_out = queue_message(instance, created_at=at(2))
    receive(instance, now=at(3))
    body = listed(owner_client, since=at(2).isoformat(), until=at(3).isoformat())
    assert set(ids(body)) == {middle_in.api_id, str(middle_out.message_id)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"direction": "sideways"}, "direction"),
        ({"since": "yesterday"}, "since"),
        ({"chat": "not a chat"}, "chat"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "WyIyMDI2IiwgInVwIiwgMV0"}, "cursor"),  # well-formed, not one of ours
    ],
)
def test_a_bad_filter_is_a_400_naming_it(owner_client: APIClient, query: dict[str, Any], field: str) -> None:
    response = owner_client.get("/messages", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_someone_elses_messages_are_not_listed(
    api: APIClient, stranger_token: str, instance: Instance
) -> None:
    receive(instance)
    queue_message(instance)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert listed(api)["data"] == []


def test_someone_elses_instance_id_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert api.get("/messages", {"instance_id": instance.instance_id}).status_code == 404


@auth_matrix("GET", ok=200, stranger=200, action=None)
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    message = receive(instance)
    response = call_as(request, who, where, "GET", "/messages")
    assert_auth_outcome(response, expected)
    if expected == 200:
        sees = message.api_id in [item["id"] for item in response.json()["data"]]
        assert sees == (who not in ("stranger", "staff"))


@auth_matrix("GET", ok=200, action="view")
def test_auth_matrix_of_one_instance(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    response = call_as(request, who, where, "GET", "/messages", query={"instance_id": instance.instance_id})
    assert_auth_outcome(response, expected)


@pytest.mark.parametrize("name", ["instance_id", "chat", "direction", "since", "cursor", "limit"])
def test_an_empty_filter_is_a_400_rather_than_no_filter(owner_client: APIClient, name: str) -> None:
    response = owner_client.get("/messages", {name: ""})
    assert response.status_code == 400
    assert name in response.json()["errors"]
