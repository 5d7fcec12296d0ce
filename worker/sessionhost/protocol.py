"""The line protocol between the worker and a session host (``python -m worker.sessionhost.main``).

One JSON object per line, UTF-8, ``\\n`` terminated, in both directions. The worker writes
*commands* (``{"cmd": ...}``) to the host's stdin; the host writes *events* (``{"event": ...}``)
to its stdout. Every command names its ``session`` (the instance id) and may carry a ``ref``,
any string or integer, which the host copies into the event that answers it. Events caused by
the network (``qr``, ``receipt``, ...) carry the ``session`` but no ``ref``.

Pure standard library: imported by the host (with neonize) and by the worker (with Django), so
it must import neither.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
# A send carries a path, never the media itself, so a line this long is a bug or garbage.
MAX_LINE_BYTES = 1 << 20
# An event may be longer: the answer to a question (hundreds of groups with their members) runs
# to megabytes. The host answers `too_large` rather than write a longer one.
MAX_EVENT_BYTES = 32 << 20

# -- commands (worker -> host) ---------------------------------------------------------------
CONNECT = "connect"
SEND = "send"
PAIR_PHONE = "pair_phone"
LOGOUT = "logout"
DISCONNECT = "disconnect"
PING = "ping"
QUERY = "query"  # op, args, deadline (unix seconds: not started after it)
COMMANDS = frozenset({CONNECT, SEND, PAIR_PHONE, LOGOUT, DISCONNECT, PING, QUERY})

# -- events (host -> worker) -----------------------------------------------------------------
READY = "ready"  # pid, neonize, protocol, sessions_per_host
QR = "qr"  # code
QR_TIMEOUT = "qr_timeout"  # nobody scanned: every rotating code expired
PAIRED = "paired"  # jid, push_name, platform
CONNECTED = "connected"  # jid, push_name, ref (of the connect)
CONNECT_FAILED = "connect_failed"  # error, retryable, ref (of the connect)
DISCONNECTED = "disconnected"  # reason, ref (when requested)
LOGGED_OUT = "logged_out"  # reason, on_connect, ref (when requested)
STREAM_REPLACED = "stream_replaced"
TEMPORARY_BAN = "temporary_ban"  # code, expire_s
RECEIPT = "receipt"  # message_ids, kind, chat, sender, at
# message_id, chat, sender, sender_phone, from_me, is_group, push_name, kind, text, at, and where
# they apply quoted_message_id, target_id, media, details, raw (worker/sessionhost/messages.py)
INCOMING = "incoming"
# group_id, by?, at?, changes {name, description, announce, locked, ephemeral_s, invite_link,
# deleted: only what changed}, participants {added, removed, promoted, demoted: JIDs}; or, when
# the account joined a group: group_id, joined, reason?, by?, group_info (a `group` query's shape)
GROUP_CHANGED = "group_changed"
# contact_id (a user's JID, or a group's for its picture), phone?, by?, at?, changes {picture:
# changed | removed}
CONTACT_CHANGED = "contact_changed"
SEND_RESULT = "send_result"  # ref, ok, message_id, at | ref, ok, error, retryable, uncertain?
PAIR_CODE = "pair_code"  # ref, code
PONG = "pong"  # ref, connected, logged_in, busy
QUERY_RESULT = "query_result"  # ref, ok, data | ref, ok, error, code
ERROR = "error"  # error, field?, ref?
EVENTS = frozenset(
    {
        READY,
        QR,
        QR_TIMEOUT,
        PAIRED,
        CONNECTED,
        CONNECT_FAILED,
        DISCONNECTED,
        LOGGED_OUT,
        STREAM_REPLACED,
        TEMPORARY_BAN,
        RECEIPT,
        INCOMING,
        GROUP_CHANGED,
        CONTACT_CHANGED,
        SEND_RESULT,
        PAIR_CODE,
        PONG,
        QUERY_RESULT,
        ERROR,
    }
)

SEND_KINDS = (
    "text",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "location",
    "contact",
    "poll",
    "reaction",
    "edit",
    "delete",
)
MEDIA_KINDS = frozenset({"image", "document", "audio", "video", "sticker"})
# Kinds that act on an earlier message, named by the send's `target`.
TARGET_KINDS = frozenset({"reaction", "edit", "delete"})
RECEIPT_KINDS = ("delivered", "read", "played")
# What a live session can be asked (worker/sessionhost/queries.py answers them on neonize, the
# sandbox transport from its simulated phone). download_media: args {download: a received
# message's media.download, path: a file the worker made for the bytes, max_bytes}; answers
# {size, sha256} once the file holds the media.
QUERY_OPS = (
    "profile",
    "download_media",
    "groups",
    "group_info",
    "group_create",
    "group_participants",
    "group_invite_link",
    "group_leave",
    "check_numbers",
    "picture",
    "mark_read",
)

# Instance ids are 13 hex chars; allow a little more for tests and tools, nothing that could
# confuse a file name, a log line or neonize's client map.
_SESSION_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_KNOWN_SERVERS = {"s.whatsapp.net", "g.us", "lid", "newsletter", "broadcast"}


class ProtocolError(ValueError):
    """A line or command the other side must reject; the message is meant for a person."""

    def __init__(self, message: str, *, field: str | None = None, ref: Any = None, session: Any = None):
        super().__init__(message)
        self.field = field
        self.ref = ref
        self.session = session if isinstance(session, str) else None


def encode(obj: dict[str, Any]) -> bytes:
    """One compact JSON line. ASCII-only, so no byte inside a value can ever look like a newline."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def decode_line(line: bytes | str, limit: int = MAX_LINE_BYTES) -> dict[str, Any]:
    """Parse one line into a dict that has a string ``cmd`` or ``event``; else ProtocolError."""
    if isinstance(line, bytes):
        if len(line) > limit:
            raise ProtocolError(f"line too long ({len(line)} bytes, limit {limit})")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"line is not UTF-8: {exc}") from None
    text = line.strip()
    if not text:
        raise ProtocolError("empty line")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg} at column {exc.colno}: {_preview(text)}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {type(obj).__name__}: {_preview(text)}")
    ref, session = obj.get("ref"), obj.get("session")
    if "cmd" not in obj and "event" not in obj:
        raise ProtocolError("object has neither 'cmd' nor 'event'", field="cmd", ref=ref, session=session)
    for key in ("cmd", "event"):
        if key in obj and not isinstance(obj[key], str):
            raise ProtocolError(f"'{key}' must be a string", field=key, ref=ref, session=session)
    return obj


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# -- command validation ----------------------------------------------------------------------
# Each field: (required, check). A check returns the normalized value or raises ValueError with
# the reason; the host answers with an ``error`` naming the field. null counts as absent.


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("must be a non-empty string")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("must be a string")
    return v


def _session(v: Any) -> str:
    if not isinstance(v, str) or not _SESSION_RE.match(v):
        raise ValueError("must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
    return v


def _abs_path(v: Any) -> str:
    if not isinstance(v, str) or not os.path.isabs(v):
        raise ValueError("must be an absolute path")
    return v


def _choice(*options: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return v

    return check


def _phone(v: Any) -> str:
    digits = re.sub(r"[\s()+-]", "", v) if isinstance(v, str) else ""
    if not digits.isdigit() or not 6 <= len(digits) <= 20:
        raise ValueError("must be a phone number in international format, digits only (e.g. 628123456789)")
    return digits


def _object(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValueError("must be a JSON object")
    return v


def _unix_time(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1e11:
        raise ValueError("must be a time in unix seconds")
    return float(v)


def _proxy(v: Any) -> str | None:
    # neonize itself judges the URL, so a bad one fails with neonize's own words; "" means none.
    if not isinstance(v, str):
        raise ValueError("must be a proxy URL string or null")
    return v or None


# -- sending every kind (a SEND's kind-specific fields) -----------------------------------------
# `fields` holds what the kind itself needs; `target` names the message a reaction, edit or
# delete acts on, `quoted` the one a reply quotes: {id, chat, from_me, sender?, kind?, text?,
# content?}. `mentions` are user JIDs; `typing_s` is how long the chat shows "typing…" first;
# `not_after` (unix seconds) is when WhatsApp's window for an edit or delete closes.
MAX_TYPING_S = 10.0
POLL_OPTIONS = (2, 12)
_USER_SERVERS = ("s.whatsapp.net", "lid")


class _FieldProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _message_ref(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValueError("must be a JSON object {id, chat, from_me, sender?}")
    if not isinstance(v.get("id"), str) or not v["id"].strip():
        raise ValueError("needs 'id', WhatsApp's id of the message")
    if not isinstance(v.get("chat"), str):
        raise ValueError("needs 'chat', the chat the message is in")
    normalize_recipient(v["chat"])
    if not isinstance(v.get("from_me", False), bool):
        raise ValueError("'from_me' must be true or false")
    sender = v.get("sender") or ""
    if not isinstance(sender, str):
        raise ValueError("'sender' must be a JID string")
    if sender:
        normalize_recipient(sender)
    return v


def _mentions(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise ValueError("must be a list of user JIDs")
    out = []
    for item in v:
        jid = normalize_recipient(item) if isinstance(item, str) else ""
        if jid.rsplit("@", 1)[-1] not in _USER_SERVERS:
            raise ValueError(f"{item!r} is not a user JID (…@s.whatsapp.net or …@lid)")
        out.append(jid)
    return out


def _typing(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= MAX_TYPING_S:
        raise ValueError(f"must be a number of seconds from 0 to {MAX_TYPING_S:g}")
    return float(v)


def _need(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise _FieldProblem(field, message)


def _is_number(v: Any, low: float, high: float) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and low <= v <= high


def _check_send_kind(cmd: dict[str, Any]) -> None:
    """Does the SEND carry what its kind needs? Raises _FieldProblem naming the field."""
    kind, fields = cmd["kind"], cmd["fields"]
    if kind in ("text", "edit"):
        _need(bool(cmd.get("text")), "text", f"kind {kind!r} needs a non-empty 'text'")
    if kind in MEDIA_KINDS:
        _need(bool(cmd.get("media_path")), "media_path", f"kind {kind!r} needs 'media_path'")
    if kind in TARGET_KINDS:
        _need(cmd.get("target") is not None, "target", f"kind {kind!r} needs 'target'")
        _need(cmd.get("quoted") is None, "quoted", f"a {kind} cannot quote a message")
    if kind == "location":
        _need(_is_number(fields.get("latitude"), -90, 90), "fields", "latitude must be from -90 to 90")
        _need(_is_number(fields.get("longitude"), -180, 180), "fields", "longitude must be from -180 to 180")
        for key in ("name", "address"):
            _need(isinstance(fields.get(key, ""), str), "fields", f"{key} must be a string")
    elif kind == "contact":
        _need(
            isinstance(fields.get("name"), str) and bool(fields["name"]), "fields", "a contact needs a name"
        )
        vcard = fields.get("vcard")
        _need(
            isinstance(vcard, str) and vcard.lstrip().upper().startswith("BEGIN:VCARD"),
            "fields",
            "a contact needs a vcard (BEGIN:VCARD … END:VCARD)",
        )
    elif kind == "poll":
        options = fields.get("options")
        low, high = POLL_OPTIONS
        _need(
            isinstance(fields.get("question"), str) and bool(fields["question"]),
            "fields",
            "a poll needs a question",
        )
        _need(
            isinstance(options, list)
            and low <= len(options) <= high
            and all(isinstance(o, str) and o for o in options)
            and len(set(options)) == len(options),
            "fields",
            f"a poll needs {low} to {high} distinct, non-empty options",
        )
        count = fields.get("selectable_count", 1)
        _need(
            not isinstance(count, bool) and isinstance(count, int) and 1 <= count <= len(options),
            "fields",
            "selectable_count must be from 1 to the number of options",
        )
    elif kind == "reaction":
        _need(isinstance(fields.get("emoji"), str), "fields", 'a reaction needs an emoji ("" removes one)')


def window_closed_error(kind: str) -> str:
    """The send_result error of an edit or delete whose WhatsApp window has closed."""
    verb = "edited" if kind == "edit" else "deleted for everyone"
    return f"WhatsApp's window has passed: the message can no longer be {verb}"


_SESSION_FIELD = (True, _session)
_SPEC: dict[str, dict[str, tuple[bool, Any]]] = {
    CONNECT: {"session": _SESSION_FIELD, "store": (True, _abs_path), "proxy": (False, _proxy)},
    SEND: {
        "session": _SESSION_FIELD,
        "to": (True, _str),
        "kind": (False, _choice(*SEND_KINDS)),
        "text": (False, _text),
        "media_path": (False, _abs_path),
        "filename": (False, _str),
        "mimetype": (False, _str),
        # The message kinds beyond text and media: see "sending every kind" below.
        "fields": (False, _object),
        "target": (False, _message_ref),
        "quoted": (False, _message_ref),
        "mentions": (False, _mentions),
        "typing_s": (False, _typing),
        "not_after": (False, _unix_time),
    },
    PAIR_PHONE: {"session": _SESSION_FIELD, "phone": (True, _phone)},
    LOGOUT: {"session": _SESSION_FIELD},
    DISCONNECT: {"session": _SESSION_FIELD},
    PING: {"session": (False, _session)},
    QUERY: {
        "session": _SESSION_FIELD,
        "op": (True, _choice(*QUERY_OPS)),
        "args": (False, _object),
        "deadline": (False, _unix_time),
    },
}
_DEFAULTS: dict[str, dict[str, Any]] = {SEND: {"kind": "text", "fields": {}}, QUERY: {"args": {}}}


def validate_command(msg: dict[str, Any]) -> dict[str, Any]:
    """Check a decoded command; return it normalized (defaults filled) or raise ProtocolError."""
    ref, session = msg.get("ref"), msg.get("session")
    name = msg.get("cmd")
    if name is None:
        raise ProtocolError("missing field 'cmd'", field="cmd", ref=ref, session=session)
    if name not in COMMANDS:
        raise ProtocolError(
            f"unknown command {name!r}; known: {', '.join(sorted(COMMANDS))}",
            field="cmd",
            ref=ref,
            session=session,
        )
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, str | int)):
        raise ProtocolError(f"{name}: 'ref' must be a string or an integer", field="ref", session=session)
    out: dict[str, Any] = {"cmd": name, "ref": ref, **_DEFAULTS.get(name, {})}
    for key, (required, check) in _SPEC[name].items():
        value = msg.get(key)
        if value is None:
            if required:
                raise ProtocolError(f"{name}: missing field '{key}'", field=key, ref=ref, session=session)
            out.setdefault(key, None)
            continue
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise ProtocolError(f"{name}: '{key}' {exc}", field=key, ref=ref, session=session) from None
    if name == SEND:
        try:
            _check_send_kind(out)
        except _FieldProblem as exc:
            raise ProtocolError(f"send: {exc}", field=exc.field, ref=ref, session=session) from None
    return out


def command(cmd: str, session: str | None = None, ref: str | int | None = None, **fields: Any) -> bytes:
    """Build, validate and encode a command line (the worker's side of the pipe)."""
    msg = {"cmd": cmd, **({"session": session} if session is not None else {}), "ref": ref, **fields}
    validate_command(msg)
    return encode({k: v for k, v in msg.items() if v is not None})


def event(kind: str, session: str | None = None, /, **data: Any) -> dict[str, Any]:
    """An event object (the host's side); None-valued fields are left out."""
    msg: dict[str, Any] = {"event": kind}
    if session is not None:
        msg["session"] = session
    msg.update((k, v) for k, v in data.items() if v is not None)
    return msg


@dataclass(frozen=True)
class HostEvent:
    """One event as the worker sees it: what happened, to which session, with which fields."""

    kind: str
    session: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> Any:
        return self.data.get("ref")

    @classmethod
    def from_message(cls, msg: dict[str, Any]) -> HostEvent:
        if "event" not in msg:
            raise ProtocolError("not an event: no 'event' field", field="event")
        data = {k: v for k, v in msg.items() if k not in ("event", "session")}
        return cls(kind=msg["event"], session=msg.get("session"), data=data)

    @classmethod
    def parse(cls, line: bytes | str) -> HostEvent:
        return cls.from_message(decode_line(line, MAX_EVENT_BYTES))

    def to_message(self) -> dict[str, Any]:
        return event(self.kind, self.session, **self.data)

    def encode(self) -> bytes:
        return encode(self.to_message())


# -- shared vocabulary: recipients and what an error text means --------------------------------


def normalize_recipient(to: str) -> str:
    """Digits of a phone number or a full JID -> a full JID string; ValueError if neither."""
    raw = to.strip()
    if "@" in raw:
        user, server = raw.rsplit("@", 1)
        server = {"c.us": "s.whatsapp.net"}.get(server.lower(), server.lower())
        if server not in _KNOWN_SERVERS:
            raise ValueError(f"invalid recipient {to!r}: unknown WhatsApp server {server!r}")
        # A user (phone number) or a hidden user id (LID: digits too, maybe with a device).
        allowed = {"s.whatsapp.net": r"[0-9]{5,20}", "lid": r"[0-9]{5,25}(?::[0-9]{1,3})?"}.get(
            server, r"[0-9A-Za-z_.:-]{1,64}"
        )
        if not re.fullmatch(allowed, user):
            raise ValueError(f"invalid recipient {to!r}: bad user part for {server}")
        return f"{user}@{server}"
    digits = re.sub(r"[\s()+-]", "", raw)
    if not digits.isdigit() or not 5 <= len(digits) <= 20:
        raise ValueError(f"invalid recipient {to!r}: expected phone digits or a full JID")
    return f"{digits}@s.whatsapp.net"


_CORRUPT_STORE = ("file is not a database", "database disk image is malformed", "malformed database schema")
_PERMANENT_CONNECT = (
    "re-link required",
    "missing protocol scheme",
    "unsupported proxy scheme",
    "invalid url",
    "invalid port",
    "unable to open database",
    "permission denied",
    "not a directory",
    "read-only file system",
    "client outdated",
    "err-client-outdated",
    "session store",
)
_PERMANENT_SEND = (
    "invalid recipient",
    "not on whatsapp",
    "unknown server",
    "cannot read media",
    "not installed",
)


def is_store_corruption(text: str) -> bool:
    """Does an error text say the session store itself is damaged (so only a re-link helps)?"""
    low = text.lower()
    return any(s in low for s in _CORRUPT_STORE)


def connect_error_retryable(text: str) -> bool:
    """Could the same connect succeed later unchanged? Network trouble yes; bad config or store no."""
    low = text.lower()
    return not (is_store_corruption(low) or any(s in low for s in _PERMANENT_CONNECT))


# whatsmeow's errors once the message was written to the socket but its ack never came
# (ErrMessageTimedOut, a disconnect while waiting): it may have reached the recipient.
_UNKNOWN_SEND = ("timed out waiting for message send response", "disconnected before message send returned")


def send_outcome_unknown(text: str) -> bool:
    """Might a send that failed with this text have reached WhatsApp anyway?"""
    low = text.lower()
    return any(s in low for s in _UNKNOWN_SEND)


def send_error_retryable(text: str) -> bool:
    """Could the same send succeed later? Only a bad recipient or unusable media are final."""
    low = text.lower()
    return not any(s in low for s in _PERMANENT_SEND)
