"""What the host makes of neonize's events, without a phone.

Events only a real WhatsApp account could send (receipts, messages, bans, logouts) are built
here from neonize's own protobuf classes. Those are loaded straight from neonize's ``proto``
directory, so the test process never loads neonize's Go library.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from worker.sessionhost import events as hs
from worker.sessionhost import protocol as p
from worker.sessionhost import session as host_session
from worker.sessionhost.messages import jid_str


def _protos() -> tuple[Any, Any]:
    if "neonize.proto.Neonize_pb2" not in sys.modules:
        spec = importlib.util.find_spec("neonize")
        sys.path.insert(0, str(Path(spec.submodule_search_locations[0]) / "proto"))
    pb = sys.modules.get("neonize.proto.Neonize_pb2") or importlib.import_module("Neonize_pb2")
    return pb, importlib.import_module("waE2E.WAWebProtobufsE2E_pb2")


pb, e2e = _protos()
ME = pb.JID(User="628111", Server="s.whatsapp.net", Device=7)
FRIEND = pb.JID(User="628222", Server="s.whatsapp.net")


def text_of(message: Any) -> str:
    return message.conversation or message.imageMessage.caption


def translate(name: str, ev: Any) -> hs.Translated:
    return hs.translate(name, ev, text_of)


def test_jid_string_keeps_the_device_and_empty_stays_empty():
    assert jid_str(ME) == "628111:7@s.whatsapp.net"
    assert jid_str(FRIEND) == "628222@s.whatsapp.net"
    assert jid_str(pb.JID()) == ""


@pytest.mark.parametrize(
    ("rtype", "kind"), [("DELIVERED", "delivered"), ("READ", "read"), ("PLAYED", "played")]
)
def test_delivery_read_and_played_receipts_become_receipt_events(rtype, kind):
    ev = pb.Receipt(
        MessageSource=pb.MessageSource(Chat=FRIEND, Sender=FRIEND),
        MessageIDs=["3EB0A", "3EB0B"],
        Timestamp=1_764_000_000,
        Type=getattr(pb.Receipt, rtype),
    )
    assert translate("Receipt", ev) == (
        p.RECEIPT,
        {
            "message_ids": ["3EB0A", "3EB0B"],
            "kind": kind,
            "chat": "628222@s.whatsapp.net",
            "sender": "628222@s.whatsapp.net",
            "at": 1_764_000_000,
        },
    )


@pytest.mark.parametrize("rtype", ["RETRY", "SENDER", "INACTIVE", "READ_SELF"])
def test_receipts_that_say_nothing_about_delivery_are_dropped(rtype):
    assert translate("Receipt", pb.Receipt(Type=getattr(pb.Receipt, rtype))) is None


def test_a_text_message_becomes_incoming_with_seconds():
    ev = pb.Message(
        Info=pb.MessageInfo(
            ID="ABC123",
            Pushname="Budi",
            Timestamp=1_764_000_000_500,  # neonize 0.5.2 sends milliseconds here
            MessageSource=pb.MessageSource(Chat=FRIEND, Sender=FRIEND, IsFromMe=False, IsGroup=False),
        ),
        Message=e2e.Message(conversation="halo"),
    )
    kind, fields = translate("Message", ev)
    assert kind == p.INCOMING
    assert {k: v for k, v in fields.items() if k != "raw"} == {
        "message_id": "ABC123",
        "chat": "628222@s.whatsapp.net",
        "sender": "628222@s.whatsapp.net",
        "sender_phone": "628222",
        "from_me": False,
        "is_group": False,
        "push_name": "Budi",
        "text": "halo",
        "kind": "text",
        "at": 1_764_000_000.5,
    }


def test_an_image_message_reports_kind_image_and_its_caption():
    ev = pb.Message(
        Info=pb.MessageInfo(ID="I1"), Message=e2e.Message(imageMessage=e2e.ImageMessage(caption="foto"))
    )
    _, fields = translate("Message", ev)
    assert (fields["kind"], fields["text"]) == ("image", "foto")


def test_protocol_chatter_is_not_reported_as_a_message():
    chatter = e2e.Message(protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE))
    assert translate("Message", pb.Message(Info=pb.MessageInfo(ID="P1"), Message=chatter)) is None


def test_logged_out_carries_whatsapps_reason():
    ev = pb.LoggedOut(OnConnect=True, Reason=pb.MAIN_DEVICE_GONE)
    assert translate("LoggedOut", ev) == (p.LOGGED_OUT, {"reason": "main_device_gone", "on_connect": True})


def test_temporary_ban_carries_code_and_expiry():
    ev = pb.TemporaryBan(Code=pb.TemporaryBan.SEND_TO_TOO_MANY_PEOPLE, Expire=3600)
    assert translate("TemporaryBan", ev) == (
        p.TEMPORARY_BAN,
        {"code": "send_to_too_many_people", "expire_s": 3600},
    )


@pytest.mark.parametrize(("reason", "retryable"), [("SERVICE_UNAVAILABLE", True), ("CLIENT_OUTDATED", False)])
def test_a_connect_failure_from_whatsapp_says_whether_to_retry(reason, retryable):
    kind, fields = translate("ConnectFailure", pb.ConnectFailure(Reason=getattr(pb, reason), Message="nope"))
    assert kind == p.CONNECT_FAILED
    assert fields["retryable"] is retryable
    assert fields["error"] == f"whatsapp refused the connection: {reason.lower()} nope"


def test_successful_pairing_becomes_paired_and_a_failed_one_connect_failed():
    ok = pb.PairStatus(ID=ME, Platform="android", Status=pb.PairStatus.SUCCESS)
    assert translate("PairStatus", ok) == (
        p.PAIRED,
        {"jid": "628111:7@s.whatsapp.net", "platform": "android"},
    )
    bad = pb.PairStatus(Status=pb.PairStatus.ERROR, Error="bad signature")
    assert translate("PairStatus", bad) == (
        p.CONNECT_FAILED,
        {"error": "pairing failed: bad signature", "retryable": True},
    )


def test_stream_replaced_and_disconnected_translate_directly():
    assert translate("StreamReplaced", pb.StreamReplaced()) == (p.STREAM_REPLACED, {})
    assert translate("Disconnected", pb.Disconnected()) == (p.DISCONNECTED, {"reason": "connection lost"})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", None),
        ("timeout", (p.QR_TIMEOUT, {})),
        (
            "err-client-outdated",
            (p.CONNECT_FAILED, {"error": "login failed: err-client-outdated", "retryable": False}),
        ),
        (
            "err-unexpected-state",
            (p.CONNECT_FAILED, {"error": "login failed: err-unexpected-state", "retryable": True}),
        ),
    ],
)
def test_the_end_of_a_qr_login_is_reported(status, expected):
    assert hs.login_status(status) == expected


# -- the relay: state and ordering of what the worker sees -----------------------------------------


class FakeOutput:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def emit(self, kind: str, session: str | None = None, /, **data: Any) -> None:
        self.lines.append(p.event(kind, session, **data))


async def _me(_s: host_session.Session) -> tuple[str, str]:
    return "628111:7@s.whatsapp.net", "Toko Budi"


def relay_run(
    *steps: tuple[str, Any], closing: bool = False
) -> tuple[host_session.Session, list[dict[str, Any]]]:
    out = FakeOutput()
    session = host_session.Session("S1", "/tmp/s", connect_ref="c1", closing=closing)

    async def go() -> None:
        relay = hs.Relay(out, asyncio.get_running_loop(), _me, text_of)
        for name, ev in steps:
            await relay.on_event(name, session, None, ev)

    asyncio.run(go())
    return session, out.lines


def test_connected_answers_the_connect_with_jid_and_push_name():
    session, lines = relay_run(("Connected", pb.Connected(status=True)))
    assert lines == [
        {
            "event": "connected",
            "session": "S1",
            "ref": "c1",
            "jid": "628111:7@s.whatsapp.net",
            "push_name": "Toko Budi",
        }
    ]
    assert session.connected
    assert session.logged_in
    assert session.progress.is_set()


def test_a_lost_connection_clears_connected_and_is_reported():
    session, lines = relay_run(("Connected", pb.Connected()), ("Disconnected", pb.Disconnected()))
    assert [line["event"] for line in lines] == ["connected", "disconnected"]
    assert not session.connected
    assert session.logged_in


def test_a_requested_disconnect_is_not_reported_twice():
    session, lines = relay_run(("Disconnected", pb.Disconnected()), closing=True)
    assert lines == []
    assert not session.connected


def test_logged_out_clears_both_flags():
    session, lines = relay_run(
        ("Connected", pb.Connected()), ("LoggedOut", pb.LoggedOut(Reason=pb.LOGGED_OUT))
    )
    assert lines[-1] == {"event": "logged_out", "session": "S1", "reason": "logged_out", "on_connect": False}
    assert not session.connected
    assert not session.logged_in


def test_an_event_the_relay_chokes_on_is_logged_not_raised():
    # A handler of our own: the project's logging config may stop "waziper" reaching the root.
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    hs.log.addHandler(handler)
    try:
        _, lines = relay_run(("Receipt", object()))
    finally:
        hs.log.removeHandler(handler)
    assert lines == []
    assert any("handling Receipt failed" in r.getMessage() for r in records)


def test_a_qr_login_timeout_reported_from_a_go_thread_becomes_qr_timeout():
    out = FakeOutput()
    session = host_session.Session("S1", "/tmp/s", connect_ref="c1", showing_qr=True)

    async def go() -> None:
        relay = hs.Relay(out, asyncio.get_running_loop(), _me, text_of)
        status = ctypes.create_string_buffer(b"timeout")
        # neonize calls this from a Go thread with the status as a C string address
        await asyncio.to_thread(relay._on_login_status_go, session, 0, ctypes.addressof(status))
        await asyncio.sleep(0.01)

    asyncio.run(go())
    assert out.lines == [{"event": "qr_timeout", "session": "S1"}]
    assert not session.showing_qr
    assert session.progress.is_set()


def test_each_rotating_qr_code_is_reported_as_it_arrives():
    out = FakeOutput()
    session = host_session.Session("S1", "/tmp/s")

    async def go() -> None:
        relay = hs.Relay(out, asyncio.get_running_loop(), _me, text_of)
        for code in (b"2@first,abc", b"2@second,def"):
            await relay.on_qr(session, None, code)

    asyncio.run(go())
    assert [line["code"] for line in out.lines] == ["2@first,abc", "2@second,def"]
    assert session.showing_qr


def test_the_host_writes_an_incoming_message_with_its_kind_as_one_line():
    # Regression: `kind` of the message collided with the event's own `kind` parameter, so the
    # host logged a TypeError instead of reporting any received message.
    read_fd, write_fd = os.pipe()
    try:
        host_session.Output(write_fd).emit(p.INCOMING, "S1", message_id="M1", kind="text", text="halo")
        line = os.read(read_fd, 4096)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert p.HostEvent.parse(line) == p.HostEvent(
        "incoming", "S1", {"message_id": "M1", "kind": "text", "text": "halo"}
    )


def test_the_relay_reports_a_received_message_as_incoming():
    ev = pb.Message(
        Info=pb.MessageInfo(ID="M1", MessageSource=pb.MessageSource(Chat=FRIEND, Sender=FRIEND)),
        Message=e2e.Message(conversation="halo"),
    )
    _, lines = relay_run(("Message", ev))
    assert [(line["event"], line["kind"], line["text"]) for line in lines] == [("incoming", "text", "halo")]


def test_a_hidden_sender_without_a_number_is_looked_up_in_the_session_store():
    hidden = pb.JID(User="190000111222333", Server="lid")
    ev = pb.Message(
        Info=pb.MessageInfo(ID="M1", MessageSource=pb.MessageSource(Chat=hidden, Sender=hidden)),
        Message=e2e.Message(conversation="halo"),
    )
    asked: list[str] = []

    async def phone_of_lid(_s: host_session.Session, lid: Any) -> str:
        asked.append(jid_str(lid))
        return "628222"

    out = FakeOutput()

    async def go() -> None:
        relay = hs.Relay(out, asyncio.get_running_loop(), _me, text_of, phone_of_lid)
        await relay.on_event("Message", host_session.Session("S1", "/tmp/s"), None, ev)

    asyncio.run(go())
    assert asked == ["190000111222333@lid"]
    assert out.lines[0]["sender_phone"] == "628222"


# -- group and contact changes -------------------------------------------------------------------

GROUP = pb.JID(User="120363000000000001", Server="g.us")
ADMIN = pb.JID(User="628333", Server="s.whatsapp.net")


def test_a_group_notification_reports_only_the_settings_it_changed():
    ev = pb.GroupInfoEvent(
        JID=GROUP,
        Sender=ADMIN,
        Timestamp=1_767_268_800,
        Name=pb.GroupName(Name="Tim Launch"),
        Announce=pb.GroupAnnounce(IsAnnounce=True),
    )
    assert translate("GroupInfo", ev) == (
        p.GROUP_CHANGED,
        {
            "group_id": "120363000000000001@g.us",
            "changes": {"name": "Tim Launch", "announce": True},
            "participants": {},
            "by": "628333@s.whatsapp.net",
            "at": 1_767_268_800,
        },
    )


def test_a_description_a_lock_disappearing_messages_and_a_new_link_are_reported():
    ev = pb.GroupInfoEvent(
        JID=GROUP,
        Topic=pb.GroupTopic(Topic="Jadwal rilis"),
        Locked=pb.GroupLocked(isLocked=False),
        Ephemeral=pb.GroupEphemeral(IsEphemeral=True, DisappearingTimer=86400),
        NewInviteLink="https://chat.whatsapp.com/AbCdEf",
    )
    _, fields = translate("GroupInfo", ev)
    assert fields["changes"] == {
        "description": "Jadwal rilis",
        "locked": False,
        "ephemeral_s": 86400,
        "invite_link": "https://chat.whatsapp.com/AbCdEf",
    }


def test_a_deleted_description_is_an_empty_one():
    ev = pb.GroupInfoEvent(JID=GROUP, Topic=pb.GroupTopic(Topic="old", TopicDeleted=True))
    assert translate("GroupInfo", ev)[1]["changes"] == {"description": ""}


def test_participants_joining_leaving_and_changing_role_are_listed_by_jid():
    hidden = pb.JID(User="190000111222333", Server="lid")
    ev = pb.GroupInfoEvent(JID=GROUP, Join=[FRIEND, hidden], Leave=[ADMIN], Promote=[FRIEND], Demote=[])
    _, fields = translate("GroupInfo", ev)
    assert fields["participants"] == {
        "added": ["628222@s.whatsapp.net", "190000111222333@lid"],
        "removed": ["628333@s.whatsapp.net"],
        "promoted": ["628222@s.whatsapp.net"],
    }


def test_a_group_notification_of_nothing_the_gateway_reports_is_dropped():
    link = pb.GroupLinkChange(Type=pb.GroupLinkChange.SUB)
    assert translate("GroupInfo", pb.GroupInfoEvent(JID=GROUP, Link=link)) is None


def test_a_group_the_account_joined_comes_with_the_group_as_a_query_answers_it():
    info = pb.GroupInfo(
        JID=GROUP,
        OwnerJID=ADMIN,
        GroupName=pb.GroupName(Name="Tim Launch"),
        GroupTopic=pb.GroupTopic(Topic="Jadwal"),
        GroupAnnounce=pb.GroupAnnounce(IsAnnounce=False),
        GroupLocked=pb.GroupLocked(isLocked=True),
        GroupCreated=1_767_000_000,
        Participants=[
            pb.GroupParticipant(JID=ADMIN, IsAdmin=True, IsSuperAdmin=True),
            pb.GroupParticipant(JID=ME),
        ],
    )
    kind, fields = translate("JoinedGroup", pb.JoinedGroup(Reason="invite", GroupInfo=info, Sender=ADMIN))
    assert kind == p.GROUP_CHANGED
    assert {k: v for k, v in fields.items() if k != "group_info"} == {
        "group_id": "120363000000000001@g.us",
        "joined": True,
        "reason": "invite",
        "by": "628333@s.whatsapp.net",
    }
    group = fields["group_info"]
    assert (group["name"], group["description"], group["locked"], group["size"]) == (
        "Tim Launch",
        "Jadwal",
        True,
        2,
    )


@pytest.mark.parametrize(("remove", "change"), [(False, "changed"), (True, "removed")])
def test_a_picture_set_or_removed_is_a_contact_change(remove, change):
    ev = pb.Picture(JID=FRIEND, Author=FRIEND, Timestamp=1_767_268_800, Remove=remove)
    assert translate("Picture", ev) == (
        p.CONTACT_CHANGED,
        {
            "contact_id": "628222@s.whatsapp.net",
            "changes": {"picture": change},
            "by": "628222@s.whatsapp.net",
            "at": 1_767_268_800,
        },
    )


def test_the_host_listens_to_groups_joins_and_pictures():
    assert {"GroupInfo", "JoinedGroup", "Picture"} <= set(hs.NEONIZE_EVENTS)


def test_a_hidden_contacts_picture_change_comes_with_the_number_the_store_knows():
    hidden = pb.JID(User="190000111222333", Server="lid")

    async def phone_of_lid(_s: host_session.Session, lid: Any) -> str:
        return "628222"

    out = FakeOutput()

    async def go() -> None:
        relay = hs.Relay(out, asyncio.get_running_loop(), _me, text_of, phone_of_lid)
        await relay.on_event("Picture", host_session.Session("S1", "/tmp/s"), None, pb.Picture(JID=hidden))

    asyncio.run(go())
    assert out.lines == [
        {
            "event": "contact_changed",
            "session": "S1",
            "contact_id": "190000111222333@lid",
            "changes": {"picture": "changed"},
            "phone": "628222",
        }
    ]
