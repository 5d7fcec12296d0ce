"""The interface between the worker and a WhatsApp connection (neonize or the sandbox).

Everything here is non-blocking: a method starts work and returns at once; outcomes arrive later
as TransportEvents returned by `Session.poll(now)`. So one stuck connection can never stall the
worker's loop, and time is whatever `now` the worker passes (tests pass a fake clock).

Errors follow hc's transports: a TransportError says whether a retry can help.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TransportError(Exception):
    """A failure a caller should record. `retryable`: may the same action succeed later?"""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SessionSpec:
    """What a transport needs to open one instance's session."""

    instance_pk: int
    instance_id: str
    proxy_url: str
    session_dir: str
    sandbox: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingMessage:
    ref: str  # the gateway's message id, echoed in the send_result event
    to: str  # digits of a phone number or a full JID (…@s.whatsapp.net, …@g.us, …@lid)
    # text | image | document | audio | video | sticker | location | contact | poll
    # | reaction | edit | delete
    kind: str
    text: str = ""  # a text, a caption, or an edit's new text
    media_url: str = ""
    media_path: str | None = None  # a file the worker already downloaded (media kinds, sticker)
    filename: str = ""
    mimetype: str = ""
    # The kind's own fields, as queueing/validation.py checked them: location {latitude,
    # longitude, name, address}, contact {name, vcard}, poll {question, options,
    # selectable_count}, reaction {emoji}.
    fields: dict[str, Any] = field(default_factory=dict)
    # reaction, edit, delete: the message acted on {wa_message_id, chat_id, from_me, sender}.
    target: dict[str, Any] | None = None
    # A reply: the message quoted {wa_message_id, chat_id, from_me, sender, kind, text, content?}.
    quoted: dict[str, Any] | None = None
    mentions: tuple[str, ...] = ()  # JIDs for the text's or caption's contextInfo
    typing_s: float = 0.0  # seconds of "typing…" in the chat before the message goes out
    # edit, delete: WhatsApp's window closes then; past it the message is failed, never sent.
    not_after: datetime | None = None


# Event kinds a session reports (docs/architecture.md, "The worker"), with their data fields:
QR = "qr"  # code, expires_at (iso)
QR_TIMEOUT = "qr_timeout"  # nobody scanned in time: park, not a failure
PAIRED = "paired"  # jid, push_name
CONNECTED = "connected"  # jid, push_name
CONNECT_FAILED = "connect_failed"  # error, retryable
DISCONNECTED = "disconnected"  # reason, requested (bool)
LOGGED_OUT = "logged_out"  # reason, requested (bool)
STREAM_REPLACED = "stream_replaced"
TEMPORARY_BAN = "temporary_ban"  # code, expire_s
RECEIPT = "receipt"  # message_ids, kind (delivered|read|played), at
# A message the account received (or sent from another of its devices): message_id, chat,
# sender, sender_phone (digits, "" when WhatsApp hides it), from_me, is_group, push_name, kind
# (text image video audio document sticker location contact poll reaction edit revoke other),
# text (the text, a caption, a reaction's emoji, an edit's new text), at (iso), and where they
# apply quoted_message_id, target_id (what an edit, revoke or reaction changes), media
# {mimetype, size, filename, sha256 (hex), download{...}: what the transport needs to fetch it},
# details {location | contacts | poll}, raw (the WhatsApp message: key, message, pushName,
# messageTimestamp). inbox/service.py stores it.
INCOMING = "incoming"
# A group's settings or participants changed, or the account joined a group: group_id, by (who
# changed it, when known), at (iso), changes {name, description, announce, locked, ephemeral_s,
# invite_link, deleted: only what changed}, participants {added, removed, promoted, demoted:
# JIDs}; a join has joined (true), reason and group_info (the group as the `group_info` query
# answers it). directory/changes.py records it.
GROUP_CHANGED = "group_changed"
# A contact (or a group) changed its profile picture: contact_id, phone (when known), by, at,
# changes {picture: changed | removed}. directory/changes.py records it.
CONTACT_CHANGED = "contact_changed"
# uncertain: the send failed in a way that may still have delivered it; never retry it.
SEND_RESULT = "send_result"  # ref, ok, message_id | error, retryable, dead_socket, uncertain?
PAIR_CODE = "pair_code"  # code | error
PONG = "pong"  # connected (bool)
QUERY_RESULT = "query_result"  # ref, ok, data | ref, ok, error, code
SESSION_CRASHED = "session_crashed"  # error: the session's process died (neonize host)


@dataclass(frozen=True)
class TransportEvent:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class Session(abc.ABC):
    """One instance's connection. Methods return at once; results come from `poll`."""

    supports_pair_phone: bool = False

    def __init__(self, spec: SessionSpec) -> None:
        self.spec = spec

    @abc.abstractmethod
    def connect(self, now: datetime) -> None:
        """Start dialing: expect qr / connected / connect_failed (or nothing, if it hangs)."""

    @abc.abstractmethod
    def disconnect(self, now: datetime) -> None:
        """Close the connection, keeping the linked session for the next connect."""

    @abc.abstractmethod
    def logout(self, now: datetime) -> None:
        """Unlink the device from the phone: expect logged_out(requested=True)."""

    @abc.abstractmethod
    def send(self, message: OutgoingMessage, now: datetime) -> None:
        """Send one message: expect send_result with `ref`."""

    def pair_phone(self, phone: str, now: datetime) -> None:
        """Link by phone number instead of QR: expect pair_code."""
        raise TransportError("pairing by phone number is not supported by this transport", retryable=False)

    def query(
        self, op: str, args: dict[str, Any], *, ref: str, deadline: datetime | None, now: datetime
    ) -> None:
        """Ask the live session a question: expect query_result with `ref`. Not to be started
        after `deadline` (the asker has given up by then)."""
        raise TransportError(f"this transport cannot answer {op!r}", retryable=False)

    @abc.abstractmethod
    def check_alive(self, now: datetime) -> None:
        """Live check: expect pong(connected=…), or session_crashed."""

    @abc.abstractmethod
    def poll(self, now: datetime) -> list[TransportEvent]:
        """Advance the session to `now` and return what happened since the last poll."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release everything the session holds, at once, even mid-dial (kills a session host)."""


class Transport(abc.ABC):
    name: str

    @abc.abstractmethod
    def open_session(self, spec: SessionSpec) -> Session:
        """A new, unconnected session for `spec`."""

    def poll(self, sessions: list[Session], now: datetime) -> None:  # noqa: B027  (optional hook)
        """Transport-wide work once per worker tick (batch reads for all its sessions)."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Worker shutdown: release transport-wide resources."""
