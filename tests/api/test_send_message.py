"""POST /send_message and /send-message/<instance_id> (healthchecks' one-file-per-endpoint shape)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from instances.models import Instance
from instances.service import create_instance, request_running
from queueing.models import QueuedMessage
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db


def send(client: APIClient, instance: Instance, fmt: str = "json", **body):
    body.setdefault("chat_id", "6281234567890")
    return client.post(f"/send_message?instance_id={instance.instance_id}", body, format=fmt)


def test_it_queues_a_text_and_answers_202(owner_client: APIClient, instance: Instance) -> None:
    response = send(owner_client, instance, caption="Hello")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Message queued"
    assert body["data"]["status"] == "queued"
    message = QueuedMessage.objects.get(message_id=body["data"]["message_id"])
    assert (message.instance, message.chat_id, message.kind, message.text) == (
        instance,
        "6281234567890",
        "text",
        "Hello",
    )


def test_it_accepts_waziper_form_posts_with_the_token_in_the_query(
    api: APIClient, owner_token: str, instance: Instance
) -> None:
    response = api.post(
        f"/send_message?access_token={owner_token}&instance_id={instance.instance_id}",
        {"chat_id": "+6281234567890", "message": "from PHP", "type": "text"},
    )
    assert response.status_code == 202
    assert QueuedMessage.objects.get().chat_id == "6281234567890"


def test_a_form_field_given_twice_is_a_400_not_one_recipient_silently_dropped(
    api: APIClient, owner_token: str, instance: Instance
) -> None:
    response = api.post(
        f"/send_message?access_token={owner_token}&instance_id={instance.instance_id}",
        "chat_id=6281234567890&chat_id=6281234567891&message=hi",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"chat_id"}
    assert "/send_bulk" in response.json()["errors"]["chat_id"][0]
    assert not QueuedMessage.objects.exists()


def test_it_accepts_the_instance_id_and_token_in_the_body(
    api: APIClient, owner_token: str, instance: Instance
) -> None:
    response = api.post(
        "/send_message",
        {
            "access_token": owner_token,
            "instance_id": instance.instance_id,
            "chat_id": "6281234567890",
            "message": "x",
        },
        format="json",
    )
    assert response.status_code == 202


def test_the_path_alias_queues_too(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(
        f"/send-message/{instance.instance_id}", {"chat_id": "6281234567890", "caption": "hi"}, format="json"
    )
    assert response.status_code == 202


def test_it_queues_media_with_a_caption(owner_client: APIClient, instance: Instance) -> None:
    response = send(
        owner_client, instance, type="media", media_url="https://93.184.215.14/cat.png", caption="a cat"
    )
    assert response.status_code == 202
    message = QueuedMessage.objects.get()
    assert (message.kind, message.media_url, message.text) == (
        "image",
        "https://93.184.215.14/cat.png",
        "a cat",
    )


def test_each_invalid_field_is_a_400_naming_it(owner_client: APIClient, instance: Instance) -> None:
    response = send(
        owner_client, instance, chat_id="123", type="image", media_url="http://10.0.0.1/x.png", priority=999
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert set(body["errors"]) == {"chat_id", "media_url", "priority"}
    assert not QueuedMessage.objects.exists()


def test_missing_chat_id_is_a_400(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(
        f"/send_message?instance_id={instance.instance_id}", {"caption": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "chat_id" in response.json()["errors"]


def test_missing_instance_id_is_a_400(owner_client: APIClient) -> None:
    response = owner_client.post("/send_message", {"chat_id": "6281234567890", "caption": "x"}, format="json")
    assert response.status_code == 400
    assert "instance_id" in response.json()["errors"]


def test_someone_elses_instance_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert send(api, instance, caption="x").status_code == 404
    assert not QueuedMessage.objects.exists()


def test_no_token_is_a_401(api: APIClient, instance: Instance) -> None:
    assert send(api, instance, caption="x").status_code == 401


def test_get_is_a_405(owner_client: APIClient) -> None:
    assert owner_client.get("/send_message").status_code == 405


def test_a_locked_database_is_a_503_with_nothing_written(
    owner_client: APIClient, instance: Instance, monkeypatch
) -> None:
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(QueuedMessage, "save", locked)
    response = send(owner_client, instance, caption="x")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["status"] == "error"
    monkeypatch.undo()
    assert not QueuedMessage.objects.exists()


def test_same_idempotency_key_returns_the_first_message(owner_client: APIClient, instance: Instance) -> None:
    first = owner_client.post(
        f"/send_message?instance_id={instance.instance_id}",
        {"chat_id": "6281234567890", "caption": "once"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-17",
    )
    again = owner_client.post(
        f"/send_message?instance_id={instance.instance_id}",
        {"chat_id": "6281234567890", "caption": "once"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-17",
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["data"]["message_id"] == first.json()["data"]["message_id"]
    assert QueuedMessage.objects.count() == 1


def test_an_idempotency_key_reused_for_another_message_is_a_409(
    owner_client: APIClient, instance: Instance
) -> None:
    url = f"/send_message?instance_id={instance.instance_id}"
    owner_client.post(
        url, {"chat_id": "6281234567890", "caption": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    response = owner_client.post(
        url, {"chat_id": "6281234567890", "caption": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 409
    assert QueuedMessage.objects.count() == 1


def test_idempotency_keys_are_per_instance(owner, owner_client: APIClient, instance: Instance) -> None:
    from instances.service import create_instance

    other = create_instance(owner, name="second", transport="sandbox")
    for inst in (instance, other):
        response = owner_client.post(
            f"/send_message?instance_id={inst.instance_id}",
            {"chat_id": "6281234567890", "caption": "a"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="same",
        )
        assert response.status_code == 202
    assert QueuedMessage.objects.count() == 2


def test_a_malformed_idempotency_key_is_a_400_naming_the_header(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.post(
        f"/send_message?instance_id={instance.instance_id}",
        {"chat_id": "6281234567890", "caption": "a"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x" * 300,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chat_id=st.one_of(st.text(max_size=30), st.integers()), caption=st.text(max_size=50))
def test_any_input_is_a_202_or_a_400_never_a_500(
    owner_client: APIClient, instance: Instance, chat_id, caption
) -> None:
    response = send(owner_client, instance, chat_id=chat_id, caption=caption)
    assert response.status_code in (202, 400), response.content


@auth_matrix("POST", ok=202, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    body = {"instance_id": instance.instance_id, "chat_id": "6281234567890", "message": "Hello"}
    response = call_as(request, who, where, "POST", "/send_message", body=body)
    assert_auth_outcome(response, expected)
    assert QueuedMessage.objects.filter(instance=instance).count() == (1 if expected == 202 else 0)


@pytest.fixture
def connected(owner: Any, worker: SteppedWorker, settings: Any) -> Instance:
    """A sandbox instance whose phone is linked, connected by the stepped worker."""
    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0
    phone = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    request_running(phone)
    worker.tick()
    phone.refresh_from_db()
    assert phone.status == "connected"
    return phone


def _send_waiting(client: APIClient, instance: Instance, wait: float, **body: Any) -> Any:
    body.setdefault("chat_id", "6281234567890@c.us")
    body.setdefault("caption", "Hello")
    return client.post(f"/send_message?instance_id={instance.instance_id}&wait={wait}", body)


def test_with_wait_a_message_sent_in_time_answers_wazipers_message_key(
    owner_client: APIClient, connected: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    response = _send_waiting(owner_client, connected, 5)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    message = QueuedMessage.objects.get()
    assert body["message"]["key"] == {
        "remoteJid": "6281234567890@s.whatsapp.net",
        "fromMe": True,
        "id": message.wa_message_id,
    }
    assert body["message"]["key"]["id"]
    assert body["message"]["messageTimestamp"] == str(int(message.sent_at.timestamp()))
    assert body["message"]["status"] == "SUCCESS"
    assert body["data"] == {"message_id": str(message.message_id), "status": "sent"}


def test_with_wait_a_message_not_sent_in_time_is_queued(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    response = _send_waiting(owner_client, instance, 2)
    assert response.status_code == 202
    assert response.json()["message"] == "Message queued"
    assert fake_wait.waited >= 2


def test_with_wait_a_message_refused_in_time_is_502_with_the_reason(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0
    phone = create_instance(owner, transport="sandbox", sandbox={"linked": True, "send": "reject"})
    request_running(phone)
    worker.tick()
    worker.run_while_waiting(fake_wait)
    response = _send_waiting(owner_client, phone, 5)
    assert response.status_code == 502
    assert response.json()["message"].startswith("Message failed: ")
    assert response.json()["data"]["status"] == "failed"


def test_without_wait_nothing_is_waited_for(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    assert _send_waiting(owner_client, instance, 0).status_code == 202
    assert fake_wait.sleeps == 0


@pytest.mark.parametrize("bad", ["-1", "61", "nan", "soon"])
def test_a_bad_wait_is_400_and_queues_nothing(owner_client: APIClient, instance: Instance, bad: str) -> None:
    response = owner_client.post(
        f"/send_message?instance_id={instance.instance_id}&wait={bad}",
        {"chat_id": "6281234567890", "caption": "x"},
    )
    assert response.status_code == 400
    assert "wait" in response.json()["errors"]
    assert not QueuedMessage.objects.exists()
