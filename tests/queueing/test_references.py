"""Messages that name another message (a reaction, an edit, a delete, a reply), resolved when
queued against the instance's own sent messages, with the clock passed in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from instances.models import Instance
from instances.service import create_instance
from queueing.models import QueuedMessage
from queueing.references import resolve
from queueing.validation import clean_message
from tests.support.queue import T0, queue_message

pytestmark = pytest.mark.django_db
CHAT = "6281234567890"
GROUP = "120363025246125486@g.us"


def sent(instance: Instance, chat_id: str = CHAT, **fields: Any) -> QueuedMessage:
    fields.setdefault("wa_message_id", "3EB0AAAA1111")
    return queue_message(instance, chat_id, status="sent", sent_at=T0, **fields)


def problems(instance: Instance, now=T0, **fields: Any) -> dict[str, list[str]]:
    fields.setdefault("chat_id", CHAT)
    try:
        resolve(instance, clean_message(**fields), now)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def target_of(instance: Instance, now=T0, **fields: Any) -> dict[str, Any]:
    fields.setdefault("chat_id", CHAT)
    return resolve(instance, clean_message(**fields), now).payload["target"]


def test_an_edit_of_our_sent_text_names_its_whatsapp_id_chat_and_send_time(instance: Instance) -> None:
    ours = sent(instance)
    target = target_of(instance, kind="edit", target_message_id=str(ours.message_id), text="fixed")
    assert target == {
        "ref": str(ours.message_id),
        "message_id": str(ours.message_id),
        "wa_message_id": "3EB0AAAA1111",
        "chat_id": CHAT,
        "from_me": True,
        "sender": "",
        "sent_at": T0.isoformat(),
    }


def test_our_message_may_be_named_by_its_whatsapp_id_too(instance: Instance) -> None:
    ours = sent(instance)
    target = target_of(instance, kind="delete", target_message_id="3EB0AAAA1111")
    assert target["message_id"] == str(ours.message_id)


def test_an_edit_past_15_minutes_is_refused_naming_the_target(instance: Instance) -> None:
    ours = sent(instance)
    later = T0 + timedelta(minutes=16)
    errors = problems(instance, later, kind="edit", target_message_id=str(ours.message_id), text="x")
    assert list(errors) == ["target_message_id"]
    assert "15 minutes" in errors["target_message_id"][0]


def test_a_delete_within_two_days_is_accepted_and_after_them_refused(instance: Instance) -> None:
    ours = sent(instance)
    ref = str(ours.message_id)
    assert problems(instance, T0 + timedelta(hours=47), kind="delete", target_message_id=ref) == {}
    assert (
        "2 days"
        in problems(instance, T0 + timedelta(hours=49), kind="delete", target_message_id=ref)[
            "target_message_id"
        ][0]
    )


def test_an_edit_of_another_instances_message_is_refused(instance: Instance, owner: Any) -> None:
    theirs = sent(create_instance(owner, transport="sandbox"))
    errors = problems(instance, kind="edit", target_message_id=str(theirs.message_id), text="x")
    assert list(errors) == ["target_message_id"]


def test_an_edit_of_another_instances_message_by_its_whatsapp_id_is_refused(
    instance: Instance, owner: Any
) -> None:
    sent(create_instance(owner, transport="sandbox"), wa_message_id="3EB0BBBB2222")
    errors = problems(instance, kind="edit", target_message_id="3EB0BBBB2222", text="x")
    assert "only those can be edited" in errors["target_message_id"][0]


def test_an_edit_of_a_message_someone_else_sent_is_refused(instance: Instance) -> None:
    errors = problems(instance, kind="edit", target_message_id="3A55BBBB2222", text="x")
    assert list(errors) == ["target_message_id"]


def test_a_delete_of_a_message_someone_else_sent_is_refused(instance: Instance) -> None:
    assert list(problems(instance, kind="delete", target_message_id="3A55BBBB2222")) == ["target_message_id"]


def test_only_text_can_be_edited(instance: Instance) -> None:
    image = sent(instance, kind="image", media_url="https://93.184.215.14/a.png", text="cat")
    errors = problems(instance, kind="edit", target_message_id=str(image.message_id), text="dog")
    assert "Only text messages" in errors["target_message_id"][0]


def test_a_message_not_sent_yet_cannot_be_acted_on(instance: Instance) -> None:
    queued = queue_message(instance, CHAT)
    errors = problems(instance, kind="reaction", target_message_id=str(queued.message_id), emoji="👍")
    assert "not been sent yet" in errors["target_message_id"][0]


def test_a_message_in_another_chat_is_refused(instance: Instance) -> None:
    ours = sent(instance, chat_id="6289999999999")
    errors = problems(instance, kind="reaction", target_message_id=str(ours.message_id), emoji="👍")
    assert "not to chat_id" in errors["target_message_id"][0]


def test_a_phone_number_and_its_jid_are_the_same_chat(instance: Instance) -> None:
    ours = sent(instance)
    ref = str(ours.message_id)
    assert (
        problems(
            instance, chat_id=f"{CHAT}@s.whatsapp.net", kind="reaction", target_message_id=ref, emoji="👍"
        )
        == {}
    )


def test_a_reaction_to_an_unknown_message_id_is_refused(instance: Instance) -> None:
    errors = problems(
        instance, kind="reaction", target_message_id="6c7b6b5e-0000-4000-8000-000000000000", emoji="👍"
    )
    assert errors == {"target_message_id": ["No message of this instance has this message_id."]}


def test_a_reaction_to_the_other_persons_whatsapp_id_is_theirs_in_this_chat(instance: Instance) -> None:
    target = target_of(instance, kind="reaction", target_message_id="3A55BBBB2222", emoji="👍")
    assert (target["from_me"], target["sender"], target["chat_id"]) == (False, f"{CHAT}@s.whatsapp.net", CHAT)


def test_in_a_group_only_our_own_messages_can_be_reacted_to(instance: Instance) -> None:
    errors = problems(instance, chat_id=GROUP, kind="reaction", target_message_id="3A55BBBB2222", emoji="👍")
    assert "In a group" in errors["target_message_id"][0]


def test_a_reaction_to_a_reaction_is_refused(instance: Instance) -> None:
    reaction = sent(instance, kind="reaction", text="", payload={"emoji": "👍"})
    errors = problems(instance, kind="reaction", target_message_id=str(reaction.message_id), emoji="❤")
    assert list(errors) == ["target_message_id"]


def test_a_reply_to_our_message_quotes_its_text_and_content(instance: Instance) -> None:
    poll = sent(
        instance,
        kind="poll",
        text="",
        payload={"question": "Q?", "options": ["a", "b"], "selectable_count": 1},
    )
    draft = resolve(
        instance, clean_message(chat_id=CHAT, text="vote!", quoted_message_id=str(poll.message_id)), T0
    )
    assert draft.payload["quoted"] == {
        "ref": str(poll.message_id),
        "message_id": str(poll.message_id),
        "wa_message_id": "3EB0AAAA1111",
        "chat_id": CHAT,
        "from_me": True,
        "sender": "",
        "kind": "poll",
        "text": "",
        "content": {"question": "Q?", "options": ["a", "b"], "selectable_count": 1},
    }


def test_a_reply_to_a_whatsapp_id_of_the_other_person_is_accepted(instance: Instance) -> None:
    draft = resolve(instance, clean_message(chat_id=CHAT, text="ok", quoted_message_id="3A55BBBB2222"), T0)
    assert draft.payload["quoted"]["from_me"] is False


def test_a_reply_to_an_unknown_message_id_is_refused(instance: Instance) -> None:
    errors = problems(instance, text="ok", quoted_message_id="6c7b6b5e-0000-4000-8000-000000000000")
    assert list(errors) == ["quoted_message_id"]


def test_the_window_does_not_apply_to_replies_or_reactions(instance: Instance) -> None:
    ours = sent(instance)
    ref, much_later = str(ours.message_id), T0 + timedelta(days=30)
    assert problems(instance, much_later, kind="reaction", target_message_id=ref, emoji="👍") == {}
    assert problems(instance, much_later, text="re", quoted_message_id=ref) == {}
