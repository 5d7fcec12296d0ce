"""neonize's events as the worker's protocol events: which neonize events the host listens to,
how each one translates, and the relay that emits them from neonize's callbacks.

They take neonize's objects duck-typed, so ``main.py`` stays the only module that imports
neonize. Translation is pure: tests feed it hand-built events that only a real phone could
otherwise send.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from worker.sessionhost import messages, queries
from worker.sessionhost import protocol as p
from worker.sessionhost.messages import jid_str, unix_seconds
from worker.sessionhost.session import Output, Session

log = logging.getLogger("waziper.host")

# The neonize events the host subscribes to; each arrives as ``<name>Ev``.
NEONIZE_EVENTS = (
    "Connected PairStatus Disconnected LoggedOut StreamReplaced TemporaryBan ConnectFailure ClientOutdated "
    "Receipt Message StreamError KeepAliveTimeout GroupInfo JoinedGroup Picture"
).split()
# neonize event name -> what it does to the session's (connected, logged_in); None: unchanged
STATE_CHANGES: dict[str, tuple[bool | None, bool | None]] = {
    "Connected": (True, True),
    "Disconnected": (False, None),
    "StreamReplaced": (False, None),
    "TemporaryBan": (False, None),
    "LoggedOut": (False, False),
}
RECEIPT_KINDS = {"DELIVERED": "delivered", "READ": "read", "PLAYED": "played"}
# An incoming message's fields stay well inside one protocol line (a long text, many contacts).
INCOMING_LINE_BUDGET = p.MAX_LINE_BYTES - 4096  # room for the event's own keys
# WhatsApp will refuse these the same way next time; everything else may pass on a retry.
_FINAL_FAILURES = ("client_outdated", "bad_user_agent")

Translated = tuple[str, dict[str, Any]] | None


def enum_name(msg: Any, name: str) -> str:
    return msg.DESCRIPTOR.fields_by_name[name].enum_type.values_by_number[getattr(msg, name)].name


def translate(name: str, ev: Any, extract_text: Callable[[Any], str]) -> Translated:
    """(protocol event kind, fields) for neonize event ``name`` (e.g. "Receipt"), or None."""
    if name == "Connected":
        return p.CONNECTED, {}  # the host adds jid and push_name: the event carries neither
    if name == "PairStatus":
        if enum_name(ev, "Status") != "SUCCESS":
            return p.CONNECT_FAILED, {"error": f"pairing failed: {ev.Error}", "retryable": True}
        return p.PAIRED, {"jid": jid_str(ev.ID), "platform": ev.Platform}
    if name == "Disconnected":  # whatsmeow reconnects by itself; 'connected' follows if it can
        return p.DISCONNECTED, {"reason": "connection lost"}
    if name == "LoggedOut":
        return p.LOGGED_OUT, {"reason": enum_name(ev, "Reason").lower(), "on_connect": ev.OnConnect}
    if name == "StreamReplaced":
        return p.STREAM_REPLACED, {}
    if name == "TemporaryBan":
        return p.TEMPORARY_BAN, {"code": enum_name(ev, "Code").lower(), "expire_s": ev.Expire}
    if name == "ConnectFailure":
        reason = enum_name(ev, "Reason").lower()
        error = f"whatsapp refused the connection: {reason} {ev.Message}".strip()
        return p.CONNECT_FAILED, {"error": error, "retryable": reason not in _FINAL_FAILURES}
    if name == "ClientOutdated":
        error = "client outdated: WhatsApp rejects this neonize/whatsmeow version; upgrade neonize"
        return p.CONNECT_FAILED, {"error": error, "retryable": False}
    if name == "Receipt":
        kind = RECEIPT_KINDS.get(enum_name(ev, "Type"))
        if kind is None:  # retry, sender, inactive, ...: nothing about our messages' fate
            return None
        src = ev.MessageSource
        return p.RECEIPT, {
            "message_ids": list(ev.MessageIDs),
            "kind": kind,
            "chat": jid_str(src.Chat),
            "sender": jid_str(src.Sender),
            "at": unix_seconds(ev.Timestamp),
        }
    if name == "Message":
        fields = messages.incoming(ev, extract_text)
        if fields is None:
            return None  # protocol chatter (key distribution, app state sync, ...), not a message
        return p.INCOMING, messages.fit(fields, INCOMING_LINE_BUDGET)
    if name == "GroupInfo":
        return group_changed(ev)
    if name == "JoinedGroup":
        return joined_group(ev)
    if name == "Picture":
        return picture_changed(ev)
    return None


def _by_and_at(fields: dict[str, Any], by: Any, timestamp: int) -> dict[str, Any]:
    """Who made a change and when, where the notification says (neither is always known)."""
    if jid_str(by):
        fields["by"] = jid_str(by)
    if timestamp:
        fields["at"] = unix_seconds(timestamp)
    return fields


def group_changed(ev: Any) -> Translated:
    """whatsmeow's GroupInfo: one notification about a group, holding only what it changed (its
    name, description, settings, invite link, participants). Community links and changes
    whatsmeow could not parse are not reported; a notification of nothing else is dropped."""
    changes: dict[str, Any] = {}
    if ev.HasField("Name"):
        changes["name"] = ev.Name.Name
    if ev.HasField("Topic"):
        changes["description"] = "" if ev.Topic.TopicDeleted else ev.Topic.Topic
    if ev.HasField("Announce"):
        changes["announce"] = bool(ev.Announce.IsAnnounce)
    if ev.HasField("Locked"):
        changes["locked"] = bool(ev.Locked.isLocked)
    if ev.HasField("Ephemeral"):
        changes["ephemeral_s"] = int(ev.Ephemeral.DisappearingTimer) if ev.Ephemeral.IsEphemeral else 0
    if ev.HasField("NewInviteLink"):
        changes["invite_link"] = ev.NewInviteLink
    if ev.HasField("Delete") and ev.Delete.Deleted:
        changes["deleted"] = True
    participants = {
        change: [jid_str(jid) for jid in jids]
        for change, jids in (
            ("added", ev.Join),
            ("removed", ev.Leave),
            ("promoted", ev.Promote),
            ("demoted", ev.Demote),
        )
        if jids
    }
    if not changes and not participants:
        return None
    fields: dict[str, Any] = {"group_id": jid_str(ev.JID), "changes": changes, "participants": participants}
    return p.GROUP_CHANGED, _by_and_at(fields, ev.Sender, ev.Timestamp)


def joined_group(ev: Any) -> Translated:
    """whatsmeow's JoinedGroup: the account was added to a group, or made one; the group as a
    group query answers it (queries.group), since the account knew nothing of it before."""
    info = queries.group(ev.GroupInfo)
    fields: dict[str, Any] = {"group_id": info["id"], "joined": True, "group_info": info}
    if ev.Reason:
        fields["reason"] = ev.Reason
    return p.GROUP_CHANGED, _by_and_at(fields, ev.Sender, 0)


def picture_changed(ev: Any) -> Translated:
    """whatsmeow's Picture: a contact (or a group) set or removed its profile picture. The new
    picture itself is not in the notification: the `picture` query fetches it."""
    fields: dict[str, Any] = {
        "contact_id": jid_str(ev.JID),
        "changes": {"picture": "removed" if ev.Remove else "changed"},
    }
    return p.CONTACT_CHANGED, _by_and_at(fields, ev.Author, ev.Timestamp)


def login_status(status: str) -> Translated:
    """The end of a QR login, as whatsmeow's QR channel names it."""
    if status == "success":
        return None  # 'paired' and 'connected' follow
    if status == "timeout":
        return p.QR_TIMEOUT, {}
    error = f"login failed: {status}"
    return p.CONNECT_FAILED, {"error": error, "retryable": p.connect_error_retryable(error)}


class Relay:
    """Turns one neonize client's callbacks into protocol events and session state."""

    def __init__(
        self,
        out: Output,
        loop: asyncio.AbstractEventLoop,
        me: Callable[[Session], Awaitable[tuple[str, str]]],
        extract_text: Callable[[Any], str],
        phone_of_lid: Callable[[Session, Any], Awaitable[str]] | None = None,
    ) -> None:
        self.out, self.loop, self.me, self.extract_text = out, loop, me, extract_text
        self.phone_of_lid = phone_of_lid

    def attach(self, client: Any, s: Session, event_types: dict[str, Any]) -> None:
        client.event.qr(functools.partial(self.on_qr, s))
        # neonize 0.5.2 passes the QR login's end ("success", "timeout", "err-...") to a private
        # no-op; connect() looks the bound method up on the instance, so this one is used.
        client._NewAClient__onLoginStatus = functools.partial(self._on_login_status_go, s)
        for name in NEONIZE_EVENTS:
            client.event(event_types[name])(functools.partial(self.on_event, name, s))

    async def on_event(self, name: str, s: Session, _client: Any, ev: Any) -> None:
        try:
            s.progress.set()
            connected, logged_in = STATE_CHANGES.get(name, (None, None))
            s.connected = s.connected if connected is None else connected
            s.logged_in = s.logged_in if logged_in is None else logged_in
            if name == "Connected":
                s.showing_qr = False
            translated = translate(name, ev, self.extract_text)
            if translated is None:
                if name in ("StreamError", "KeepAliveTimeout"):
                    log.warning("session %s: %s %s", s.sid, name, str(ev).replace("\n", " ")[:200])
                return
            kind, fields = translated
            if kind == p.PAIRED:
                s.logged_in, s.showing_qr = True, False
            if s.closing and kind in (p.DISCONNECTED, p.LOGGED_OUT):
                return  # we asked for it; the command's own reply says so
            if kind in (p.CONNECTED, p.PAIRED):
                jid, fields["push_name"] = await self.me(s)
                fields.setdefault("jid", jid)
            if kind == p.INCOMING and not fields.get("sender_phone") and self.phone_of_lid is not None:
                sender = ev.Info.MessageSource.Sender
                if sender.Server == "lid":  # a hidden number sent without its phone number beside it
                    fields["sender_phone"] = await self.phone_of_lid(s, sender)
            if kind == p.CONTACT_CHANGED and ev.JID.Server == "lid" and self.phone_of_lid is not None:
                phone = await self.phone_of_lid(s, ev.JID)  # a hidden number: the store may know it
                if phone:
                    fields["phone"] = phone
            self.emit(s, kind, fields)
        except Exception:  # an odd event must not end the session's event stream
            log.exception("session %s: handling %s failed", s.sid, name)

    def emit(self, s: Session, kind: str, fields: dict[str, Any]) -> None:
        if s.abandoned:
            return  # the worker let it go while it dialed; nobody listens for it any more
        if kind in (p.CONNECTED, p.CONNECT_FAILED):  # these answer the connect command
            fields = {"ref": s.connect_ref, **fields}
        self.out.emit(kind, s.sid, **fields)

    async def on_qr(self, s: Session, _client: Any, code: bytes) -> None:
        s.progress.set()
        s.showing_qr = True
        if not s.abandoned:
            self.out.emit(p.QR, s.sid, code=code.decode("utf-8", "replace"))

    def _on_login_status_go(self, s: Session, _uuid: int, status: int) -> None:
        text = ctypes.string_at(status).decode("utf-8", "replace") if status else ""
        self.loop.call_soon_threadsafe(self.on_login_status, s, text)  # this runs on a Go thread

    def on_login_status(self, s: Session, status: str) -> None:
        s.progress.set()
        s.showing_qr = False
        translated = login_status(status)
        if translated is not None:
            self.emit(s, *translated)

    def connect_failed(self, s: Session, exc: BaseException) -> None:
        s.connected = s.showing_qr = False
        s.progress.set()
        text = str(exc) or type(exc).__name__
        if p.is_store_corruption(text):
            text = f"session store {s.store} is corrupt ({text}): re-link required"
        log.info("session %s: connect failed: %s", s.sid, text)
        self.emit(s, p.CONNECT_FAILED, {"error": text, "retryable": p.connect_error_retryable(text)})
