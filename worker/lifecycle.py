"""How the worker reacts to transport events, failures and commands from the web side.

A mixin of Worker (instances/runtime/worker.py), kept apart so each file reads in one sitting.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, transaction

from breaker import service as breaker_service
from breaker.models import FailureEvent
from breaker.policy import retry_delay
from instances.actual_state import store_qr, write_state
from instances.events import emit_event
from instances.models import Instance, InstanceCommand
from worker.cleanup import remove_session_store
from worker.held import Held, Phase
from worker.transports import base
from worker.transports.base import Session, TransportError, TransportEvent

if TYPE_CHECKING:
    from worker.loop import Worker as _Worker

logger = logging.getLogger("waziper.worker")
Status = Instance.Status
Kind = FailureEvent.Kind


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


class Reactions:
    def step_replay(self: _Worker, now: datetime) -> bool:
        """Events a database error interrupted last tick, before anything else can act on them."""
        found = False
        for held in list(self.held.values()):
            if held.unhandled:
                events, held.unhandled = held.unhandled, []
                found = self._handle_events(held, held.unhandled_from, events, now) or found
        return found

    def _handle_events(
        self: _Worker, held: Held, session: Session | None, events: list[TransportEvent], now: datetime
    ) -> bool:
        for index, event in enumerate(events):
            if index and held.session is not session:
                break  # an earlier event ended this session; the rest belong to a dead one
            try:
                self._guard(held, now, f"event {event.kind}", lambda e=event: self._react(held, e, now))
            except DatabaseError:
                # The session will not report these again: keep them, or a `connected` (say)
                # never reaches the row while the worker acts on it.
                held.unhandled, held.unhandled_from = events[index:], session
                raise
        return bool(events)

    def _react(self: _Worker, held: Held, event: TransportEvent, now: datetime) -> None:
        # One transaction per event: a database error leaves none of its writes behind, so
        # handling it again (step_replay) does not record a failure twice.
        with transaction.atomic():
            self.handle_event(held, event, now)

    def handle_event(self: _Worker, held: Held, event: TransportEvent, now: datetime) -> None:
        data = event.data
        kind = event.kind
        if kind == base.QR:
            if held.phase is Phase.CONNECTING:
                # The dial reached WhatsApp: the network works, which is all a probe asks.
                breaker_service.record_success(held.pk, now=now)
            held.phase = Phase.QR
            held.connect_deadline = None  # only the QR timeout remains
            store_qr(
                held.pk, str(data.get("code", "")), _parse_time(data.get("expires_at")), now, held.status
            )
            held.status = Status.QR_PENDING
        elif kind == base.QR_TIMEOUT:
            # Nobody scanned: park until the next QR request. Not a failure.
            self._close_session(held, now)
            with transaction.atomic():
                Instance.objects.filter(pk=held.pk).update(desired_state=Instance.Desired.STOPPED)
                self._set_status(
                    held, now, Status.QR_EXPIRED, "nobody scanned the QR code in time", last_qr=""
                )
        elif kind == base.PAIRED:
            # The phone scanned; whatsmeow now dials again to log in, and that dial can hang like
            # any other. The QR timeout no longer applies: the connect timeout does.
            held.phase = Phase.CONNECTING
            held.connect_deadline = now + timedelta(seconds=settings.WAZIPER_CONNECT_TIMEOUT)
            Instance.objects.filter(pk=held.pk).update(
                jid=data.get("jid", ""), push_name=data.get("push_name", "")
            )
        elif kind == base.CONNECTED:
            held.phase = Phase.CONNECTED
            held.connect_deadline = None
            held.attempts = 0
            breaker_service.record_success(held.pk, now=now)
            fields: dict[str, Any] = {"connected_at": now, "last_seen_at": now, "retry_attempts": 0}
            fields.update({"next_attempt_at": None, "last_qr": "", "qr_expires_at": None})
            if data.get("jid"):
                fields["jid"] = data["jid"]
                fields["push_name"] = data.get("push_name", "")
            self._set_status(held, now, Status.CONNECTED, f"connected as {data.get('jid', '')}", **fields)
            logger.info("instance %s: ✅ connected as %s", held.instance_id, data.get("jid", "?"))
        elif kind == base.CONNECT_FAILED:
            retryable = bool(data.get("retryable", True))
            self._after_failure(
                held, Kind.CONNECT_FAILED, str(data.get("error", "connect failed")), now, force=not retryable
            )
        elif kind == base.DISCONNECTED:
            if not data.get("requested"):
                self._after_failure(held, Kind.DISCONNECTED, str(data.get("reason", "connection lost")), now)
        elif kind == base.LOGGED_OUT:
            self._logged_out(held, now, str(data.get("reason", "")), requested=bool(data.get("requested")))
        elif kind == base.STREAM_REPLACED:
            self._after_failure(
                held, Kind.STREAM_REPLACED, "another client opened this WhatsApp session", now
            )
        elif kind == base.TEMPORARY_BAN:
            detail = f"temporarily banned by WhatsApp (code {data.get('code')}, {data.get('expire_s')}s)"
            self._after_failure(held, Kind.BANNED, detail, now)
        elif kind == base.SESSION_CRASHED:
            self._after_failure(held, Kind.HOST_CRASHED, str(data.get("error", "session process died")), now)
        elif kind == base.SEND_RESULT:
            if self.dispatcher.on_send_result(held.pk, data, now):
                self._after_failure(held, Kind.SEND_FAILED, str(data.get("error", "send failed")), now)
        elif kind == base.RECEIPT:
            self.dispatcher.on_receipt(held.pk, data, now)
        elif kind == base.INCOMING:
            emit_event(
                held.pk,
                "message",
                {k: data.get(k) for k in ("message_id", "chat", "sender", "text", "kind")},
                now=now,
            )
        elif kind == base.PAIR_CODE:
            self._finish_command(
                held, base.PAIR_CODE, now, {"code": data["code"]} if data.get("code") else data
            )
            if data.get("code"):
                emit_event(held.pk, "pair_code", {"code": data["code"]}, now=now)
        elif kind == base.PONG:
            held.pong_deadline = None
            if data.get("connected"):
                Instance.objects.filter(pk=held.pk).update(last_seen_at=now)
            else:
                self._after_failure(held, Kind.LIVE_CHECK, "live check: the session is not connected", now)
        else:
            logger.warning("instance %s: ignoring unknown event %r", held.instance_id, kind)

    def _logged_out(self: _Worker, held: Held, now: datetime, reason: str, *, requested: bool) -> None:
        """The device was unlinked: the session store is useless, a new QR is needed."""
        command_pk = held.waiting_commands.pop(base.LOGGED_OUT, None)  # answered below, not failed
        self._close_session(held, now)
        if not requested:
            # Forces the breaker open: retrying a logged-out session would only annoy WhatsApp.
            breaker_service.record_failure(
                held.pk, Kind.LOGGED_OUT, reason or "logged out by WhatsApp", now=now
            )
        self._remove_session_store(held)
        with transaction.atomic():
            Instance.objects.filter(pk=held.pk).update(desired_state=Instance.Desired.STOPPED)
            self._set_status(
                held,
                now,
                Status.LOGGED_OUT,
                "logged out on request" if requested else f"logged out: {reason}",
                jid="",
                push_name="",
                last_qr="",
            )
        if command_pk is not None:
            InstanceCommand.objects.filter(pk=command_pk).update(finished_at=now, result={"ok": True})

    # --- commands from the web side -----------------------------------------------------------
    def handle_command(self: _Worker, held: Held, command: InstanceCommand, now: datetime) -> None:
        session = held.session
        if command.kind == InstanceCommand.Kind.RECONNECT:
            if held.phase in (Phase.WAITING, Phase.REFUSED, Phase.IDLE):
                held.phase = Phase.IDLE
                held.next_attempt_at = None
            self._complete(command, now, {"ok": True})
        elif command.kind == InstanceCommand.Kind.LOGOUT:
            if session is not None and held.phase is Phase.CONNECTED:
                held.waiting_commands[base.LOGGED_OUT] = command.pk
                session.logout(now)
            else:
                self._logged_out(held, now, "requested", requested=True)
                self._complete(command, now, {"ok": True})
        elif command.kind == InstanceCommand.Kind.PAIR_PHONE:
            if session is None or not session.supports_pair_phone:
                self._complete(
                    command, now, {"error": "pairing by phone number needs a session showing a QR code"}
                )
                return
            held.waiting_commands[base.PAIR_CODE] = command.pk
            try:
                session.pair_phone(str(command.payload.get("phone", "")), now)
            except TransportError as exc:
                held.waiting_commands.pop(base.PAIR_CODE, None)
                self._complete(command, now, {"error": str(exc)})
        else:
            self._complete(command, now, {"error": f"unknown command {command.kind!r}"})

    def _finish_command(
        self: _Worker, held: Held, event_kind: str, now: datetime, result: dict[str, Any]
    ) -> None:
        command_pk = held.waiting_commands.pop(event_kind, None)
        if command_pk is not None:
            InstanceCommand.objects.filter(pk=command_pk).update(finished_at=now, result=result)

    @staticmethod
    def _complete(command: InstanceCommand, now: datetime, result: dict[str, Any]) -> None:
        InstanceCommand.objects.filter(pk=command.pk).update(finished_at=now, result=result)

    # --- shared by the worker's steps and the reactions ----------------------------------------
    def _set_status(
        self: _Worker, held: Held, now: datetime, status: str, detail: str = "", **fields: Any
    ) -> None:
        write_state(held.pk, now, status=status, previous_status=held.status, detail=detail, **fields)
        held.status = status

    def _close_session(
        self: _Worker, held: Held, now: datetime, *, disconnect: bool = False, lost: bool = False
    ) -> None:
        session, held.session = held.session, None
        held.phase = Phase.IDLE
        held.connect_deadline = held.pong_deadline = None
        # A logout or pairing code the session will now never answer: say so instead of
        # leaving the web side waiting on a command that never finishes.
        for event_kind in list(held.waiting_commands):
            self._finish_command(held, event_kind, now, {"error": "the session ended before it answered"})
        if session is None:
            return
        try:
            if disconnect and not lost:
                session.disconnect(now)
        except Exception:
            logger.exception("instance %s: disconnect failed", held.instance_id)
        finally:
            session.close()
            self.dispatcher.on_session_lost(held.pk, now)

    def _after_failure(
        self: _Worker, held: Held, kind: str, detail: str, now: datetime, *, force: bool = False
    ) -> None:
        """Record the failure, end the session, and schedule the retry the breaker allows."""
        self._close_session(held, now)
        outcome = breaker_service.record_failure(held.pk, kind, detail, now=now, force=force, rand=self.rand)
        logger.warning("instance %s: %s: %s", held.instance_id, kind, detail)
        if outcome.state != "closed":
            held.phase = Phase.REFUSED
            held.next_attempt_at = outcome.open_until
            self._set_status(
                held,
                now,
                Status.BREAKER_OPEN,
                f"{kind}: {detail}",
                next_attempt_at=outcome.open_until,
                retry_attempts=held.attempts,
            )
            return
        delay = retry_delay(
            held.attempts, settings.WAZIPER_RETRY_BASE, settings.WAZIPER_RETRY_CAP, self.rand()
        )
        held.attempts += 1
        held.phase = Phase.WAITING
        held.next_attempt_at = now + timedelta(seconds=delay)
        self._set_status(
            held,
            now,
            Status.DISCONNECTED,
            f"{kind}: {detail}",
            next_attempt_at=held.next_attempt_at,
            retry_attempts=held.attempts,
        )

    def _remove_session_store(self: _Worker, held: Held) -> None:
        remove_session_store(held.instance_id)
