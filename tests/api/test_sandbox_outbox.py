"""GET /sandbox/<instance_id>/outbox: what the simulated recipients received."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import Instance, SandboxReceived
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as

pytestmark = pytest.mark.django_db


def _url(instance: Instance | str) -> str:
    return f"/sandbox/{getattr(instance, 'instance_id', instance)}/outbox"


def _received(instance: Instance, n: int) -> list[SandboxReceived]:
    return [
        SandboxReceived.objects.create(
            instance=instance,
            wa_message_id=f"SANDBOX{i}",
            chat_id="6281234567890",
            kind="text",
            text=f"hello {i}",
            ref=f"ref-{i}",
            received_at=timezone.now(),
        )
        for i in range(n)
    ]


def test_it_lists_what_was_received_oldest_first(owner_client: APIClient, instance: Instance) -> None:
    _received(instance, 3)
    response = owner_client.get(_url(instance))
    assert response.status_code == 200
    data = response.json()["data"]
    assert [row["text"] for row in data] == ["hello 0", "hello 1", "hello 2"]
    assert set(data[0]) == {
        "id",
        "wa_message_id",
        "chat_id",
        "kind",
        "text",
        "media_url",
        "filename",
        "media_bytes",
        "ref",
        "fields",
        "edited_at",
        "revoked_at",
        "received_at",
    }


def test_since_and_limit_page_through_it(owner_client: APIClient, instance: Instance) -> None:
    rows = _received(instance, 5)
    data = owner_client.get(_url(instance), {"since": rows[1].id, "limit": 2}).json()["data"]
    assert [row["id"] for row in data] == [rows[2].id, rows[3].id]


def test_it_shows_only_this_instances_rows(owner_client: APIClient, instance: Instance, owner: Any) -> None:
    other = create_instance(owner, transport="sandbox")
    _received(other, 2)
    assert owner_client.get(_url(instance)).json()["data"] == []


@pytest.mark.parametrize(
    ("param", "value"), [("since", "-1"), ("since", "x"), ("limit", "0"), ("limit", "1001")]
)
def test_bad_paging_is_400(owner_client: APIClient, instance: Instance, param: str, value: str) -> None:
    response = owner_client.get(_url(instance), {param: value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [param]


def test_a_neonize_instance_is_409(owner_client: APIClient, owner: Any) -> None:
    assert owner_client.get(_url(create_instance(owner, transport="neonize"))).status_code == 409


def test_it_only_allows_get(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(_url(instance)).status_code == 405


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.get(_url("<script>")).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.get(_url("0123456789ABC")).status_code == 404


@auth_matrix("GET", ok=200, action="view")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    assert_auth_outcome(call_as(request, who, where, "GET", _url(instance)), expected)
