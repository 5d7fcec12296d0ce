"""The sandbox's simulated phone with the kinds that act on an earlier message: what it applies
to what it received, and the failures neonize's host would answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from instances.models import Instance, SandboxReceived
from tests.support.queue import T0, connected_session
from worker.transports.base import SEND_RESULT, OutgoingMessage

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
