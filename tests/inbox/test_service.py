"""The inbox's writer: one row per WhatsApp message, its outbox event in the same transaction,
edits, revokes and reactions applied to their targets, a bounded raw copy, retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from inbox.models import InboundMessage
from inbox.service import RAW_MAX_BYTES, bound_raw, message_dict, prune, store_incoming
from instances.models import Instance, InstanceEvent
from tests.support.inbox import T0, incoming, receive

pytestmark = pytest.mark.django_db


def events(instance: Instance, kind: str | None = None) -> list[InstanceEvent]:
    rows = InstanceEvent.objects.filter(instance=instance).order_by("id")
    return list(rows.filter(kind=kind) if kind else rows)


def test_a_received_text_is_stored_with_what_whatsapp_said(instance: Instance) -> None:
    data = incoming(message_id="ABC", text="halo", push_name="Budi", quoted_message_id="Q1")
    stored = store_incoming(instance.pk, data, T0 + timedelta(seconds=2))
    row = InboundMessage.objects.get(instance=instance, wa_message_id="ABC")
    assert stored.created is True
    assert (row.kind, row.text, row.push_name, row.sender_phone) == ("text", "halo", "Budi", "628222")
    assert (row.sent_at, row.received_at) == (T0, T0 + timedelta(seconds=2))
    assert row.quoted_message_id == "Q1"


def test_storing_emits_message_received_with_the_message_as_the_api_shows_it(instance: Instance) -> None:
    row = receive(instance, message_id="ABC")
    [event] = events(instance)
    assert event.kind == "message.received"
    assert event.payload == message_dict(row, instance.instance_id)


def test_the_api_shape_names_the_message_by_a_prefixed_id_and_says_it_came_in(instance: Instance) -> None:
    row = receive(instance)
    shown = message_dict(row, instance.instance_id)
    assert shown["id"] == f"in_{row.pk}"
    assert (shown["direction"], shown["instance_id"]) == ("in", instance.instance_id)
    assert shown["media"] is None


def test_a_duplicate_delivery_stores_nothing_and_emits_nothing(instance: Instance) -> None:
    data = incoming(message_id="DUP")
    store_incoming(instance.pk, data, T0)
    again = store_incoming(instance.pk, {**data, "text": "changed?"}, T0 + timedelta(seconds=5))
    assert again.created is False
    assert InboundMessage.objects.filter(instance=instance).count() == 1
    assert len(events(instance)) == 1
    assert InboundMessage.objects.get(wa_message_id="DUP").text == "halo"


def test_the_same_whatsapp_id_on_two_instances_is_two_messages(instance: Instance, owner: Any) -> None:
    other = Instance.objects.create(owner=owner, name="other", transport="sandbox")
    store_incoming(instance.pk, incoming(message_id="SAME"), T0)
    store_incoming(other.pk, incoming(message_id="SAME"), T0)
    assert InboundMessage.objects.filter(wa_message_id="SAME").count() == 2


def test_a_message_without_an_id_is_not_stored(instance: Instance) -> None:
    stored = store_incoming(instance.pk, incoming(message_id=""), T0)
    assert stored.message is None
    assert InboundMessage.objects.count() == 0


def test_a_rolled_back_transaction_leaves_neither_the_row_nor_its_event(instance: Instance) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(instance)
        raise RuntimeError("the worker's transaction failed after the store")
    assert InboundMessage.objects.count() == 0
    assert events(instance) == []


def test_media_metadata_and_what_is_needed_to_download_it_are_kept(instance: Instance) -> None:
    media = {
        "mimetype": "image/jpeg",
        "size": 5120,
        "filename": "",
        "sha256": "ab" * 32,
        "download": {"direct_path": "/v/t62/x", "media_key": "a2V5"},
    }
    row = receive(instance, kind="image", text="foto", media=media)
    assert (row.media_mimetype, row.media_size, row.media_sha256) == ("image/jpeg", 5120, "ab" * 32)
    assert row.media_download == {"direct_path": "/v/t62/x", "media_key": "a2V5"}
    shown = message_dict(row, instance.instance_id)
    assert shown["media"] == {"mimetype": "image/jpeg", "size": 5120, "filename": "", "sha256": "ab" * 32}


def test_an_unknown_kind_is_stored_as_other(instance: Instance) -> None:
    assert receive(instance, kind="hologram").kind == "other"


def test_text_no_database_could_store_is_cleaned_not_refused(instance: Instance) -> None:
    row = receive(instance, text="a\x00b\ud800c", push_name="x" * 1000)
    assert row.text == "ab?c"
    assert len(row.push_name) == 255


def test_a_bad_time_falls_back_to_the_time_of_receipt(instance: Instance) -> None:
    row = receive(instance, now=T0 + timedelta(minutes=1), at="yesterday")
    assert row.sent_at == T0 + timedelta(minutes=1)


def test_a_time_no_calendar_holds_in_utc_falls_back_to_the_time_of_receipt(instance: Instance) -> None:
    row = receive(instance, now=T0, at="0001-01-01T00:00:00+05:00")
    assert row.sent_at == T0


# -- edits, revokes, reactions ----------------------------------------------------------------


def test_an_edit_rewrites_its_target_and_is_kept_as_a_row_of_its_own(instance: Instance) -> None:
    target = receive(instance, message_id="T1", text="halo")
    edit_time = T0 + timedelta(minutes=3)
    edit = receive(
        instance, message_id="E1", kind="edit", target_id="T1", text="halo!", at=edit_time.isoformat()
    )
    target.refresh_from_db()
    assert (target.text, target.edited_at) == ("halo!", edit_time)
    assert (edit.kind, edit.target_message_id) == ("edit", "T1")


def test_an_edit_emits_message_updated_with_the_target_after_the_edit(instance: Instance) -> None:
    target = receive(instance, message_id="T1", text="halo")
    receive(instance, message_id="E1", kind="edit", target_id="T1", text="halo!")
    [event] = events(instance, "message.updated")
    target.refresh_from_db()
    assert event.payload["update"] == "edit"
    assert event.payload["message"] == message_dict(target, instance.instance_id)
    assert event.payload["previous_text"] == "halo"
    assert len(events(instance, "message.received")) == 1


def test_an_edit_delivered_twice_is_applied_and_announced_once(instance: Instance) -> None:
    receive(instance, message_id="T1")
    data = incoming(message_id="E1", kind="edit", target_id="T1", text="v2")
    store_incoming(instance.pk, data, T0)
    store_incoming(instance.pk, data, T0)
    assert len(events(instance, "message.updated")) == 1


def test_a_revoke_marks_its_target_revoked_and_keeps_what_was_received(instance: Instance) -> None:
    target = receive(instance, message_id="T1", text="oops")
    at = T0 + timedelta(minutes=1)
    receive(instance, message_id="R1", kind="revoke", target_id="T1", text="", at=at.isoformat())
    target.refresh_from_db()
    assert target.revoked_at == at
    assert target.text == "oops"
    [event] = events(instance, "message.updated")
    assert (event.payload["update"], event.payload["message"]["revoked_at"]) == ("revoke", at.isoformat())


def test_a_reaction_is_listed_on_its_target_and_announced_with_emoji_and_sender(instance: Instance) -> None:
    target = receive(instance, message_id="T1")
    receive(instance, message_id="X1", kind="reaction", target_id="T1", text="👍")
    target.refresh_from_db()
    assert target.reactions == [
        {"emoji": "👍", "sender": "628222@s.whatsapp.net", "sender_phone": "628222", "at": T0.isoformat()}
    ]
    [event] = events(instance, "message.updated")
    assert event.payload["reaction"] == {
        "emoji": "👍",
        "sender": "628222@s.whatsapp.net",
        "sender_phone": "628222",
    }
    assert event.payload["message"]["reactions"] == target.reactions


def test_a_new_reaction_replaces_the_senders_last_and_an_empty_one_takes_it_back(instance: Instance) -> None:
    target = receive(instance, message_id="T1")
    receive(instance, message_id="X1", kind="reaction", target_id="T1", text="👍")
    receive(instance, message_id="X2", kind="reaction", target_id="T1", text="❤️")
    receive(
        instance, message_id="X3", kind="reaction", target_id="T1", text="👍", sender="628333@s.whatsapp.net"
    )
    target.refresh_from_db()
    assert [(r["sender"], r["emoji"]) for r in target.reactions] == [
        ("628222@s.whatsapp.net", "❤️"),
        ("628333@s.whatsapp.net", "👍"),
    ]
    receive(instance, message_id="X4", kind="reaction", target_id="T1", text="")
    target.refresh_from_db()
    assert [r["sender"] for r in target.reactions] == ["628333@s.whatsapp.net"]


def test_an_update_to_a_message_never_received_is_kept_and_announced_without_a_target(
    instance: Instance,
) -> None:
    update = receive(instance, message_id="X1", kind="reaction", target_id="GONE", text="👍")
    [event] = events(instance)
    assert event.kind == "message.updated"
    assert (event.payload["message"], event.payload["target_wa_message_id"]) == (None, "GONE")
    assert event.payload["update_message"]["id"] == update.api_id


def test_an_update_never_changes_another_update(instance: Instance) -> None:
    receive(instance, message_id="X1", kind="reaction", target_id="T0", text="👍")
    receive(instance, message_id="E1", kind="edit", target_id="X1", text="hacked")
    assert InboundMessage.objects.get(wa_message_id="X1").text == "👍"


# -- the raw copy ------------------------------------------------------------------------------


def test_a_small_raw_copy_is_kept_whole(instance: Instance) -> None:
    raw = {"key": {"id": "A"}, "message": {"conversation": "hi"}, "pushName": "Budi"}
    assert receive(instance, raw=raw).raw == raw


def test_a_reply_too_big_to_keep_loses_its_quoted_copy_first() -> None:
    quoted = {"conversation": "q" * RAW_MAX_BYTES}
    raw = {
        "key": {"id": "A"},
        "message": {
            "extendedTextMessage": {
                "text": "reply",
                "contextInfo": {"stanzaID": "Q", "quotedMessage": quoted},
            }
        },
    }
    kept = bound_raw(raw)
    assert kept["message"]["extendedTextMessage"] == {"text": "reply", "contextInfo": {"stanzaID": "Q"}}
    assert kept["truncated"]["limit"] == RAW_MAX_BYTES


def test_a_body_too_big_to_keep_is_cut_to_its_key_with_a_marker(instance: Instance) -> None:
    raw = {"key": {"id": "A"}, "pushName": "Budi", "message": {"conversation": "é" * RAW_MAX_BYTES}}
    kept = receive(instance, raw=raw).raw
    assert kept == {
        "key": {"id": "A"},
        "pushName": "Budi",
        "truncated": {
            "bytes": len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()),
            "limit": RAW_MAX_BYTES,
        },
    }


def test_the_stored_raw_copy_never_exceeds_the_cap() -> None:
    raw = {"key": {"id": "k" * (2 * RAW_MAX_BYTES)}, "message": {"conversation": "x"}}
    kept = bound_raw(raw)
    assert len(json.dumps(kept).encode()) <= RAW_MAX_BYTES
    assert "truncated" in kept


# -- retention ---------------------------------------------------------------------------------


def test_prune_removes_messages_received_before_the_retention(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_INBOX_RETENTION_DAYS = 30
    now = T0 + timedelta(days=40)
    receive(instance, message_id="OLD", now=now - timedelta(days=31))
    receive(instance, message_id="NEW", now=now - timedelta(days=29))
    assert prune(now) == 1
    assert list(InboundMessage.objects.values_list("wa_message_id", flat=True)) == ["NEW"]
