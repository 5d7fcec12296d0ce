"""The session host's parts that need no neonize import: protocol output, session state, the
store check, media building, and the neonize -> worker direction (events).

They take neonize 0.5.2's objects duck-typed, so ``host.py`` stays the only module that imports
neonize. Event translation is pure: tests feed it hand-built events that only a real phone
could otherwise send.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.sessionhost import messages
from worker.sessionhost import protocol as p
from worker.sessionhost.messages import jid_str, unix_seconds

log = logging.getLogger("waziper.host")

STORE_FILE = "whatsmeow.sqlite3"  # inside the session's store directory
# A store holds the keys of a linked WhatsApp account: only the host's user may read it.
STORE_DIR_MODE = 0o700
STORE_FILE_MODE = 0o600
# The neonize events the host subscribes to; each arrives as ``<name>Ev``.
NEONIZE_EVENTS = (
    "Connected PairStatus Disconnected LoggedOut StreamReplaced TemporaryBan ConnectFailure ClientOutdated "
    "Receipt Message StreamError KeepAliveTimeout"
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


class Output:
    """The protocol side of stdout: whole lines, one writer at a time (the stdin thread writes too)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def emit(self, kind: str, session: str | None = None, /, **data: Any) -> None:
        line = memoryview(p.encode(p.event(kind, session, **data)))
        with self._lock:
            try:
                while line:
                    line = line[os.write(self._fd, line) :]
            except BrokenPipeError:
                os._exit(0)  # the worker is gone; nobody is left to serve


@dataclass
class Session:
    sid: str
    store: str
    connect_ref: Any = None
    logged_in: bool = False
    client: Any = None
    task: asyncio.Future | None = None  # neonize's connect: runs as long as the connection
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    connected: bool = False
    showing_qr: bool = False
    closing: bool = False  # we asked for the disconnect/logout: no "connection lost" events
    abandoned: bool = False  # disconnected while dialing: silent, stopped once the dial returns
    on_whatsapp: set[str] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return self.task is None or not self.task.done()

    @property
    def dialing(self) -> bool:
        """Might Go be inside a dial (the first one, or whatsmeow reconnecting on its own)?
        Neither connected nor showing a QR code, with neonize's connect still running."""
        return self.task is not None and not self.task.done() and not (self.connected or self.showing_qr)


def make_private(store: str) -> None:
    """Directories 0700 and files 0600 inside `store`: stores made before the host set its umask
    (0755/0644) are tightened when the host opens them. Symbolic links are left alone."""
    for root, _dirs, files in os.walk(store):
        modes = [(root, STORE_DIR_MODE), *((os.path.join(root, f), STORE_FILE_MODE) for f in files)]
        for path, mode in modes:
            try:
                st = os.lstat(path)
                if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & ~mode:
                    os.chmod(path, mode)
            except OSError as exc:  # not ours, or gone: the store still works, say so
                log.warning("cannot make %s private: %s", path, exc.strerror or exc)


def check_store(store: str) -> tuple[str | None, bool]:
    """Return (problem, has_device) for a session store directory, creating it when missing
    (0700) and making an existing one private (see make_private)."""
    if any(c in store for c in "?#%"):  # neonize builds a sqlite URI from the path
        return f"session store path {store!r} must not contain '?', '#' or '%'", False
    try:
        Path(store).mkdir(mode=STORE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot use session store {store}: {exc.strerror or exc}", False
    make_private(store)
    db = Path(store) / STORE_FILE
    if not db.exists():
        return None, False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=2)) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            has = "whatsmeow_device" in tables and con.execute("SELECT 1 FROM whatsmeow_device").fetchone()
    except sqlite3.DatabaseError as exc:
        if p.is_store_corruption(str(exc)):
            return f"session store {db} is corrupt ({exc}): re-link required", False
        return f"cannot read session store {db}: {exc}", False
    return None, bool(has)


async def build_media(client: Any, kind: str, data: bytes, cmd: dict[str, Any]) -> Any:
    """Upload ``data`` and build the WhatsApp message a media ``send`` asks for."""
    caption = cmd["text"] or None
    if kind == "image":
        return await client.build_image_message(data, caption=caption)
    if kind == "document":
        name = cmd["filename"] or os.path.basename(cmd["media_path"])
        return await client.build_document_message(
            data, caption=caption, title=name, filename=name, mimetype=cmd["mimetype"]
        )
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        raise RuntimeError(f"ffmpeg/ffprobe not installed: neonize needs them to send {kind}")
    if kind == "audio":
        return await client.build_audio_message(data)
    return await client.build_video_message(data, caption=caption)


# -- neonize events -> protocol events ---------------------------------------------------------


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
    return None


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
