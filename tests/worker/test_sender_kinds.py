"""Every kind of message end to end: queued through the API, sent by a real worker stepped on a
fake clock, received by the sandbox's simulated phone with its fields, then delivered."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import Instance, SandboxReceived
from instances.service import create_instance, request_running
from queueing.models import QueuedMessage
from tests.support.media_server import PNG, WEBP, base_url, media_server
from tests.support.worker import SteppedWorker
from worker.transports.sandbox import SandboxSession

pytestmark = pytest.mark.django_db
CHAT = "6281234567890"


@pytest.fixture(autouse=True)
def _no_spacing(settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN = 0
    settings.WAZIPER_SEND_DELAY_MAX = 0


def connected(owner: Any, worker: SteppedWorker, **fields: Any) -> Instance:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True, "receipts": "delivered"})
    if fields:
        Instance.objects.filter(pk=instance.pk).update(**fields)
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    assert instance.status == "connected"
    return instance


def send(client: APIClient, instance: Instance, **body: Any) -> QueuedMessage:
    body.setdefault("chat_id", CHAT)
    response = client.post(f"/send_message?instance_id={instance.instance_id}", body, format="json")
    assert response.status_code == 202, response.json()
    return QueuedMessage.objects.get(message_id=response.json()["data"]["message_id"])


def catch_up(worker: SteppedWorker) -> None:
    """The worker's fake clock to at least the real time the API stamped the messages with."""
    worker.clock.current = max(worker.clock.current, timezone.now())


def run(worker: SteppedWorker, seconds: float = 0.3, step: float = 0.1) -> None:
    catch_up(worker)
    worker.tick(step, times=int(seconds / step))


def status(message: QueuedMessage) -> str:
    message.refresh_from_db()
    return message.status


def received(message: QueuedMessage) -> SandboxReceived:
    return SandboxReceived.objects.get(ref=str(message.message_id))


def session_of(worker: SteppedWorker, instance: Instance) -> SandboxSession:
    session = worker.worker.leased[instance.pk].session
    assert isinstance(session, SandboxSession)
    return session


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"type": "location", "latitude": -6.1754, "longitude": 106.8272, "location_name": "Monas"},
            {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas", "address": ""},
        ),
        (
            {"type": "contact", "contact_name": "Ann", "contact_phone": "628123456789"},
            {
                "name": "Ann",
                "phone": "628123456789",
                "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nitem1.TEL;waid=628123456789:+628123456789\n"
                "item1.X-ABLabel:Mobile\nEND:VCARD",
            },
        ),
        (
            {"type": "poll", "question": "Lunch?", "options": ["rice", "noodles"], "selectable_count": 2},
            {"question": "Lunch?", "options": ["rice", "noodles"], "selectable_count": 2},
        ),
    ],
)
def test_each_kind_reaches_the_phone_with_its_fields_and_is_delivered(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, body: dict, fields: dict
) -> None:
    instance = connected(owner, worker)
    message = send(owner_client, instance, **body)
    run(worker)
    assert status(message) == "sent"
    got = received(message)
    assert (got.kind, got.fields, got.chat_id) == (body["type"], fields, CHAT)
    run(worker, 0.5)
    assert status(message) == "delivered"


def test_a_sticker_is_downloaded_checked_and_received(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = True
    instance = connected(owner, worker)
    with media_server() as server:
        message = send(owner_client, instance, type="sticker", media_url=f"{base_url(server)}/sticker.webp")
        deadline = time.monotonic() + 10
        while status(message) not in ("sent", "delivered"):
            assert time.monotonic() < deadline, f"the sticker was not sent: {message.status}"
            run(worker)
            time.sleep(0.01)  # the download runs in a real thread
    got = received(message)
    assert (got.kind, got.media_bytes) == ("sticker", len(WEBP))


def test_a_sticker_that_is_not_webp_fails_without_a_retry(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = True
    instance = connected(owner, worker)
    with media_server() as server:
        message = send(owner_client, instance, type="sticker", media_url=f"{base_url(server)}/cat.png")
        deadline = time.monotonic() + 10
        while status(message) != "failed":
            assert time.monotonic() < deadline, f"still {message.status}"
            run(worker)
            time.sleep(0.01)
    assert "must be a webp file" in message.last_error
    assert "image/png" in message.last_error
    assert not SandboxReceived.objects.filter(instance=instance).exists()
    assert len(PNG) > 0


def sent_text(owner_client: APIClient, instance: Instance, worker: SteppedWorker) -> QueuedMessage:
    message = send(owner_client, instance, caption="Your order shipped")
    run(worker)
    assert status(message) == "sent"
    return message


def test_a_reaction_lands_on_the_message_it_names(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    reaction = send(
        owner_client, instance, type="reaction", target_message_id=str(ours.message_id), emoji="👍"
    )
    run(worker)
    assert status(reaction) == "sent"
    assert received(ours).fields == {"reaction": "👍"}
    assert received(reaction).fields == {
        "emoji": "👍",
        "target_message_id": ours.wa_message_id,
        "applied": True,
    }


def test_an_empty_reaction_takes_it_away(owner: Any, owner_client: APIClient, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    send(owner_client, instance, type="reaction", target_message_id=str(ours.message_id), emoji="👍")
    removal = send(owner_client, instance, type="reaction", target_message_id=ours.wa_message_id, emoji="")
    run(worker, 1.0)
    assert status(removal) == "delivered"
    assert received(ours).fields == {}


def test_an_edit_changes_the_text_the_phone_shows(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    edit = send(
        owner_client, instance, type="edit", target_message_id=str(ours.message_id), caption="Shipped today"
    )
    run(worker)
    assert status(edit) == "sent"
    got = received(ours)
    assert (got.text, got.edited_at is not None) == ("Shipped today", True)


def test_a_delete_revokes_the_message_on_the_phone(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    delete = send(owner_client, instance, type="delete", target_message_id=str(ours.message_id))
    run(worker)
    assert status(delete) == "sent"
    assert received(ours).revoked_at is not None


def test_an_edit_that_waited_past_the_window_fails_at_dispatch_and_is_never_sent(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    # Sent 14 minutes ago: an edit is still accepted when queued …
    QueuedMessage.objects.filter(pk=ours.pk).update(sent_at=timezone.now() - timedelta(minutes=14))
    edit = send(owner_client, instance, type="edit", target_message_id=str(ours.message_id), caption="late")
    # … but the worker reaches it two minutes later (queue backlog, a reconnect).
    catch_up(worker)
    worker.tick(120)
    assert status(edit) == "failed"
    assert "within 15 minutes" in edit.last_error
    assert received(ours).text == "Your order shipped"
    assert SandboxReceived.objects.filter(instance=instance).count() == 1


def test_a_delete_that_waited_past_two_days_fails_at_dispatch(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    QueuedMessage.objects.filter(pk=ours.pk).update(
        sent_at=timezone.now() - timedelta(days=2) + timedelta(minutes=1)
    )
    delete = send(owner_client, instance, type="delete", target_message_id=str(ours.message_id))
    catch_up(worker)
    worker.tick(120)
    assert status(delete) == "failed"
    assert received(ours).revoked_at is None


def test_a_reply_with_mentions_reaches_the_phone_naming_both(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    ours = sent_text(owner_client, instance, worker)
    reply = send(
        owner_client,
        instance,
        caption="@628111111111 see above",
        quoted_message_id=str(ours.message_id),
        mentions=["628111111111"],
    )
    run(worker)
    assert received(reply).fields == {
        "quoted_message_id": ours.wa_message_id,
        "mentions": ["628111111111@s.whatsapp.net"],
    }


def test_a_lid_chat_is_sent_to(owner: Any, owner_client: APIClient, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    message = send(owner_client, instance, chat_id="123456789012345@lid", caption="hi")
    run(worker)
    assert received(message).chat_id == "123456789012345@lid"


def test_one_instance_typing_never_holds_up_another_instances_sends(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    typist, other = connected(owner, worker), connected(owner, worker)
    typed = send(owner_client, typist, caption="let me think…", typing_s=5)
    others = [send(owner_client, other, chat_id=f"62812000000{i}", caption=f"quick {i}") for i in range(3)]
    run(worker, 1.0)
    assert {status(m) for m in others} <= {"sent", "delivered"}  # all three went out meanwhile
    assert status(typed) == "sending"  # still "typing…"
    assert [state for _, _, state in session_of(worker, typist).presence] == ["composing"]
    run(worker, 4.5)
    assert status(typed) in ("sent", "delivered")
    assert [state for _, _, state in session_of(worker, typist).presence] == ["composing", "paused"]
    assert received(typed).fields == {"typing_s": 5.0}


def test_the_instances_typing_default_applies_when_the_message_names_none(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker, typing_min_s=2.0, typing_max_s=2.0)
    plain = send(owner_client, instance, caption="hello")
    run(worker, 3.0)
    assert received(plain).fields == {"typing_s": 2.0}


def test_a_messages_own_typing_wins_over_the_instances_even_zero(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker, typing_min_s=2.0)
    message = send(owner_client, instance, caption="now", typing_s=0)
    run(worker)
    assert received(message).fields == {}
    assert session_of(worker, instance).presence == []
