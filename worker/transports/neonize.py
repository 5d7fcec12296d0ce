"""The real WhatsApp transport: sessions run in session host child processes, a few per host.

neonize (Go, loaded into Python) crashes its process on concurrent connects, leaks an fd and
~180 KB per failed dial, and cannot cancel a dial into a silent proxy (docs/architecture.md,
"Processes"). So the worker never imports it: `NeonizeSession.connect` places the session on a
host (`worker.sessionhost.main`, forked from the fork server; transports/host_pool.py), and
speaks the JSON-lines protocol (`worker/sessionhost/protocol.py`) over the host's pipes. A
host's crash costs the sessions it carries: each sees SESSION_CRASHED with the exit status and
the host's last words. A session let go mid-dial stays behind in its host, which retires.

Every method returns at once; the host's answers arrive as TransportEvents from `poll`, which
reads the pipes without blocking (transports/host_process.py). No neonize import here.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.sessionhost import protocol as p
from worker.transports import base
from worker.transports.base import OutgoingMessage, SessionSpec, TransportError, TransportEvent
from worker.transports.host_pool import HostPool, Launcher, PooledHost
from worker.transports.host_process import HOST_ARGV, REAPER, HostProcess

log = logging.getLogger("waziper.neonize")

# whatsmeow's QR channel: the first code of a pairing attempt lives 60 s, each later one 20 s.
FIRST_QR_S, NEXT_QR_S = 60, 20
SHUTDOWN_WAIT_S = 5.0
DOWNLOAD_MEDIA = "download_media"
_REFS = itertools.count(1)
# Host events that pass to the worker with these fields (the rest are built below).
_PLAIN: dict[str, tuple[str, tuple[str, ...]]] = {
    p.PAIRED: (base.PAIRED, ("jid", "push_name")),
    p.CONNECTED: (base.CONNECTED, ("jid", "push_name")),
    p.CONNECT_FAILED: (base.CONNECT_FAILED, ("error", "retryable")),
    p.STREAM_REPLACED: (base.STREAM_REPLACED, ()),
    p.TEMPORARY_BAN: (base.TEMPORARY_BAN, ("code", "expire_s")),
    p.PAIR_CODE: (base.PAIR_CODE, ("code",)),
    p.PONG: (base.PONG, ("connected", "logged_in", "busy")),
    p.INCOMING: (
        base.INCOMING,
        (
            *("message_id", "chat", "sender", "sender_phone", "from_me", "is_group", "push_name"),
            *("kind", "text", "quoted_message_id", "target_id", "media", "details", "raw"),
        ),
    ),
    p.RECEIPT: (base.RECEIPT, ("message_ids", "kind", "chat", "sender")),
    p.GROUP_CHANGED: (
        base.GROUP_CHANGED,
        ("group_id", "by", "changes", "participants", "joined", "reason", "group_info"),
    ),
    p.CONTACT_CHANGED: (base.CONTACT_CHANGED, ("contact_id", "phone", "by", "changes")),
}
# Host events whose `at` (unix seconds, or none) passes on as an ISO time (now when none).
_TIMED = frozenset({p.RECEIPT, p.INCOMING, p.GROUP_CHANGED, p.CONTACT_CHANGED})


def _iso(unix: Any, default: datetime) -> str:
    """The host reports times as unix seconds; the worker's events carry ISO strings."""
    if isinstance(unix, int | float) and not isinstance(unix, bool) and unix > 0:
        try:
            return datetime.fromtimestamp(unix, UTC).isoformat()
        except (OverflowError, OSError, ValueError):  # 1e20, NaN: a time no calendar holds
            pass
    return default.isoformat()


class NeonizeSession(base.Session):
    supports_pair_phone = True

    def __init__(self, spec: SessionSpec, *, pool: HostPool) -> None:
        super().__init__(spec)
        self.pool = pool
        self.host: PooledHost | None = None
        self.last_host: HostProcess | None = None  # kept for tests and diagnosis after close()
        self.ready: dict[str, Any] = {}  # the host's `ready` event (pid, neonize version)
        self.events: list[TransportEvent] = []
        self.pending: dict[Any, str] = {}  # ref -> the command it answers
        self.downloads: dict[Any, tuple[str, Any]] = {}  # ref -> (the media's file, max_bytes)
        self.qr_count = 0
        self.showing_qr = False
        self.dialing = False  # Go may be inside a dial for it (connecting, or reconnecting)

    # -- the worker's side ------------------------------------------------------------------

    def connect(self, now: datetime) -> None:
        self._let_go()  # the earlier attempt leaves its host first (host_pool: placement)
        ref = self._ref(p.CONNECT)
        try:
            line = p.command(
                p.CONNECT,
                self.spec.instance_id,
                ref,
                store=os.path.abspath(self.spec.session_dir),
                proxy=self.spec.proxy_url or None,
            )
        except p.ProtocolError as exc:
            return self._emit(base.CONNECT_FAILED, error=f"cannot connect: {exc}", retryable=False)
        try:
            host = self.pool.place(self)
        except OSError as exc:  # EMFILE, ENOMEM, a missing interpreter: maybe better later
            return self._emit(
                base.CONNECT_FAILED, error=f"cannot start the session host: {exc}", retryable=True
            )
        self.host, self.last_host = host, host.process
        self.qr_count, self.showing_qr, self.ready, self.dialing = 0, False, host.ready, True
        self.pending = {ref: p.CONNECT}
        host.process.write(line)  # the pipe holds it while a new host loads neonize

    def disconnect(self, now: datetime) -> None:
        self._let_go()  # the host stops neonize politely (or once its dial returns)
        self._emit(base.DISCONNECTED, reason="requested", requested=True)

    def logout(self, now: datetime) -> None:
        if not self._command(p.LOGOUT):
            self._emit(
                base.LOGGED_OUT,
                reason="requested; no session host was running, so WhatsApp was not told",
                requested=True,
            )

    def send(self, message: OutgoingMessage, now: datetime) -> None:
        fields = {
            "to": message.to,
            "kind": message.kind,
            "text": message.text or None,
            "media_path": message.media_path or None,
            "filename": message.filename or None,
            "mimetype": message.mimetype or None,
            "fields": message.fields or None,
            "target": _message_ref(message.target),
            "quoted": _message_ref(message.quoted),
            "mentions": list(message.mentions) or None,
            "typing_s": message.typing_s or None,
            "not_after": message.not_after.timestamp() if message.not_after else None,
        }
        try:
            sent = self._command(p.SEND, ref=message.ref, **fields)
        except p.ProtocolError as exc:
            return self._send_failed(message.ref, f"invalid message: {exc}", retryable=False)
        if not sent:
            self._send_failed(message.ref, "session host is not running", retryable=True, dead_socket=True)

    def pair_phone(self, phone: str, now: datetime) -> None:
        if self.host is None or not self.showing_qr:
            raise TransportError("pairing needs a session showing a QR code", retryable=True)
        try:
            self._command(p.PAIR_PHONE, phone=phone)
        except p.ProtocolError as exc:
            raise TransportError(str(exc), retryable=False) from None

    def query(
        self, op: str, args: dict[str, Any], *, ref: str, deadline: datetime | None, now: datetime
    ) -> None:
        until = deadline.timestamp() if deadline is not None else None
        if op == DOWNLOAD_MEDIA:
            # Media can be far larger than a protocol line: the host writes it into a file made
            # here, and the answer carries it from that file (see _downloaded).
            try:
                fd, path = tempfile.mkstemp(prefix="waziper-media-")
                os.close(fd)
            except OSError as exc:
                error = f"cannot make a file for the media: {exc}"
                return self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code="failed")
            self.downloads[ref] = (path, args.get("max_bytes"))
            args = {**args, "path": path}
        try:
            asked = self._command(p.QUERY, ref=ref, op=op, args=args, deadline=until)
        except p.ProtocolError as exc:
            self._discard_download(ref)
            return self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=str(exc), code="invalid")
        if not asked:
            self._discard_download(ref)
            self._emit(
                base.QUERY_RESULT, ref=ref, ok=False, error="session host is not running", code="unavailable"
            )

    def check_alive(self, now: datetime) -> None:
        # The host answers from its own state, never by asking Go (which may be stuck).
        if not self._command(p.PING):
            self._emit(base.SESSION_CRASHED, error="session host is not running")

    def poll(self, now: datetime) -> list[TransportEvent]:
        self.pool.pump(now)  # reads every host once, for every session polled right after it
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        self._let_go()

    # -- the pool's side --------------------------------------------------------------------

    def host_lost(self, host: PooledHost, error: str, exit_code: int | None) -> None:
        """The host this session ran on died (or was killed for a protocol error)."""
        if self.host is not host:
            return
        log.warning("instance %s: its session host (pid %s) is gone", self.spec.instance_id, host.process.pid)
        self.host = None  # nothing left to tell it
        self._let_go()
        self._emit(base.SESSION_CRASHED, error=error, exit_code=exit_code)

    # -- internals --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.host.process.pid if self.host is not None else None

    def _ref(self, cmd: str) -> str:
        # "~" keeps our refs apart from message refs, which the gateway chooses; the count is
        # the process's, so no two sessions on one host share a ref.
        return f"~{cmd}-{next(_REFS)}"

    def _command(self, cmd: str, ref: Any = None, **fields: Any) -> bool:
        """Write one command to the live host. False if there is none (or it stopped reading)."""
        ref = self._ref(cmd) if ref is None else ref
        line = p.command(cmd, self.spec.instance_id, ref, **fields)  # ProtocolError: the caller's
        if self.host is None or not self.host.process.write(line):
            return False
        self.pending[ref] = cmd
        return True

    def _emit(self, event_kind: str, /, **data: Any) -> None:
        self.events.append(TransportEvent(event_kind, data))

    def _send_failed(
        self, ref: Any, error: str, *, retryable: bool, dead_socket: bool = False, uncertain: bool = False
    ) -> None:
        extra = {"uncertain": True} if uncertain else {}
        self._emit(
            base.SEND_RESULT,
            ref=ref,
            ok=False,
            error=error,
            retryable=retryable,
            dead_socket=dead_socket,
            **extra,
        )

    def _let_go(self) -> None:
        host, self.host = self.host, None
        self.pending.clear()
        for ref in list(self.downloads):  # answers that will never come: their files go now
            self._discard_download(ref)
        dialing, self.showing_qr, self.dialing = self.dialing, False, False
        if host is not None:
            self.pool.leave(host, self, dialing=dialing)

    def on_event(self, ev: p.HostEvent, now: datetime) -> None:
        """One event of this session, routed here by the pool."""
        data, ref = ev.data, ev.ref
        asked = self.pending.pop(ref, None) if ref is not None else None
        if ev.kind in _PLAIN:
            kind, keys = _PLAIN[ev.kind]
            out = {k: data[k] for k in keys if k in data}
            if ev.kind in _TIMED:
                out["at"] = _iso(data.get("at"), now)
            if ev.kind in (p.CONNECTED, p.PAIRED, p.CONNECT_FAILED):
                self.showing_qr = False
            if ev.kind in (p.CONNECTED, p.CONNECT_FAILED):
                self.dialing = False
            elif ev.kind == p.PAIRED:  # whatsmeow dials again to log in
                self.dialing = True
            self._emit(kind, **out)
        elif ev.kind == p.QR:
            self.qr_count += 1
            self.showing_qr, self.dialing = True, False
            life = timedelta(seconds=FIRST_QR_S if self.qr_count == 1 else NEXT_QR_S)
            self._emit(base.QR, code=data.get("code", ""), expires_at=(now + life).isoformat())
        elif ev.kind == p.QR_TIMEOUT:
            self.showing_qr = False
            self._emit(base.QR_TIMEOUT, codes_shown=self.qr_count)
        elif ev.kind == p.DISCONNECTED:
            if asked != p.DISCONNECT:  # connection lost: whatsmeow redials on its own
                self.dialing = True
            self._emit(base.DISCONNECTED, reason=data.get("reason", ""), requested=asked == p.DISCONNECT)
        elif ev.kind == p.LOGGED_OUT:
            self._emit(base.LOGGED_OUT, reason=data.get("reason", ""), requested=asked == p.LOGOUT)
        elif ev.kind == p.SEND_RESULT:
            if data.get("ok"):
                self._emit(base.SEND_RESULT, ref=ref, ok=True, message_id=data.get("message_id", ""))
            else:
                error = str(data.get("error") or "send failed")
                retryable = bool(data.get("retryable", True))
                self._send_failed(
                    ref,
                    error,
                    retryable=retryable,
                    dead_socket=error == "not connected",
                    uncertain=bool(data.get("uncertain")),
                )
        elif ev.kind == p.QUERY_RESULT:
            if ref in self.downloads:
                self._downloaded(ref, data)
            elif data.get("ok"):
                self._emit(base.QUERY_RESULT, ref=ref, ok=True, data=data.get("data"))
            else:
                error, code = str(data.get("error") or "no answer"), str(data.get("code") or "failed")
                self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code=code)
        elif ev.kind == p.ERROR:
            self._on_error(asked, ref, str(data.get("error", "")))
        else:
            log.warning("instance %s: unknown host event %r ignored", self.spec.instance_id, ev.kind)

    def _downloaded(self, ref: Any, data: dict[str, Any]) -> None:
        """The host's answer to download_media, with the media read back from the file it wrote
        (base64, so that it can travel in the command's JSON result to the web)."""
        path, max_bytes = self.downloads[ref]
        try:
            if not data.get("ok"):
                error, code = str(data.get("error") or "no answer"), str(data.get("code") or "failed")
                return self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code=code)
            size = os.path.getsize(path)
            if isinstance(max_bytes, int) and size > max_bytes:
                error = f"the media is {size} bytes, more than the {max_bytes} allowed"
                return self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code="too_large")
            with open(path, "rb") as file:
                content = base64.b64encode(file.read()).decode("ascii")
            found = data.get("data")
            answer: dict[str, Any] = found if isinstance(found, dict) else {}
            self._emit(base.QUERY_RESULT, ref=ref, ok=True, data={**answer, "size": size, "base64": content})
        except OSError as exc:
            error = f"cannot read the downloaded media: {exc}"
            self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code="failed")
        finally:
            self._discard_download(ref)

    def _discard_download(self, ref: Any) -> None:
        path, _max_bytes = self.downloads.pop(ref, (None, None))
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _on_error(self, asked: str | None, ref: Any, error: str) -> None:
        """The host refused or failed a command: answer it in the terms the worker waits for."""
        if asked == p.PAIR_PHONE:
            self._emit(base.PAIR_CODE, error=error)
        elif asked == p.LOGOUT:
            # The person asked to unlink; the worker removes the store either way. WhatsApp was
            # not told, so the phone lists the device until it is removed there.
            self._emit(base.LOGGED_OUT, reason=f"requested; WhatsApp was not told ({error})", requested=True)
        elif asked == p.SEND:
            self._send_failed(ref, error, retryable=False)
        elif asked == p.CONNECT:
            self._emit(base.CONNECT_FAILED, error=error, retryable=p.connect_error_retryable(error))
        elif asked == p.QUERY:
            self._discard_download(ref)
            self._emit(base.QUERY_RESULT, ref=ref, ok=False, error=error, code="failed")
        else:  # a ping, a disconnect of a hung dial, or a line of ours the host did not like
            log.warning("instance %s: session host: %s", self.spec.instance_id, error)


class NeonizeTransport(base.Transport):
    name = "neonize"

    def __init__(
        self,
        *,
        host_argv: Sequence[str] = HOST_ARGV,
        env: dict[str, str] | None = None,
        sessions_per_host: int | None = None,
        recycle_after: int | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        """`launcher`: how hosts start (default: the process's fork server, spawning when it is
        down; `Launcher(fork_server=False)` always spawns). The two sizes default to the
        settings WAZIPER_SESSIONS_PER_HOST and WAZIPER_HOST_RECYCLE_AFTER."""
        if sessions_per_host is None or recycle_after is None:
            from django.conf import settings

            if sessions_per_host is None:
                sessions_per_host = int(settings.WAZIPER_SESSIONS_PER_HOST)
            if recycle_after is None:
                recycle_after = int(settings.WAZIPER_HOST_RECYCLE_AFTER)
        self.pool = HostPool(
            sessions_per_host=sessions_per_host,
            recycle_after=recycle_after,
            host_argv=host_argv,
            env=env,
            launcher=launcher,
        )

    def open_session(self, spec: SessionSpec) -> NeonizeSession:
        return NeonizeSession(spec, pool=self.pool)

    def poll(self, sessions: list[base.Session], now: datetime) -> None:
        self.pool.pump(now, force=True)

    def close(self) -> None:
        """Worker shutdown: every host is let go (stdin EOF) and waited for (bounded), then the
        fork server, so none outlives the worker."""
        self.pool.close()
        reaped = REAPER.wait_idle(SHUTDOWN_WAIT_S)  # the fork server reports its hosts' exits
        self.pool.launcher.close()
        if not (reaped and REAPER.wait_idle(SHUTDOWN_WAIT_S)):
            log.warning("%d session host(s) still exiting at shutdown", REAPER.pending)


def _message_ref(ref: dict[str, Any] | None) -> dict[str, Any] | None:
    """A target or quoted message as the host's SEND takes it: WhatsApp's id, the chat, whether
    this account sent it, its sender; a quote also what its bubble shows."""
    if not ref:
        return None
    out = {
        "id": ref.get("wa_message_id") or "",
        "chat": ref.get("chat_id") or "",
        "from_me": bool(ref.get("from_me")),
        "sender": ref.get("sender") or "",
    }
    for key in ("kind", "text", "content"):
        if ref.get(key):
            out[key] = ref[key]
    return out
