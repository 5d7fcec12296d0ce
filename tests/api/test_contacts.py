"""GET /instances/<id>/contacts/check and …/contacts/<phone>/picture through a real worker and
the sandbox phone's numbers, with the directory's cache in front of the checks."""

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

ON = ["628200000002", "628200000003"]


@pytest.fixture
def phone(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    instance = connected_sandbox(owner, worker, on_whatsapp=ON)
    worker.run_while_waiting(fake_wait)
    return instance


def check_url(instance: Instance) -> str:
    return f"/instances/{instance.instance_id}/contacts/check"


def asked() -> list[list[str]]:
    return [c.payload["args"]["phones"] for c in InstanceCommand.objects.filter(kind="query").order_by("pk")]


def test_each_number_is_answered_in_order_with_its_jid(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.get(check_url(phone), {"phones": "+628200000002,628200000009"})
    assert response.status_code == 200
    numbers = response.json()["data"]["numbers"]
    assert [(n["phone"], n["on_whatsapp"], n["jid"], n["cached"]) for n in numbers] == [
        ("628200000002", True, "628200000002@s.whatsapp.net", False),
        ("628200000009", False, None, False),
    ]
    assert response.json()["data"]["count"] == 2


def test_the_phones_key_may_be_repeated(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.get(f"{check_url(phone)}?phones=628200000002&phones=628200000003")
    assert [n["on_whatsapp"] for n in response.json()["data"]["numbers"]] == [True, True]


def test_numbers_checked_recently_are_answered_from_the_database(
    owner_client: APIClient, phone: Instance
) -> None:
    owner_client.get(check_url(phone), {"phones": "628200000002"})
    response = owner_client.get(check_url(phone), {"phones": "628200000002,628200000003"})
    numbers = response.json()["data"]["numbers"]
    assert [(n["phone"], n["cached"]) for n in numbers] == [("628200000002", True), ("628200000003", False)]
    assert asked() == [["628200000002"], ["628200000003"]]  # only the unknown number was asked


def test_refresh_asks_every_number_again(owner_client: APIClient, phone: Instance) -> None:
    owner_client.get(check_url(phone), {"phones": "628200000002"})
    owner_client.get(check_url(phone), {"phones": "628200000002", "refresh": "true"})
    assert asked() == [["628200000002"], ["628200000002"]]


def test_fifty_numbers_are_one_question(owner_client: APIClient, phone: Instance) -> None:
    phones = [f"6282000{i:05d}" for i in range(50)]
    response = owner_client.get(check_url(phone), {"phones": ",".join(phones)})
    assert response.status_code == 200
    assert asked() == [phones]


@pytest.mark.parametrize(
    ("phones", "named"),
    [
        ([f"6282000{i:05d}" for i in range(51)], "At most 50"),
        (["628200000002", "12345", "call-me"], "'12345', 'call-me'"),
        (["120363000000000001@g.us"], "120363000000000001@g.us"),
        ([], "This field is required."),
    ],
)
def test_bad_phones_are_400_naming_the_field_and_the_numbers(
    owner_client: APIClient, phone: Instance, phones: list[str], named: str
) -> None:
    response = owner_client.get(check_url(phone), {"phones": ",".join(phones)} if phones else {})
    assert response.status_code == 400
    assert named in response.json()["errors"]["phones"][0]
    assert asked() == []


def test_a_stopped_instance_is_503_unless_the_database_knows_every_number(
    owner_client: APIClient, instance: Instance
) -> None:
    assert owner_client.get(check_url(instance), {"phones": "628200000002"}).status_code == 503
    cache.store_numbers(
        instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": None}], timezone.now()
    )
    assert owner_client.get(check_url(instance), {"phones": "628200000002"}).status_code == 200


def test_a_picture_url_for_a_number_on_whatsapp(owner_client: APIClient, phone: Instance) -> None:
    response = owner_client.get(f"/instances/{phone.instance_id}/contacts/+628200000002/picture")
    assert response.status_code == 200
    assert response.json()["data"] == {
        "jid": "628200000002@s.whatsapp.net",
        "url": "https://sandbox.invalid/pictures/628200000002.jpg",
        "id": response.json()["data"]["id"],
        "reason": None,
    }


def test_no_picture_is_a_null_url_with_the_reason(owner_client: APIClient, phone: Instance) -> None:
    data = owner_client.get(f"/instances/{phone.instance_id}/contacts/628200000009/picture").json()["data"]
    assert (data["url"], data["reason"]) == (None, "not_set")


def test_a_picture_of_something_not_a_phone_is_400_naming_phone(
    owner_client: APIClient, phone: Instance
) -> None:
    response = owner_client.get(f"/instances/{phone.instance_id}/contacts/120363000000000001@g.us/picture")
    assert response.status_code == 400
    assert "phone" in response.json()["errors"]


@auth_matrix("GET", ok=200, action="view")
def test_checks_are_for_those_who_may_view(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    cache.store_numbers(
        instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": None}], timezone.now()
    )
    response = call_as(request, who, where, "GET", check_url(instance), query={"phones": "628200000002"})
    assert_auth_outcome(response, expected)


@auth_matrix("GET", ok=503, action="view")
def test_pictures_are_for_those_who_may_view(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    path = f"/instances/{instance.instance_id}/contacts/628200000002/picture"
    assert_auth_outcome(call_as(request, who, where, "GET", path), expected)
