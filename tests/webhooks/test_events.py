"""webhooks.events: which outbox events integrations hear of, under which names."""

from __future__ import annotations

import pytest

from webhooks import events

KINDS = [
    ("message.received", {}, "message.received"),
    ("message.updated", {"update": "edit"}, "message.updated"),
    ("message.status", {"status": "read"}, "message.status"),
    ("status", {"status": "qr_pending"}, "instance.status"),
    ("status", {"status": "connected"}, "instance.status"),
    ("status", {"status": "disconnected"}, "instance.status"),
    ("status", {"status": "logged_out"}, "instance.status"),
    ("status", {"status": "connecting"}, None),
    ("status", {"status": "starting"}, None),
    ("breaker", {"state": "open"}, "breaker.opened"),
    ("breaker", {"state": "forced_open"}, "breaker.opened"),
    ("breaker", {"state": "closed"}, "breaker.closed"),
    ("breaker", {"state": "half_open"}, None),
    ("qr", {"qr": "2@x"}, None),
    ("pair_code", {"code": "ABCD"}, None),
    ("message", {"text": "legacy"}, None),
    ("group.updated", {"changes": {"name": "Tim"}}, "group.updated"),
    ("contact.updated", {"changes": {"picture": "changed"}}, "contact.updated"),
]


@pytest.mark.parametrize(("kind", "payload", "public"), KINDS)
def test_public_types(kind: str, payload: dict, public: str | None) -> None:
    assert events.public_type(kind, payload) == public


def test_a_qr_status_is_called_qr() -> None:
    data = events.public_data("status", {"status": "qr_pending", "detail": "scan it"}, "ABCDEF0123456")
    assert data == {"status": "qr", "detail": "scan it", "instance_id": "ABCDEF0123456"}


def test_messages_go_without_the_raw_whatsapp_payload() -> None:
    data = events.public_data("message.received", {"text": "hi", "raw": {"conversation": "hi"}}, "X")
    assert data == {"text": "hi", "instance_id": "X"}


def test_an_update_carries_its_message_without_the_raw_payload() -> None:
    payload = {"update": "revoke", "message": {"id": 4, "raw": {"x": 1}}}
    assert events.public_data("message.updated", payload, "X") == {
        "update": "revoke",
        "message": {"id": 4},
        "instance_id": "X",
    }


def test_a_replay_reads_every_kind_integrations_hear_of() -> None:
    assert {kind for kind, _, public in KINDS if public} <= set(events.PUBLIC_KINDS)


def test_endpoints_may_subscribe_to_group_and_contact_changes() -> None:
    assert {"group.updated", "contact.updated"} <= set(events.EVENT_TYPES)


def test_a_group_change_goes_as_the_directory_wrote_it_naming_its_instance() -> None:
    payload = {"group_id": "120363000000000001@g.us", "changes": {"name": "Tim"}, "participants": {}}
    data = events.public_data("group.updated", payload, "ABCDEF0123456")
    assert data == {**payload, "instance_id": "ABCDEF0123456"}
