"""The instance page's event lines for received messages and their updates, and for group and
contact changes."""

from __future__ import annotations

from dashboard.figures import event_summary


def test_a_received_message_reads_as_its_kind_and_chat() -> None:
    line = event_summary("message.received", {"kind": "image", "chat": "628222@s.whatsapp.net"})
    assert line == "image from 628222@s.whatsapp.net"


def test_an_update_reads_as_what_changed_which_message() -> None:
    assert event_summary("message.updated", {"update": "revoke", "target_wa_message_id": "3EB0A"}) == (
        "revoke of 3EB0A"
    )


def test_a_group_change_reads_as_the_group_and_what_changed() -> None:
    payload = {
        "group_id": "120363000000000001@g.us",
        "changes": {"name": "Tim"},
        "participants": {"added": ["628222@s.whatsapp.net"]},
        "account": "joined",
    }
    assert (
        event_summary("group.updated", payload)
        == "group 120363000000000001@g.us: the account joined, name, added"
    )


def test_a_contact_change_reads_as_the_number_and_what_changed() -> None:
    payload = {"contact_id": "190000111222333@lid", "phone": "628222", "changes": {"push_name": "Budi"}}
    assert event_summary("contact.updated", payload) == "contact 628222: push_name"
