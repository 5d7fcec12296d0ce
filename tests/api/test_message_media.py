"""GET /messages/<id>/media: a received message's media, fetched through the live session (the
sandbox's, driven by a real worker on a fake clock) and handed out as the message's file."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from inbox.models import InboundMessage
from instances.models import Instance, InstanceCommand
from instances.sandbox_phone import send_to_instance
from instances.service import create_instance, request_running
from tests.support.auth_matrix import auth_matrix, call_as
from tests.support.inbox import receive
from tests.support.queue import queue_message
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db
PHOTO = b"\xff\xd8\xff\xe0 a small jpeg"


def connected(owner: Any, worker: SteppedWorker, **behaviour: Any) -> Instance:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True, **behaviour})
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    assert instance.status == "connected"
    return instance


def received(instance: Instance, worker: SteppedWorker, **data: Any) -> InboundMessage:
    sent = send_to_instance(instance, {"from": "628222000111", **data})
    worker.tick()
    return InboundMessage.objects.get(instance=instance, wa_message_id=sent.wa_message_id)


def photo(instance: Instance, worker: SteppedWorker) -> InboundMessage:
    return received(instance, worker, kind="image", caption="foto", media=base64.b64encode(PHOTO).decode())


def test_the_media_comes_back_as_the_file_the_contact_sent(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    message = photo(instance, worker)
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert response.status_code == 200
    assert response.content == PHOTO
    assert (response["Content-Type"], response["Content-Length"]) == ("image/jpeg", str(len(PHOTO)))
    assert response["Content-Disposition"] == f'attachment; filename="{message.wa_message_id}"'
    assert response["Cache-Control"] == "no-store"


def test_a_document_keeps_its_file_name(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    message = received(
        instance, worker, kind="document", filename="tagihan.pdf", mimetype="application/pdf", size=10
    )
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert (response.status_code, len(response.content)) == (200, 10)
    assert response["Content-Disposition"] == 'attachment; filename="tagihan.pdf"'


def test_the_bytes_are_not_kept_in_the_command_once_handed_out(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    message = photo(instance, worker)
    worker.run_while_waiting(fake_wait)
    assert owner_client.get(f"/messages/{message.api_id}/media").status_code == 200
    command = InstanceCommand.objects.get(instance=instance, kind="query")
    assert command.result == {"forgotten": True}


def test_a_message_without_media_is_a_404(owner_client: APIClient, instance: Instance) -> None:
    message = receive(instance)
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert response.status_code == 404
    assert response.json()["message"] == "This message has no media."


def test_a_queued_message_has_no_media_to_download_here(owner_client: APIClient, instance: Instance) -> None:
    queued = queue_message(instance, kind="image", media_url="https://example.com/a.jpg")
    assert owner_client.get(f"/messages/{queued.message_id}/media").status_code == 404


def test_media_larger_than_allowed_is_a_413_without_asking_the_session(
    owner_client: APIClient, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_INBOX_MEDIA_MAX_BYTES = 100
    message = receive(
        instance, kind="video", media={"mimetype": "video/mp4", "size": 101, "download": {"x": 1}}
    )
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert response.status_code == 413
    assert (response.json()["size"], response.json()["limit"]) == (101, 100)
    assert not InstanceCommand.objects.exists()


def test_media_the_session_finds_too_large_is_a_413(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait, settings: Any
) -> None:
    instance = connected(owner, worker)
    message = photo(instance, worker)
    InboundMessage.objects.filter(pk=message.pk).update(media_size=None)  # WhatsApp did not say
    settings.WAZIPER_INBOX_MEDIA_MAX_BYTES = 5
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert response.status_code == 413
    assert response.json()["reason"] == "too_large"


def test_an_instance_that_is_not_connected_is_a_503(owner_client: APIClient, instance: Instance) -> None:
    message = receive(
        instance, kind="image", media={"mimetype": "image/jpeg", "size": 3, "download": {"x": 1}}
    )
    response = owner_client.get(f"/messages/{message.api_id}/media")
    assert response.status_code == 503
    assert response.json()["instance_status"] == "stopped"


def test_a_session_that_never_answers_is_a_504(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker, query="hang")
    message = photo(instance, worker)
    worker.run_while_waiting(fake_wait)
    assert owner_client.get(f"/messages/{message.api_id}/media").status_code == 504


@auth_matrix("GET", ok=503, action="view")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    message = receive(
        instance, kind="image", media={"mimetype": "image/jpeg", "size": 3, "download": {"x": 1}}
    )
    response = call_as(request, who, where, "GET", f"/messages/{message.api_id}/media")
    assert response.status_code == expected  # 503: allowed, but the instance is stopped
