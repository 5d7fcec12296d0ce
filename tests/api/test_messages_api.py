"""GET /messages/<id> and POST /messages/<id>/cancel."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from inbox.service import message_dict
from instances.models import AccessToken, Instance
from queueing.models import QueuedMessage
from tests.support.auth_matrix import auth_matrix, call_as, staff_with
from tests.support.inbox import receive
from tests.support.queue import T0, queue_message

pytestmark = pytest.mark.django_db


def test_it_shows_a_message(owner_client: APIClient, instance: Instance) -> None:
    message = queue_message(
        instance, status="failed", attempts=5, last_error="sandbox: send failed", failed_at=T0
    )
    response = owner_client.get(f"/messages/{message.message_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "failed"
    assert data["attempts"] == 5
    assert data["last_error"] == "sandbox: send failed"
    assert data["instance_id"] == instance.instance_id
    assert data["failed_at"].startswith("2026-01-01T12:00:00")


def test_someone_elses_message_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    message = queue_message(instance)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert api.get(f"/messages/{message.message_id}").status_code == 404
    assert api.post(f"/messages/{message.message_id}/cancel").status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"


def _as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.objects.issue(user)[1]}")
    return client


def test_staff_without_permissions_neither_read_nor_cancel_others_messages(
    staff: Any, instance: Instance
) -> None:
    message = queue_message(instance, text="the tenant's secret")
    client = _as(staff)
    assert client.get(f"/messages/{message.message_id}").status_code == 404
    assert client.post(f"/messages/{message.message_id}/cancel").status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"


def test_the_view_permission_reads_a_message_but_may_not_cancel_it(instance: Instance) -> None:
    message = queue_message(instance)
    client = _as(staff_with("viewer", "view_instance"))
    assert client.get(f"/messages/{message.message_id}").status_code == 200
    refused = client.post(f"/messages/{message.message_id}/cancel")
    assert refused.status_code == 403
    assert "instances.change_instance" in refused.json()["message"]
    message.refresh_from_db()
    assert message.status == "queued"


def test_the_change_permission_cancels_anyones_message(instance: Instance) -> None:
    message = queue_message(instance)
    client = _as(staff_with("operator", "change_instance"))
    assert client.post(f"/messages/{message.message_id}/cancel").status_code == 200


def test_a_superuser_reads_every_message(admin_user: Any, instance: Instance) -> None:
    message = queue_message(instance)
    assert _as(admin_user).get(f"/messages/{message.message_id}").status_code == 200


@pytest.mark.parametrize("bad", ["nope", "123", "00000000-0000-0000-0000-000000000000"])
def test_a_bad_or_unknown_id_is_a_404(owner_client: APIClient, bad: str) -> None:
    assert owner_client.get(f"/messages/{bad}").status_code == 404


def test_it_cancels_a_queued_message(owner_client: APIClient, instance: Instance) -> None:
    message = queue_message(instance)
    response = owner_client.post(f"/messages/{message.message_id}/cancel")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    message.refresh_from_db()
    assert message.status == "cancelled"
    assert message.cancelled_at is not None


@pytest.mark.parametrize("status", ["sending", "sent", "read", "failed", "cancelled", "uncertain"])
def test_cancelling_anything_but_queued_is_a_409(
    owner_client: APIClient, instance: Instance, status: str
) -> None:
    message = queue_message(instance, status=status)
    response = owner_client.post(f"/messages/{message.message_id}/cancel")
    assert response.status_code == 409
    assert status in response.json()["message"]
    assert QueuedMessage.objects.get(pk=message.pk).status == status


def test_cancel_needs_post(owner_client: APIClient, instance: Instance) -> None:
    message = queue_message(instance)
    assert owner_client.get(f"/messages/{message.message_id}/cancel").status_code == 405


# -- received messages ---------------------------------------------------------------------------


def test_it_shows_a_received_message_as_its_events_carry_it(
    owner_client: APIClient, instance: Instance
) -> None:
    message = receive(instance, text="halo", raw={"key": {"id": "X"}, "message": {"conversation": "halo"}})
    response = owner_client.get(f"/messages/{message.api_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data == message_dict(message, instance.instance_id)
    assert (data["direction"], data["raw"]["message"]) == ("in", {"conversation": "halo"})


def test_a_queued_message_is_shown_as_before(owner_client: APIClient, instance: Instance) -> None:
    message = queue_message(instance)
    data = owner_client.get(f"/messages/{message.message_id}").json()["data"]
    assert "direction" not in data
    assert data["message_id"] == str(message.message_id)


@pytest.mark.parametrize("bad", ["in_999999", "in_x", "in_", "in_-1"])
def test_an_unknown_received_id_is_a_404(owner_client: APIClient, bad: str) -> None:
    assert owner_client.get(f"/messages/{bad}").status_code == 404


def test_someone_elses_received_message_is_a_404(
    api: APIClient, stranger_token: str, instance: Instance
) -> None:
    message = receive(instance)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert api.get(f"/messages/{message.api_id}").status_code == 404


def test_a_received_message_cannot_be_cancelled(owner_client: APIClient, instance: Instance) -> None:
    message = receive(instance)
    assert owner_client.post(f"/messages/{message.api_id}/cancel").status_code == 404


@auth_matrix("GET", ok=200, action="view")
def test_auth_matrix_of_a_received_message(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    message = receive(instance)
    response = call_as(request, who, where, "GET", f"/messages/{message.api_id}")
    assert response.status_code == expected
    if expected == 404:
        assert response.json() == {"status": "error", "message": "Message not found."}
