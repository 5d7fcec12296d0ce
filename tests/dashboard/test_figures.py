"""The instance page's event lines for received messages and their updates."""

from __future__ import annotations

from dashboard.figures import event_summary


def test_a_received_message_reads_as_its_kind_and_chat() -> None:
    line = event_summary("message.received", {"kind": "image", "chat": "628222@s.whatsapp.net"})
    assert line == "image from 628222@s.whatsapp.net"


def test_an_update_reads_as_what_changed_which_message() -> None:
    assert event_summary("message.updated", {"update": "revoke", "target_wa_message_id": "3EB0A"}) == (
        "revoke of 3EB0A"
    )
