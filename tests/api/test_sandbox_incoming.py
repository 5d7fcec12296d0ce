"""POST /sandbox/<id>/incoming: a simulated contact sends the sandbox instance a message, which
the real worker (on a fake clock) delivers to the inbox."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, SandboxIncoming, SandboxPhone
from instances.service import create_instance, request_running
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker

pytestmark = pytest.mark.django_db


def url(instance: Instance | str) -> str:
    return f"/sandbox/{instance if isinstance(instance, str) else instance.instance_id}/incoming"


def linked(instance: Instance) -> Instance:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    return instance


def test_a_contacts_message_reaches_get_messages_through_the_worker(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    request_running(instance)
    worker.tick(times=5)
    response = owner_client.post(url(instance), {"from": "628222000111", "text": "halo"}, format="json")
    assert response.status_code == 202
    sent = response.json()["data"]
    assert (sent["kind"], sent["connected"]) == ("text", True)
    worker.tick()
    [listed] = owner_client.get("/messages", {"direction": "in"}).json()["data"]
    assert (listed["wa_message_id"], listed["text"], listed["sender_phone"]) == (
        sent["wa_message_id"],
        "halo",
        "628222000111",
    )


def test_a_form_body_works_as_waziper_clients_send_it(owner_client: APIClient, instance: Instance) -> None:
    linked(instance)
    response = owner_client.post(
        url(instance),
        {"from": "628222000111", "kind": "poll", "question": "Kapan?", "options": "Senin,Selasa"},
    )
    assert response.status_code == 202
    assert SandboxIncoming.objects.get().message["options"] == ["Senin", "Selasa"]


def test_an_instance_not_connected_gets_it_later_and_says_so(
    owner_client: APIClient, instance: Instance
) -> None:
    linked(instance)
    response = owner_client.post(url(instance), {"from": "628222000111", "text": "halo"}, format="json")
    assert response.status_code == 202
    assert response.json()["data"]["connected"] is False
    assert "once it connects" in response.json()["message"]


def test_bad_fields_are_a_400_naming_each(owner_client: APIClient, instance: Instance) -> None:
    linked(instance)
    body = {"from": "12", "kind": "location", "latitude": 100}
    response = owner_client.post(url(instance), body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"from", "latitude", "longitude"}
    assert not SandboxIncoming.objects.exists()


def test_an_instance_without_a_linked_account_is_a_409(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(url(instance), {"from": "628222000111", "text": "halo"}, format="json")
    assert response.status_code == 409
    assert "link" in response.json()["message"]


def test_a_neonize_instance_is_a_409(owner: Any, owner_client: APIClient) -> None:
    real = create_instance(owner, transport="neonize")
    response = owner_client.post(url(real), {"from": "628222000111", "text": "halo"}, format="json")
    assert response.status_code == 409


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.post(url("0123456789ABC"), {"from": "628222000111", "text": "x"}).status_code == 404


@auth_matrix("POST", ok=202, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    linked(instance)
    body = {"from": "628222000111", "text": "halo"}
    assert_auth_outcome(call_as(request, who, where, "POST", url(instance), body=body), expected)
    assert SandboxIncoming.objects.exists() == (expected == 202)
