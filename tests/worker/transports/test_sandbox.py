"""The sandbox transport through its simulated phone: the kinds that act on an earlier message
(what it applies to what it received, and the failures neonize's host would answer), and its
contacts' messages and the changes they make to groups and profiles, which go through the real
worker (on a fake clock) into the inbox, the directory and the outbox as neonize's would."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from directory.models import GroupSnapshot
from inbox.models import InboundMessage
from instances.models import Instance, InstanceEvent, SandboxIncoming, SandboxReceived
from instances.sandbox_phone import notify_instance, send_to_instance
from instances.service import create_instance, request_running, request_stopped
from tests.support.queue import T0, connected_session
from tests.support.worker import SteppedWorker
from worker.transports.base import SEND_RESULT, OutgoingMessage
from worker.transports.sandbox import SandboxSession, hidden_id

pytestmark = pytest.mark.django_db
CHAT = "6281234567890"


def deliver(session, message: OutgoingMessage, at=T0) -> dict:
    session.send(message, at)
    (result,) = [e for e in session.poll(at + timedelta(seconds=message.typing_s)) if e.kind == SEND_RESULT]
    return result.data


def original(instance: Instance, session) -> SandboxReceived:
    data = deliver(session, OutgoingMessage(ref="m1", to=CHAT, kind="text", text="hello"))
    return SandboxReceived.objects.get(wa_message_id=data["message_id"])


def edit_of(row: SandboxReceived, **fields) -> OutgoingMessage:
    target = {"wa_message_id": row.wa_message_id, "chat_id": CHAT, "from_me": True}
    return OutgoingMessage(ref="e1", to=CHAT, kind="edit", text="hello again", target=target, **fields)


def test_an_edit_within_the_window_changes_the_received_text(instance: Instance) -> None:
    session = connected_session(instance)
    row = original(instance, session)
    assert deliver(session, edit_of(row, not_after=T0 + timedelta(minutes=15)))["ok"] is True
    row.refresh_from_db()
    assert (row.text, row.edited_at) == ("hello again", T0)


def test_an_edit_reaching_the_phone_past_the_window_fails_for_good_as_on_neonize(instance: Instance) -> None:
    session = connected_session(instance)
    row = original(instance, session)
    result = deliver(session, edit_of(row, not_after=T0 - timedelta(seconds=1)))
    assert (result["ok"], result["retryable"]) == (False, False)
    assert result["error"] == "WhatsApp's window has passed: the message can no longer be edited"
    row.refresh_from_db()
    assert row.text == "hello"


def test_a_reaction_to_a_message_the_phone_never_had_is_accepted_and_changes_nothing(
    instance: Instance,
) -> None:
    session = connected_session(instance)
    target = {"wa_message_id": "3A55UNKNOWN1", "chat_id": CHAT, "from_me": False, "sender": CHAT}
    message = OutgoingMessage(ref="r1", to=CHAT, kind="reaction", fields={"emoji": "👍"}, target=target)
    assert deliver(session, message)["ok"] is True
    assert SandboxReceived.objects.get(ref="r1").fields == {
        "emoji": "👍",
        "target_message_id": "3A55UNKNOWN1",
        "applied": False,
    }


def test_typing_shows_composing_then_paused_before_the_message(instance: Instance) -> None:
    session = connected_session(instance)
    session.send(OutgoingMessage(ref="t1", to=CHAT, kind="text", text="hi", typing_s=2.0), T0)
    assert session.poll(T0 + timedelta(seconds=1.9)) == []
    assert session.presence == [(T0, CHAT, "composing")]
    (result,) = session.poll(T0 + timedelta(seconds=2))
    assert result.data["ok"] is True
    assert session.presence == [(T0, CHAT, "composing"), (T0 + timedelta(seconds=2), CHAT, "paused")]


FROM = "628222000111"


def connected(owner: Any, worker: SteppedWorker) -> Instance:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    assert instance.status == "connected"
    return instance


def send(instance: Instance, **data: Any) -> SandboxIncoming:
    return send_to_instance(instance, {"from": FROM, **data})


def received(instance: Instance) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(instance=instance).order_by("id"))


def test_a_contacts_text_reaches_the_inbox_and_the_outbox_at_the_next_tick(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    sent = send(instance, text="halo", push_name="Budi")
    worker.tick()
    [message] = received(instance)
    assert (message.wa_message_id, message.text, message.push_name) == (sent.wa_message_id, "halo", "Budi")
    assert (message.chat, message.sender, message.sender_phone) == (
        f"{FROM}@s.whatsapp.net",
        f"{FROM}@s.whatsapp.net",
        FROM,
    )
    event = InstanceEvent.objects.filter(instance=instance, kind="message.received").get()
    assert event.payload["wa_message_id"] == sent.wa_message_id


def test_a_delivered_message_is_marked_so_and_never_delivered_again(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    sent = send(instance, text="halo")
    worker.tick(times=3)
    sent.refresh_from_db()
    assert sent.delivered_at is not None
    assert InstanceEvent.objects.filter(instance=instance, kind="message.received").count() == 1


def test_a_message_sent_while_the_instance_is_offline_arrives_once_it_connects(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    request_stopped(instance)
    worker.tick(times=2)
    send(instance, text="are you there?")
    worker.tick(times=2)
    assert received(instance) == []
    request_running(instance)
    worker.tick(times=5)
    assert [m.text for m in received(instance)] == ["are you there?"]


def test_a_message_reported_by_a_session_that_ended_is_reported_again_and_stored_once(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    sent = send(instance, text="halo")
    worker.tick()
    lifecycle = worker.worker.leased[instance.pk]
    assert isinstance(lifecycle.session, SandboxSession)
    lifecycle.session.reported.clear()  # as if the session ended before the transport's next poll
    worker.tick(times=3)
    sent.refresh_from_db()
    assert sent.delivered_at is not None
    assert len(received(instance)) == 1
    assert InstanceEvent.objects.filter(instance=instance, kind="message.received").count() == 1


def test_media_arrives_with_its_metadata_and_raw_copy(owner: Any, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    photo = b"\xff\xd8 a jpeg"
    sent = send(instance, kind="image", caption="foto", media=base64.b64encode(photo).decode())
    worker.tick()
    [message] = received(instance)
    assert (message.kind, message.text, message.media_mimetype, message.media_size) == (
        "image",
        "foto",
        "image/jpeg",
        len(photo),
    )
    assert message.raw["message"]["imageMessage"]["caption"] == "foto"
    assert message.raw["key"] == {
        "remoteJid": f"{FROM}@s.whatsapp.net",
        "fromMe": False,
        "id": sent.wa_message_id,
    }


def test_a_reply_in_a_group_names_the_group_the_participant_and_the_quote(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    send(instance, text="setuju", group="120363000000000001@g.us", quoted_message_id="Q1")
    worker.tick()
    [message] = received(instance)
    assert (message.chat, message.is_group, message.quoted_message_id) == (
        "120363000000000001@g.us",
        True,
        "Q1",
    )
    assert message.raw["key"]["participant"] == f"{FROM}@s.whatsapp.net"
    assert message.raw["message"] == {
        "extendedTextMessage": {"text": "setuju", "contextInfo": {"stanzaID": "Q1"}}
    }


def test_a_hidden_sender_still_comes_with_the_number(owner: Any, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    send(instance, text="halo", lid=True)
    worker.tick()
    [message] = received(instance)
    assert (message.sender, message.sender_phone) == (f"{hidden_id(FROM)}@lid", FROM)


@pytest.mark.parametrize(
    ("data", "kind", "details"),
    [
        (
            {"kind": "location", "latitude": -6.2, "longitude": 106.8, "name": "Monas"},
            "location",
            {
                "location": {
                    "latitude": -6.2,
                    "longitude": 106.8,
                    "live": False,
                    "name": "Monas",
                    "address": "",
                }
            },
        ),
        (
            {"kind": "contact", "vcard": "BEGIN:VCARD\nFN:Siti\nEND:VCARD"},
            "contact",
            {"contacts": [{"display_name": "Siti", "vcard": "BEGIN:VCARD\nFN:Siti\nEND:VCARD"}]},
        ),
        (
            {"kind": "poll", "question": "Kapan?", "options": ["Senin", "Selasa"]},
            "poll",
            {"poll": {"question": "Kapan?", "options": ["Senin", "Selasa"], "selectable_count": 1}},
        ),
    ],
)
def test_locations_contacts_and_polls_arrive_with_their_details(
    owner: Any, worker: SteppedWorker, data: dict[str, Any], kind: str, details: dict[str, Any]
) -> None:
    instance = connected(owner, worker)
    send(instance, **data)
    worker.tick()
    [message] = received(instance)
    assert (message.kind, message.details) == (kind, details)


def test_a_contacts_reaction_edit_and_revoke_change_their_message(owner: Any, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    target = send(instance, text="halo").wa_message_id
    worker.tick()
    send(instance, kind="reaction", emoji="👍", target_message_id=target)
    send(instance, kind="edit", text="halo!", target_message_id=target)
    send(instance, kind="revoke", target_message_id=target)
    worker.tick()
    message = InboundMessage.objects.get(instance=instance, wa_message_id=target)
    assert message.text == "halo!"
    assert [r["emoji"] for r in message.reactions] == ["👍"]
    assert message.edited_at is not None
    assert message.revoked_at is not None
    updates = InstanceEvent.objects.filter(instance=instance, kind="message.updated").order_by("id")
    assert [e.payload["update"] for e in updates] == ["reaction", "edit", "revoke"]


def test_a_message_received_late_keeps_the_time_the_contact_sent_it(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    request_stopped(instance)
    worker.tick(times=2)
    sent = send(instance, text="sent while you were away")
    request_running(instance)
    worker.tick(seconds=60, times=5)
    [message] = received(instance)
    assert message.sent_at == sent.created_at
    assert message.received_at > sent.created_at


# -- changes the contacts make to groups and to their profiles -------------------------------------

GROUP = "120363000000000001@g.us"


def changes_of(instance: Instance, kind: str) -> list[dict[str, Any]]:
    return [e.payload for e in InstanceEvent.objects.filter(instance=instance, kind=kind).order_by("id")]


def test_a_contacts_group_change_reaches_the_directory_and_the_outbox_at_the_next_tick(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = create_instance(
        owner,
        transport="sandbox",
        sandbox={"linked": True, "groups": [{"id": GROUP, "name": "Tim", "participants": [FROM]}]},
    )
    request_running(instance)
    worker.tick(times=5)
    session = worker.worker.leased[instance.pk].session
    GroupSnapshot.objects.create(
        instance=instance,
        jid=GROUP,
        name="Tim",
        data=session.book.group_info({"jid": GROUP}),
        fetched_at=worker.clock.now(),
    )
    row = notify_instance(
        instance, "group_update", {"group": GROUP, "by": FROM, "name": "Tim Launch", "locked": True}
    )
    worker.tick()
    [change] = changes_of(instance, "group.updated")
    assert change == {
        "group_id": GROUP,
        "by": f"{FROM}@s.whatsapp.net",
        "at": row.created_at.isoformat(),
        "changes": {"name": "Tim Launch", "locked": True},
        "participants": {},
        "account": None,
        "group_info": None,
    }
    assert GroupSnapshot.objects.get(instance=instance).data["name"] == "Tim Launch"
    assert session.book.group_info({"jid": GROUP})["locked"] is True


def test_a_contacts_new_picture_is_a_contact_change(owner: Any, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    notify_instance(instance, "contact_update", {"from": FROM, "picture": "removed", "lid": True})
    worker.tick()
    [change] = changes_of(instance, "contact.updated")
    assert (change["contact_id"], change["phone"], change["changes"]) == (
        f"{hidden_id(FROM)}@lid",
        FROM,
        {"picture": "removed"},
    )


def test_a_change_made_while_the_instance_was_offline_arrives_once_it_connects_in_order(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    notify_instance(instance, "group_update", {"group": GROUP, "name": "Tim"})
    send(instance, text="halo", push_name="Budi")
    notify_instance(instance, "contact_update", {"from": FROM})
    request_running(instance)
    worker.tick(times=5)
    kinds = list(
        InstanceEvent.objects.filter(instance=instance).exclude(kind="status").values_list("kind", flat=True)
    )
    assert kinds == ["group.updated", "message.received", "contact.updated", "contact.updated"]


def test_a_contacts_message_under_a_new_name_is_a_contact_change_once(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker)
    send(instance, text="halo", push_name="Budi")
    send(instance, text="lagi", push_name="Budi")
    send(instance, text="nama baru", push_name="Budi Santoso")
    worker.tick()
    assert [(c["changes"], c["previous_push_name"]) for c in changes_of(instance, "contact.updated")] == [
        ({"push_name": "Budi"}, None),
        ({"push_name": "Budi Santoso"}, "Budi"),
    ]
