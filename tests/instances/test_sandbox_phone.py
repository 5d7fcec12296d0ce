"""What a simulated contact may send a sandbox instance: every kind, each field checked and
named when wrong; only to an instance with a linked account."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from instances import sandbox_phone
from instances.models import Instance, SandboxIncoming, SandboxPhone
from instances.sandbox_phone import NotLinked, clean_incoming, send_to_instance
from instances.service import create_instance

pytestmark = pytest.mark.django_db


def errors_of(**data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        clean_incoming(data)
    return refused.value.message_dict


def linked(instance: Instance) -> Instance:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    return instance


def test_a_text_from_a_number_is_the_default_kind() -> None:
    message, media = clean_incoming({"from": "+628222000111", "text": "halo"})
    assert (message["from"], message["kind"], message["text"], media) == ("628222000111", "text", "halo", b"")


def test_media_sent_as_base64_keeps_its_bytes_size_and_hash() -> None:
    photo = b"\xff\xd8 jpeg"
    message, media = clean_incoming(
        {
            "from": "628222000111",
            "kind": "image",
            "caption": "foto",
            "media": base64.b64encode(photo).decode(),
        }
    )
    assert media == photo
    assert (message["text"], message["mimetype"], message["size"]) == ("foto", "image/jpeg", len(photo))
    assert message["sha256"] == hashlib.sha256(photo).hexdigest()


def test_media_without_bytes_gets_filler_of_the_size_asked_for() -> None:
    message, media = clean_incoming(
        {
            "from": "628222000111",
            "kind": "document",
            "filename": "a.pdf",
            "mimetype": "application/pdf",
            "size": 50,
        }
    )
    assert len(media) == 50
    assert (message["filename"], message["mimetype"], message["size"]) == ("a.pdf", "application/pdf", 50)


def test_a_location_a_contact_and_a_poll_keep_what_they_carry() -> None:
    location, _ = clean_incoming(
        {"from": "628222000111", "kind": "location", "latitude": "-6.2", "longitude": 106.8}
    )
    assert (location["latitude"], location["longitude"]) == (-6.2, 106.8)
    contact, _ = clean_incoming(
        {"from": "628222000111", "kind": "contact", "contact_name": "Siti", "contact_phone": "628333000111"}
    )
    assert contact["contacts"][0]["display_name"] == "Siti"
    assert "waid=628333000111" in contact["contacts"][0]["vcard"]
    poll, _ = clean_incoming(
        {"from": "628222000111", "kind": "poll", "question": "Kapan?", "options": "Senin, Selasa"}
    )
    assert (poll["question"], poll["options"], poll["selectable_count"]) == ("Kapan?", ["Senin", "Selasa"], 1)


def test_reactions_edits_and_revokes_name_their_target() -> None:
    reaction, _ = clean_incoming(
        {"from": "628222000111", "kind": "reaction", "emoji": "👍", "target_message_id": "T1"}
    )
    assert (reaction["text"], reaction["target_message_id"]) == ("👍", "T1")
    removal, _ = clean_incoming(
        {"from": "628222000111", "kind": "reaction", "emoji": "", "target_message_id": "T1"}
    )
    assert removal["text"] == ""
    edit, _ = clean_incoming(
        {"from": "628222000111", "kind": "edit", "text": "v2", "target_message_id": "T1"}
    )
    assert (edit["text"], edit["target_message_id"]) == ("v2", "T1")


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"from", "text"}),
        ({"from": "12", "text": "x"}, {"from"}),
        ({"from": "628222000111"}, {"text"}),
        ({"from": "628222000111", "kind": "hologram"}, {"kind"}),
        ({"from": "628222000111", "text": "x\x00"}, {"text"}),
        ({"from": "628222000111", "text": "x" * 65_537}, {"text"}),
        ({"from": "628222000111", "kind": "image", "media": "not base64!"}, {"media"}),
        ({"from": "628222000111", "kind": "image", "size": 2**21}, {"size"}),
        (
            {"from": "628222000111", "kind": "location", "latitude": 91, "longitude": "east"},
            {"latitude", "longitude"},
        ),
        ({"from": "628222000111", "kind": "location", "latitude": "nan", "longitude": 1}, {"latitude"}),
        ({"from": "628222000111", "kind": "contact"}, {"vcard"}),
        ({"from": "628222000111", "kind": "poll", "question": "q", "options": ["only one"]}, {"options"}),
        ({"from": "628222000111", "kind": "poll", "question": "q", "options": ["a", "a"]}, {"options"}),
        ({"from": "628222000111", "kind": "reaction", "target_message_id": "T1"}, {"emoji"}),
        ({"from": "628222000111", "kind": "revoke"}, {"target_message_id"}),
        (
            {"from": "628222000111", "kind": "edit", "text": "x", "target_message_id": "a b"},
            {"target_message_id"},
        ),
        ({"from": "628222000111", "text": "x", "group": "not-a-group"}, {"group"}),
        ({"from": "628222000111", "text": "x", "lid": "perhaps"}, {"lid"}),
        ({"from": ["628222000111"], "text": 5}, {"from", "text"}),
    ],
)
def test_a_bad_field_is_refused_by_name(data: dict[str, Any], fields: set[str]) -> None:
    assert set(errors_of(**data)) == fields


def test_a_message_to_a_linked_sandbox_instance_waits_for_its_session(instance: Instance) -> None:
    row = send_to_instance(linked(instance), {"from": "628222000111", "text": "halo"})
    assert row.delivered_at is None
    assert row.wa_message_id.startswith("3EB0")
    assert len(row.wa_message_id) == 20
    assert sandbox_phone.pending([instance.pk]) == [row]


def test_an_instance_set_to_link_by_itself_counts_as_linked(owner: Any) -> None:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    assert send_to_instance(instance, {"from": "628222000111", "text": "halo"}).pk


def test_nobody_receives_a_message_before_an_account_is_linked(instance: Instance) -> None:
    with pytest.raises(NotLinked):
        send_to_instance(instance, {"from": "628222000111", "text": "halo"})
    assert not SandboxIncoming.objects.exists()


def test_only_a_sandbox_instance_has_contacts_to_send_it_anything(owner: Any) -> None:
    real = create_instance(owner, transport="neonize")
    with pytest.raises(ValidationError):
        send_to_instance(real, {"from": "628222000111", "text": "halo"})


# -- changes to groups and contacts ----------------------------------------------------------------

GROUP = "120363000000000001@g.us"


def group_errors(**data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        sandbox_phone.clean_group_update(data)
    return refused.value.message_dict


def test_a_group_change_keeps_only_what_changes() -> None:
    update = sandbox_phone.clean_group_update(
        {
            "group": GROUP,
            "by": "+628222000111",
            "name": "Tim",
            "announce": "on",
            "add": "628333000111, 628444000111",
        }
    )
    assert update == {
        "kind": "group_update",
        "group": GROUP,
        "by": "628222000111",
        "changes": {"name": "Tim", "announce": True},
        "participants": {"added": ["628333000111", "628444000111"]},
    }


def test_an_empty_description_removes_it_and_every_participant_change_is_named() -> None:
    update = sandbox_phone.clean_group_update(
        {
            "group": GROUP,
            "description": "",
            "remove": ["628333000111"],
            "promote": ["628444000111"],
            "demote": ["628555000111"],
            "locked": False,
        }
    )
    assert update["changes"] == {"description": "", "locked": False}
    assert update["participants"] == {
        "removed": ["628333000111"],
        "promoted": ["628444000111"],
        "demoted": ["628555000111"],
    }


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"name": "Tim"}, {"group"}),
        ({"group": "628222000111@s.whatsapp.net", "name": "Tim"}, {"group"}),
        ({"group": GROUP, "name": "x" * 101, "announce": "maybe", "by": "12"}, {"name", "announce", "by"}),
        ({"group": GROUP, "add": ["628222000111", "12"]}, {"add"}),
        ({"group": GROUP, "remove": []}, {"remove"}),
        ({"group": GROUP}, {"non_field_errors"}),
    ],
)
def test_a_bad_group_change_is_refused_by_name(data: dict[str, Any], fields: set[str]) -> None:
    assert set(group_errors(**data)) == fields


def test_a_picture_change_is_changed_unless_removed() -> None:
    assert sandbox_phone.clean_contact_update({"from": "628222000111"}) == {
        "kind": "contact_update",
        "from": "628222000111",
        "lid": False,
        "picture": "changed",
    }
    removed = sandbox_phone.clean_contact_update({"from": "628222000111", "picture": "removed", "lid": True})
    assert (removed["picture"], removed["lid"]) == ("removed", True)


def test_a_bad_picture_change_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as refused:
        sandbox_phone.clean_contact_update({"picture": "blue"})
    assert set(refused.value.message_dict) == {"from", "picture"}


def test_a_change_waits_for_the_session_beside_the_messages(instance: Instance) -> None:
    linked(instance)
    row = sandbox_phone.notify_instance(instance, "group_update", {"group": GROUP, "locked": True})
    assert (row.message["kind"], row.delivered_at) == ("group_update", None)
    assert sandbox_phone.pending([instance.pk]) == [row]


def test_nobody_hears_of_a_change_before_an_account_is_linked(instance: Instance) -> None:
    with pytest.raises(NotLinked):
        sandbox_phone.notify_instance(instance, "contact_update", {"from": "628222000111"})
    assert not SandboxIncoming.objects.exists()


def test_only_a_sandbox_instance_has_contacts_to_change_anything(owner: Any) -> None:
    real = create_instance(owner, transport="neonize")
    with pytest.raises(ValidationError):
        sandbox_phone.notify_instance(real, "contact_update", {"from": "628222000111"})
