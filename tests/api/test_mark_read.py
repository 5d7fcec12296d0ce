"""POST /instances/<id>/read: read receipts through a real worker to the sandbox phone."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, InstanceCommand
from operations import chats
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db

GROUP = "120363000000000001@g.us"


@pytest.fixture
def phone(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    instance = connected_sandbox(owner, worker)
    worker.run_while_waiting(fake_wait)
    return instance


def url(instance: Instance) -> str:
    return f"/instances/{instance.instance_id}/read"


def read_by(worker: SteppedWorker, instance: Instance) -> list[tuple[str, list[str], str]]:
    return worker.worker.leased[instance.pk].session.book.read


def test_messages_of_a_chat_are_marked_read_on_the_phone(
    owner_client: APIClient, phone: Instance, worker: SteppedWorker
) -> None:
    response = owner_client.post(
        url(phone), {"chat_id": "+628200000002", "message_ids": ["3EB0A", "3EB0B"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"chat_id": "628200000002", "read": 2}
    assert read_by(worker, phone) == [
        ("628200000002@s.whatsapp.net", ["3EB0A", "3EB0B"], "628200000002@s.whatsapp.net")
    ]


def test_in_a_group_the_sender_is_passed_on(
    owner_client: APIClient, phone: Instance, worker: SteppedWorker
) -> None:
    body = {"chat_id": GROUP, "message_ids": ["3EB0A"], "sender": "628200000003@s.whatsapp.net"}
    assert owner_client.post(url(phone), body, format="json").status_code == 200
    assert read_by(worker, phone) == [(GROUP, ["3EB0A"], "628200000003@s.whatsapp.net")]


def test_the_operation_marks_read_for_other_callers_too(phone: Instance, worker: SteppedWorker) -> None:
    assert chats.mark_read(phone, "628200000002", ["3EB0C"]) == 1
    assert read_by(worker, phone)[-1][1] == ["3EB0C"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message_ids": ["3EB0A"]}, "chat_id"),
        ({"chat_id": "hello", "message_ids": ["3EB0A"]}, "chat_id"),
        ({"chat_id": "628200000002"}, "message_ids"),
        ({"chat_id": "628200000002", "message_ids": []}, "message_ids"),
        ({"chat_id": "628200000002", "message_ids": ["3EB0A", "has space"]}, "message_ids"),
        ({"chat_id": "628200000002", "message_ids": ["A"] * 101}, "message_ids"),
        ({"chat_id": GROUP, "message_ids": ["3EB0A"]}, "sender"),
        ({"chat_id": GROUP, "message_ids": ["3EB0A"], "sender": GROUP}, "sender"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    owner_client: APIClient, phone: Instance, body: dict[str, Any], field: str
) -> None:
    response = owner_client.post(url(phone), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not InstanceCommand.objects.filter(kind="query").exists()


def test_a_stopped_instance_is_503(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(
        url(instance), {"chat_id": "628200000002", "message_ids": ["3EB0A"]}, format="json"
    )
    assert response.status_code == 503


@auth_matrix("POST", ok=503, action="change")
def test_marking_read_is_for_those_who_may_change(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    body = {"chat_id": "628200000002", "message_ids": "3EB0A"}
    response = call_as(request, who, where, "POST", url(instance), body=body)
    assert_auth_outcome(response, expected)
