"""One leased instance as the worker drives it: its session and phase, and how it reacts to
what the session reports, to failures and to commands from the web side.

The worker loop (worker/loop.py) decides *when* (leases, schedules, which step runs) and
guards each call; an `InstanceLifecycle` decides *what happens to this instance*, and writes
its actual state through instances.actual_state and its failures through the breaker. It never
imports the loop. The phases and the rules between them are drawn in docs/architecture.md
("The worker").
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from breaker import service as breaker_service
from breaker.models import FailureEvent
from breaker.policy import ConnectDecision, Verdict, retry_delay
from directory import changes as directory_changes
from inbox import service as inbox_service
from instances import commands
from instances.actual_state import InstanceGone, store_qr, write_state
from instances.events import emit_event
from instances.housekeeping import remove_session_store
from instances.models import Instance, InstanceCommand
from kernel.clock import parse_utc
from kernel.metrics import CONNECT_ATTEMPTS
from worker.parts import Dispatcher
from worker.transports import base
from worker.transports.base import Session, SessionSpec, Transport, TransportError, TransportEvent

logger = logging.getLogger("waziper.worker")
Status = Instance.Status
Kind = FailureEvent.Kind
# An event the database refused this many times in a row is logged and dropped: one event that
# can never be recorded must not stop the loop for every instance forever.
MAX_EVENT_ATTEMPTS = 5


class Phase(enum.Enum):
    IDLE = "idle"  # no session; connect when due
    CONNECTING = "connecting"  # dialing; a deadline ends it
    QR = "qr"  # connected to WhatsApp, showing QR codes
    CONNECTED = "connected"
    WAITING = "waiting"  # backoff before the next attempt
    REFUSED = "refused"  # the breaker said no; next_attempt_at is its retry-after (None: forced)


@dataclass
class InstanceLifecycle:
    pk: int
    instance_id: str
    transport: str
    status: str
    sender: Dispatcher
    rand: Callable[[], float]
    attempts: int = 0
    next_attempt_at: datetime | None = None
    phase: Phase = Phase.IDLE
    session: Session | None = None
    probe: bool = False
    connect_deadline: datetime | None = None
    pong_deadline: datetime | None = None
    # command pk waiting for a transport event: by the event kind that completes it (logout,
    # pair_code), or by the question's ref (query_result)
    waiting_commands: dict[str, int] = field(default_factory=dict)
    # Events a database error cut short (the one that failed first), and the session that
    # reported them: handled again at the start of the next tick. The first one's failed
    # attempts are counted; after MAX_EVENT_ATTEMPTS it is dropped (keep_unhandled).
    unhandled: list[TransportEvent] = field(default_factory=list)
    unhandled_from: Session | None = None
    failing_event: TransportEvent | None = None
    failed_attempts: int = 0

    @classmethod
    def leased(
        cls, instance: Instance, *, sender: Dispatcher, rand: Callable[[], float]
    ) -> InstanceLifecycle:
        """The lifecycle of an instance this worker just leased, resuming where the row says."""
        return cls(
            pk=instance.pk,
            instance_id=instance.instance_id,
            transport=instance.transport,
            status=instance.status,
            sender=sender,
            rand=rand,
            attempts=instance.retry_attempts,
            # A restart keeps the backoff it was in: the breaker decides, not the restart. An
            # open breaker's wait is asked of the breaker again at once: it may have been
            # reset while no worker held the instance (nobody to nudge).
            next_attempt_at=None if instance.status == Status.BREAKER_OPEN else instance.next_attempt_at,
        )

    # --- when the loop should act -------------------------------------------------------------
    def due_to_connect(self, now: datetime) -> bool:
        if self.phase not in (Phase.IDLE, Phase.WAITING, Phase.REFUSED):
            return False
        if self.next_attempt_at is not None and self.next_attempt_at > now:
            return False
        # Forced open: only a reset (which sends a `reconnect` command) wakes it.
        return not (self.phase is Phase.REFUSED and self.next_attempt_at is None)

    @property
    def is_connected(self) -> bool:
        return self.phase is Phase.CONNECTED and self.session is not None

    # --- connecting ---------------------------------------------------------------------------
    def connect(self, now: datetime, *, transports: Mapping[str, Transport], worker_id: str) -> None:
        """Ask the breaker, then dial if it allows."""
        decision = breaker_service.allow_connect(self.pk, now=now, worker_id=worker_id)
        if decision.verdict is Verdict.REFUSE:
            self._refused(decision, now)
            return
        row = Instance.objects.filter(pk=self.pk).values("proxy_url", "sandbox", "transport").first()
        if row is None:
            raise InstanceGone(self.pk)  # deleted between steps: the loop drops it
        transport = transports.get(row["transport"])
        if transport is None:
            raise TransportError(
                f"transport {row['transport']!r} is not available in this worker", retryable=False
            )
        spec = SessionSpec(
            instance_pk=self.pk,
            instance_id=self.instance_id,
            proxy_url=row["proxy_url"],
            session_dir=os.path.join(settings.WAZIPER_SESSIONS_DIR, self.instance_id),
            sandbox=row["sandbox"] or {},
        )
        self.transport = row["transport"]
        self.session = transport.open_session(spec)
        self.phase = Phase.CONNECTING
        self.probe = decision.verdict is Verdict.PROBE
        self.connect_deadline = now + timedelta(seconds=settings.WAZIPER_CONNECT_TIMEOUT)
        self.next_attempt_at = None
        CONNECT_ATTEMPTS.labels(transport=self.transport).inc()
        self.set_status(
            now, Status.CONNECTING, "probing (breaker half-open)" if self.probe else "", next_attempt_at=None
        )
        self.session.connect(now)

    def _refused(self, decision: ConnectDecision, now: datetime) -> None:
        self.phase = Phase.REFUSED
        self.next_attempt_at = (
            now + timedelta(seconds=decision.retry_after_s) if decision.retry_after_s is not None else None
        )
        self.set_status(now, Status.BREAKER_OPEN, decision.reason, next_attempt_at=self.next_attempt_at)

    def deadline_passed(self, now: datetime) -> bool:
        """Is a connect or a live check overdue (the loop then calls check_deadlines)?"""
        deadline = self.connect_deadline if self.phase is Phase.CONNECTING else None
        if self.phase is Phase.CONNECTED:
            deadline = self.pong_deadline
        return deadline is not None and now >= deadline

    def check_deadlines(self, now: datetime) -> bool:
        """End a connect that outlived WAZIPER_CONNECT_TIMEOUT, or a live check nobody answered.
        Return True if it did."""
        if not self.deadline_passed(now):
            return False
        if self.phase is Phase.CONNECTING:
            limit = settings.WAZIPER_CONNECT_TIMEOUT
            self.after_failure(
                Kind.CONNECT_TIMEOUT, f"no answer within {limit:g}s; connection cancelled", now
            )
        else:
            self.after_failure(Kind.LIVE_CHECK, "live check: no answer", now)
        return True

    def start_live_check(self, now: datetime, answer_within_s: float) -> None:
        if self.session is None or self.phase is not Phase.CONNECTED or self.pong_deadline is not None:
            return
        self.pong_deadline = now + timedelta(seconds=answer_within_s)
        self.session.check_alive(now)

    # --- what the session reports -------------------------------------------------------------
    def react(self, event: TransportEvent, now: datetime) -> None:
        # One transaction per event: a database error leaves none of its writes behind, so
        # handling it again (the loop's replay) does not record a failure twice.
        with transaction.atomic():
            self.handle_event(event, now)

    def handle_event(self, event: TransportEvent, now: datetime) -> None:
        data = event.data
        kind = event.kind
        if kind == base.QR:
            self._on_qr(data, now)
        elif kind == base.QR_TIMEOUT:
            # Nobody scanned: park until the next QR request. Not a failure.
            self.close_session(now)
            with transaction.atomic():
                Instance.objects.filter(pk=self.pk).update(desired_state=Instance.Desired.STOPPED)
                self.set_status(now, Status.QR_EXPIRED, "nobody scanned the QR code in time", last_qr="")
        elif kind == base.PAIRED:
            # The phone scanned; whatsmeow now dials again to log in, and that dial can hang like
            # any other. The QR timeout no longer applies: the connect timeout does.
            self.phase = Phase.CONNECTING
            self.connect_deadline = now + timedelta(seconds=settings.WAZIPER_CONNECT_TIMEOUT)
            Instance.objects.filter(pk=self.pk).update(
                jid=data.get("jid", ""), push_name=data.get("push_name", "")
            )
        elif kind == base.CONNECTED:
            self._on_connected(data, now)
        elif kind == base.CONNECT_FAILED:
            retryable = bool(data.get("retryable", True))
            error = str(data.get("error", "connect failed"))
            self.after_failure(Kind.CONNECT_FAILED, error, now, force=not retryable)
        elif kind == base.DISCONNECTED:
            if not data.get("requested"):
                self.after_failure(Kind.DISCONNECTED, str(data.get("reason", "connection lost")), now)
        elif kind == base.LOGGED_OUT:
            self._logged_out(now, str(data.get("reason", "")), requested=bool(data.get("requested")))
        elif kind == base.STREAM_REPLACED:
            self.after_failure(Kind.STREAM_REPLACED, "another client opened this WhatsApp session", now)
        elif kind == base.TEMPORARY_BAN:
            detail = f"temporarily banned by WhatsApp (code {data.get('code')}, {data.get('expire_s')}s)"
            self.after_failure(Kind.BANNED, detail, now)
        elif kind == base.SESSION_CRASHED:
            self.after_failure(Kind.HOST_CRASHED, str(data.get("error", "session process died")), now)
        elif kind == base.SEND_RESULT:
            if self.sender.on_send_result(self.pk, data, now):
                self.after_failure(Kind.SEND_FAILED, str(data.get("error", "send failed")), now)
        elif kind == base.RECEIPT:
            self.sender.on_receipt(self.pk, data, now)
        elif kind == base.INCOMING:
            # Stored once, with its outbox event, in this event's transaction (inbox/service.py);
            # a sender's new push name is a contact change (directory/changes.py).
            inbox_service.store_incoming(self.pk, data, now)
            directory_changes.push_name_seen(self.pk, data, now)
        elif kind == base.GROUP_CHANGED:
            directory_changes.group_changed(self.pk, data, now)
        elif kind == base.CONTACT_CHANGED:
            directory_changes.contact_changed(self.pk, data, now)
        elif kind == base.PAIR_CODE:
            code = data.get("code")
            self._finish_command(base.PAIR_CODE, now, {"code": code} if code else data)
            if code:
                emit_event(self.pk, "pair_code", {"code": code}, now=now)
        elif kind == base.QUERY_RESULT:
            if data.get("ok"):
                result: dict[str, Any] = {"data": data.get("data")}
            else:
                error = str(data.get("error") or "the session could not answer")
                result = {"error": error, "code": str(data.get("code") or "failed")}
            self._finish_command(str(data.get("ref", "")), now, result)
        elif kind == base.PONG:
            self.pong_deadline = None
            if data.get("connected"):
                Instance.objects.filter(pk=self.pk).update(last_seen_at=now)
            else:
                self.after_failure(Kind.LIVE_CHECK, "live check: the session is not connected", now)
        else:
            logger.warning("instance %s: ignoring unknown event %r", self.instance_id, kind)

    def _on_qr(self, data: dict[str, Any], now: datetime) -> None:
        if self.phase is Phase.CONNECTING:
            # The dial reached WhatsApp: the network works, which is all a probe asks.
            breaker_service.record_success(self.pk, now=now)
        self.phase = Phase.QR
        self.connect_deadline = None  # only the QR timeout remains
        store_qr(self.pk, str(data.get("code", "")), parse_utc(data.get("expires_at")), now, self.status)
        self.status = Status.QR_PENDING

    def _on_connected(self, data: dict[str, Any], now: datetime) -> None:
        self.phase = Phase.CONNECTED
        self.connect_deadline = None
        self.attempts = 0
        breaker_service.record_success(self.pk, now=now)
        fields: dict[str, Any] = {"connected_at": now, "last_seen_at": now, "retry_attempts": 0}
        fields.update({"next_attempt_at": None, "last_qr": "", "qr_expires_at": None})
        if data.get("jid"):
            fields["jid"] = data["jid"]
            fields["push_name"] = data.get("push_name", "")
        self.set_status(now, Status.CONNECTED, f"connected as {data.get('jid', '')}", **fields)
        logger.info("instance %s: ✅ connected as %s", self.instance_id, data.get("jid", "?"))

    def _logged_out(self, now: datetime, reason: str, *, requested: bool) -> None:
        """The device was unlinked: the session store is useless, a new QR is needed."""
        command_pk = self.waiting_commands.pop(base.LOGGED_OUT, None)  # answered below, not failed
        self.close_session(now)
        if not requested:
            # Forces the breaker open: retrying a logged-out session would only annoy WhatsApp.
            breaker_service.record_failure(
                self.pk, Kind.LOGGED_OUT, reason or "logged out by WhatsApp", now=now
            )
        self.remove_session_store()
        with transaction.atomic():
            Instance.objects.filter(pk=self.pk).update(desired_state=Instance.Desired.STOPPED)
            self.set_status(
                now,
                Status.LOGGED_OUT,
                "logged out on request" if requested else f"logged out: {reason}",
                jid="",
                push_name="",
                last_qr="",
            )
            directory_changes.account_unlinked(self.pk)
        if command_pk is not None:
            commands.finish(command_pk, {"ok": True}, now)

    # --- commands from the web side -----------------------------------------------------------
    def handle_command(self, command: InstanceCommand, now: datetime) -> None:
        session = self.session
        if command.kind == InstanceCommand.Kind.RECONNECT:
            if self.phase in (Phase.WAITING, Phase.REFUSED, Phase.IDLE):
                self.phase = Phase.IDLE
                self.next_attempt_at = None
            commands.finish(command.pk, {"ok": True}, now)
        elif command.kind == InstanceCommand.Kind.LOGOUT:
            if session is not None and self.phase is Phase.CONNECTED:
                self.waiting_commands[base.LOGGED_OUT] = command.pk
                session.logout(now)
            else:
                self._logged_out(now, "requested", requested=True)
                commands.finish(command.pk, {"ok": True}, now)
        elif command.kind == InstanceCommand.Kind.PAIR_PHONE:
            if session is None or not session.supports_pair_phone:
                commands.finish(
                    command.pk, {"error": "pairing by phone number needs a session showing a QR code"}, now
                )
                return
            self.waiting_commands[base.PAIR_CODE] = command.pk
            try:
                session.pair_phone(str(command.payload.get("phone", "")), now)
            except TransportError as exc:
                self.waiting_commands.pop(base.PAIR_CODE, None)
                commands.finish(command.pk, {"error": str(exc)}, now)
        elif command.kind == InstanceCommand.Kind.QUERY:
            self._ask_session(command, now)
        else:
            commands.finish(command.pk, {"error": f"unknown command {command.kind!r}"}, now)

    def _ask_session(self, command: InstanceCommand, now: datetime) -> None:
        """Put a web request's question to the live session; the answer finishes the command."""
        if command.deadline is not None and command.deadline <= now:
            # The asker has given up (or is about to): never run a question late.
            error = "the question expired before the session could run it"
            commands.finish(command.pk, {"error": error, "code": "expired"}, now)
            return
        if self.session is None or self.phase is not Phase.CONNECTED:
            error = f"the session is not connected ({self.status})"
            commands.finish(command.pk, {"error": error, "code": "unavailable"}, now)
            return
        args = command.payload.get("args")
        ref = _query_ref(command.pk)
        self.waiting_commands[ref] = command.pk
        try:
            self.session.query(
                str(command.payload.get("op", "")),
                args if isinstance(args, dict) else {},
                ref=ref,
                deadline=command.deadline,
                now=now,
            )
        except TransportError as exc:  # this transport cannot answer it: the question's failure only
            self.waiting_commands.pop(ref, None)
            commands.finish(command.pk, {"error": str(exc), "code": "unsupported"}, now)

    def _finish_command(self, key: str, now: datetime, result: dict[str, Any]) -> None:
        command_pk = self.waiting_commands.pop(key, None)
        if command_pk is not None:
            commands.finish(command_pk, result, now)

    # --- state, sessions, failures ------------------------------------------------------------
    def set_status(self, now: datetime, status: str, detail: str = "", **fields: Any) -> None:
        write_state(self.pk, now, status=status, previous_status=self.status, detail=detail, **fields)
        self.status = status

    def close_session(self, now: datetime, *, disconnect: bool = False) -> None:
        session, self.session = self.session, None
        self.phase = Phase.IDLE
        self.connect_deadline = self.pong_deadline = None
        # A logout, pairing code or question the session will now never answer: say so instead
        # of leaving the web side waiting on a command that never finishes. A question is
        # `unavailable` (ask again once it reconnects), not something WhatsApp refused.
        for key in list(self.waiting_commands):
            ended: dict[str, Any] = {"error": "the session ended before it answered"}
            if key.startswith(_QUERY_REF_PREFIX):
                ended["code"] = "unavailable"
            self._finish_command(key, now, ended)
        if session is None:
            return
        try:
            if disconnect:
                session.disconnect(now)
        except Exception:
            logger.exception("instance %s: disconnect failed", self.instance_id)
        finally:
            session.close()
            self.sender.on_session_lost(self.pk, now)

    def after_failure(self, kind: str, detail: str, now: datetime, *, force: bool = False) -> None:
        """Record the failure, end the session, and schedule the retry the breaker allows."""
        self.close_session(now)
        outcome = breaker_service.record_failure(self.pk, kind, detail, now=now, force=force, rand=self.rand)
        logger.warning("instance %s: %s: %s", self.instance_id, kind, detail)
        if outcome.state != "closed":
            self.phase = Phase.REFUSED
            self.next_attempt_at = outcome.open_until
            self.set_status(
                now,
                Status.BREAKER_OPEN,
                f"{kind}: {detail}",
                next_attempt_at=outcome.open_until,
                retry_attempts=self.attempts,
            )
            return
        delay = retry_delay(
            self.attempts, settings.WAZIPER_RETRY_BASE, settings.WAZIPER_RETRY_CAP, self.rand()
        )
        self.attempts += 1
        self.phase = Phase.WAITING
        self.next_attempt_at = now + timedelta(seconds=delay)
        self.set_status(
            now,
            Status.DISCONNECTED,
            f"{kind}: {detail}",
            next_attempt_at=self.next_attempt_at,
            retry_attempts=self.attempts,
        )

    def remove_session_store(self) -> None:
        remove_session_store(self.instance_id)

    def keep_unhandled(self, events: list[TransportEvent], session: Session | None) -> None:
        """The session will not report these again: keep them, or a `connected` (say) never
        reaches the row while the worker acts on it. `events[0]` is the one that just failed;
        once it has failed MAX_EVENT_ATTEMPTS times it is logged and dropped, the rest kept."""
        head = events[0]
        self.failed_attempts = self.failed_attempts + 1 if head is self.failing_event else 1
        self.failing_event = head
        if self.failed_attempts >= MAX_EVENT_ATTEMPTS:
            logger.error(
                "instance %s: event %s failed %d times; dropped",
                self.instance_id,
                head.kind,
                self.failed_attempts,
            )
            events = events[1:]
            self.failing_event, self.failed_attempts = None, 0
        self.unhandled, self.unhandled_from = events, session

    def take_unhandled(self) -> tuple[list[TransportEvent], Session | None]:
        events, self.unhandled = self.unhandled, []
        return events, self.unhandled_from


# "?" keeps question refs apart from message refs (message ids) and the transport's own.
_QUERY_REF_PREFIX = "?"


def _query_ref(command_pk: int) -> str:
    return f"{_QUERY_REF_PREFIX}{command_pk}"
