"""The worker: holds sessions for the instances it leases and reconciles them with the database.

Shaped like healthchecks' `sendalerts`: each step is a method that takes `now` and returns True
if it found work; `run()` loops them, sleeping briefly when none did; SIGTERM only sets a flag.
Tests call the steps directly with a fake clock.

One instance's exception never stops the others or the loop (logged with the instance id and
recorded as a failure); a database error makes the loop back off and try again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from breaker import service as breaker_service
from breaker.models import FailureEvent
from breaker.policy import Verdict
from instances import leases
from instances.models import Instance, InstanceCommand, WorkerProcess
from kernel.clock import Clock, SystemClock
from kernel.metrics import CONNECT_ATTEMPTS, SESSIONS
from worker.cleanup import run_cleanup
from worker.held import Held, Phase
from worker.lifecycle import Reactions
from worker.parts import Dispatcher, default_dispatcher, default_transports, new_worker_id
from worker.transports.base import Session, SessionSpec, Transport, TransportError, TransportEvent

logger = logging.getLogger("waziper.worker")
Status = Instance.Status


class Worker(Reactions):
    IDLE_SLEEP_S = 0.05
    FAST_STEP_S = 0.25  # lease scan and desired-state check
    PONG_TIMEOUT_S = 15.0

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        capacity: int | None = None,
        clock: Clock | None = None,
        transports: dict[str, Transport] | None = None,
        dispatcher: Dispatcher | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.capacity = capacity or settings.WAZIPER_WORKER_CAPACITY
        self.clock = clock or SystemClock()
        self.transports = transports if transports is not None else default_transports()
        self.dispatcher = dispatcher if dispatcher is not None else default_dispatcher(self.worker_id)
        self.rand = rand
        self.held: dict[int, Held] = {}
        self.shutdown_requested = False
        self.last_run: dict[str, datetime] = {}
        self.db_errors = 0

    # --- scheduling helpers -------------------------------------------------------------------
    def _due(self, name: str, now: datetime, every_s: float) -> bool:
        last = self.last_run.get(name)
        # A wall clock stepped back (NTP) must not stall heartbeats and stops until it catches up.
        if last is not None and 0 <= (now - last).total_seconds() < every_s:
            return False
        self.last_run[name] = now
        return True

    def _guard(self, held: Held, now: datetime, what: str, fn: Callable[[], Any]) -> None:
        """Run one instance's work; its exception is its own failure, never the loop's."""
        try:
            fn()
        except DatabaseError:
            raise
        except TransportError as exc:
            # A transport refusing outright (unknown transport, unusable session store): no
            # retry can mend it, so the breaker is forced open until a person looks.
            logger.warning("instance %s: %s failed: %s", held.instance_id, what, exc)
            self._after_failure(
                held, FailureEvent.Kind.TRANSPORT_ERROR, f"{what}: {exc}", now, force=not exc.retryable
            )
        except Exception as exc:
            logger.exception("instance %s: %s failed", held.instance_id, what)
            self._after_failure(
                held, FailureEvent.Kind.TRANSPORT_ERROR, f"{what}: {type(exc).__name__}: {exc}", now
            )

    # --- registration and leases --------------------------------------------------------------
    def register(self, now: datetime) -> None:
        WorkerProcess.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "capacity": self.capacity,
                "started_at": now,
                "heartbeat_at": now,
                "stopped_at": None,
            },
        )

    def step_heartbeat(self, now: datetime) -> bool:
        """Beat, renew leases, and drop instances we lost or that were deleted."""
        if not self._due("heartbeat", now, settings.WAZIPER_LEASE_TTL / 3):
            return False
        WorkerProcess.objects.filter(worker_id=self.worker_id).update(
            heartbeat_at=now, instances_held=len(self.held), stopped_at=None
        )
        SESSIONS.clear()
        for held in self.held.values():
            SESSIONS.labels(status=held.status).inc()
        kept, deleted = leases.renew(self.worker_id, self.held, now, settings.WAZIPER_LEASE_TTL)
        for pk in list(self.held):
            if pk not in kept:
                held = self.held.pop(pk)
                logger.warning(
                    "instance %s: %s", held.instance_id, "deleted" if pk in deleted else "lease lost"
                )
                self._close_session(held, now, lost=True)
                if pk in deleted:
                    self._remove_session_store(held)
        return False

    def step_acquire(self, now: datetime) -> bool:
        if not self._due("acquire", now, self.FAST_STEP_S):
            return False
        won = leases.acquire(
            self.worker_id, now, settings.WAZIPER_LEASE_TTL, self.capacity - len(self.held), self.held
        )
        for instance in won:
            held = Held(
                pk=instance.pk,
                instance_id=instance.instance_id,
                transport=instance.transport,
                status=instance.status,
                attempts=instance.retry_attempts,
                # A restart keeps the backoff it was in: the breaker decides, not the restart.
                # An open breaker's wait is asked of the breaker again at once: it may have
                # been reset while no worker held the instance (nobody to nudge).
                next_attempt_at=None if instance.status == Status.BREAKER_OPEN else instance.next_attempt_at,
            )
            self.held[instance.pk] = held
            logger.info("instance %s: leased by %s", instance.instance_id, self.worker_id)
            if held.status not in (Status.DISCONNECTED, Status.BREAKER_OPEN):
                self._set_status(held, now, Status.STARTING, "worker picked it up")
        return bool(won)

    def step_desired(self, now: datetime) -> bool:
        """Stop sessions whose instance was stopped (API, admin, QR timeout, logout)."""
        if not self._due("desired", now, self.FAST_STEP_S):
            return False
        stopped = leases.stopped_among(self.worker_id) & set(self.held)
        for pk in stopped:
            held = self.held[pk]
            self._close_session(held, now, disconnect=True)
            if held.status not in (Status.QR_EXPIRED, Status.LOGGED_OUT):
                self._set_status(held, now, Status.STOPPED, "stopped on request", next_attempt_at=None)
            leases.release(self.worker_id, [pk])
            # Forgotten only once the row says so: after a database error the next tick (which
            # runs this step before any connect) finishes the stop instead of leaving it half done.
            del self.held[pk]
        return bool(stopped)

    # --- connecting ---------------------------------------------------------------------------
    def step_connect(self, now: datetime) -> bool:
        """Ask the breaker before every connect; dial what it allows."""
        started = False
        for held in list(self.held.values()):
            if held.phase not in (Phase.IDLE, Phase.WAITING, Phase.REFUSED):
                continue
            if held.next_attempt_at is not None and held.next_attempt_at > now:
                continue
            if held.phase is Phase.REFUSED and held.next_attempt_at is None:
                # Forced open: only a reset (which sends a `reconnect` command) wakes it.
                continue
            self._guard(held, now, "connect", lambda h=held: self._try_connect(h, now))
            started = started or held.phase is Phase.CONNECTING
        return started

    def _try_connect(self, held: Held, now: datetime) -> None:
        decision = breaker_service.allow_connect(held.pk, now=now, worker_id=self.worker_id)
        if decision.verdict is Verdict.REFUSE:
            held.phase = Phase.REFUSED
            held.next_attempt_at = (
                now + timedelta(seconds=decision.retry_after_s)
                if decision.retry_after_s is not None
                else None
            )
            self._set_status(
                held, now, Status.BREAKER_OPEN, decision.reason, next_attempt_at=held.next_attempt_at
            )
            return
        row = Instance.objects.filter(pk=held.pk).values("proxy_url", "sandbox", "transport").first()
        if row is None:
            return  # deleted between steps; the heartbeat drops it
        transport = self.transports.get(row["transport"])
        if transport is None:
            raise TransportError(
                f"transport {row['transport']!r} is not available in this worker", retryable=False
            )
        spec = SessionSpec(
            instance_pk=held.pk,
            instance_id=held.instance_id,
            proxy_url=row["proxy_url"],
            session_dir=os.path.join(settings.WAZIPER_SESSIONS_DIR, held.instance_id),
            sandbox=row["sandbox"] or {},
        )
        held.transport = row["transport"]
        held.session = transport.open_session(spec)
        held.phase = Phase.CONNECTING
        held.probe = decision.verdict is Verdict.PROBE
        held.connect_deadline = now + timedelta(seconds=settings.WAZIPER_CONNECT_TIMEOUT)
        held.next_attempt_at = None
        CONNECT_ATTEMPTS.labels(transport=held.transport).inc()
        self._set_status(
            held,
            now,
            Status.CONNECTING,
            "probing (breaker half-open)" if held.probe else "",
            next_attempt_at=None,
        )
        held.session.connect(now)

    def step_timeouts(self, now: datetime) -> bool:
        """A connect that outlives WAZIPER_CONNECT_TIMEOUT is ended and counted."""
        found = False
        for held in list(self.held.values()):
            if held.phase is Phase.CONNECTING and held.connect_deadline and now >= held.connect_deadline:
                found = True
                limit = settings.WAZIPER_CONNECT_TIMEOUT
                self._after_failure(
                    held,
                    FailureEvent.Kind.CONNECT_TIMEOUT,
                    f"no answer within {limit:g}s; connection cancelled",
                    now,
                )
            elif held.phase is Phase.CONNECTED and held.pong_deadline and now >= held.pong_deadline:
                found = True
                self._after_failure(held, FailureEvent.Kind.LIVE_CHECK, "live check: no answer", now)
        return found

    # --- events, commands, sending ------------------------------------------------------------
    def step_events(self, now: datetime) -> bool:
        by_transport: dict[str, list[Session]] = {}
        for held in self.held.values():
            if held.session is not None:
                by_transport.setdefault(held.transport, []).append(held.session)
        for name, sessions in by_transport.items():
            self.transports[name].poll(sessions, now)
        found = False
        for held in list(self.held.values()):
            session = held.session
            if session is None:
                continue
            events: list[TransportEvent] = []
            # Reading a session is that instance's business too: its exception is its failure.
            self._guard(held, now, "poll", lambda s=session, out=events: out.extend(s.poll(now)))
            found = self._handle_events(held, session, events, now) or found
        return found

    def step_commands(self, now: datetime) -> bool:
        if not self.held:
            return False
        pending = list(
            InstanceCommand.objects.filter(
                finished_at__isnull=True, taken_at__isnull=True, instance_id__in=self.held
            )
        )
        for command in pending:
            taken = InstanceCommand.objects.filter(pk=command.pk, taken_at__isnull=True).update(
                taken_by=self.worker_id, taken_at=now
            )
            held = self.held.get(command.instance_id)
            if taken and held is not None:
                self._guard(
                    held,
                    now,
                    f"command {command.kind}",
                    lambda h=held, c=command: self.handle_command(h, c, now),
                )
        return bool(pending)

    def step_dispatch(self, now: datetime) -> bool:
        connected = {pk: h.session for pk, h in self.held.items() if h.phase is Phase.CONNECTED and h.session}
        self.dispatcher.check_timeouts(now)
        return self.dispatcher.step(connected, now) if connected else False

    def step_live_check(self, now: datetime) -> bool:
        if not self._due("live_check", now, settings.WAZIPER_LIVE_CHECK_INTERVAL):
            return False
        for held in self.held.values():
            if held.phase is Phase.CONNECTED and held.session is not None and held.pong_deadline is None:
                held.pong_deadline = now + timedelta(seconds=self.PONG_TIMEOUT_S)
                self._guard(held, now, "live check", lambda h=held: h.session.check_alive(now))
        return False

    def step_cleanup(self, now: datetime) -> bool:
        if not self._due("cleanup", now, settings.WAZIPER_CLEANUP_INTERVAL):
            return False
        run_cleanup(self.worker_id, now)
        return False

    # --- the loop -----------------------------------------------------------------------------
    STEPS = (
        "step_replay",
        "step_heartbeat",
        "step_desired",
        "step_acquire",
        "step_commands",
        "step_connect",
        "step_events",
        "step_timeouts",
        "step_dispatch",
        "step_live_check",
        "step_cleanup",
    )

    def run_once(self, now: datetime) -> bool:
        busy = False
        for name in self.STEPS:
            busy = getattr(self, name)(now) or busy
        return busy

    def run(self) -> None:
        self.register(self.clock.now())
        logger.info("worker %s started (capacity %d)", self.worker_id, self.capacity)
        while not self.shutdown_requested:
            try:
                busy = self.run_once(self.clock.now())
                self.db_errors = 0
            except Exception as exc:
                # Locked or unreachable database (or a bug outside any instance's guard): back
                # off and retry; sessions stay as they are, the process lives on.
                self.db_errors += 1
                delay = min(5.0, 0.1 * 2**self.db_errors)
                if isinstance(exc, DatabaseError):
                    logger.warning("database error (%s); retrying in %.1fs", exc, delay)
                else:
                    logger.exception("worker step failed; retrying in %.1fs", delay)
                close_old_connections()
                time.sleep(delay)
                continue
            if not busy:
                time.sleep(self.IDLE_SLEEP_S)
        try:
            self.drain()
        except DatabaseError:
            logger.exception("database error while draining in-flight sends")
        self.shutdown(self.clock.now())

    DRAIN_S = 5.0

    def drain(self) -> None:
        """Let sends already handed to a session finish (no new claims) for up to DRAIN_S, so a
        routine stop does not turn them into `uncertain`."""
        deadline = time.monotonic() + self.DRAIN_S
        while self.dispatcher.busy and time.monotonic() < deadline:
            if not self.step_events(self.clock.now()):
                time.sleep(self.IDLE_SLEEP_S)

    def shutdown(self, now: datetime) -> None:
        """Finish cleanly: in-flight sends accounted for, sessions closed, leases released."""
        logger.info("worker %s stopping: releasing %d instances", self.worker_id, len(self.held))
        try:
            self.dispatcher.shutdown(now)
        except Exception:
            logger.exception("dispatcher shutdown failed")
        for held in list(self.held.values()):
            self._close_session(held, now, disconnect=True)
            if held.status not in (Status.QR_EXPIRED, Status.LOGGED_OUT, Status.BREAKER_OPEN):
                self._set_status(
                    held, now, Status.DISCONNECTED, "worker stopped; another worker will take over"
                )
        leases.release(self.worker_id, list(self.held))
        self.held.clear()
        for transport in self.transports.values():
            transport.close()
        WorkerProcess.objects.filter(worker_id=self.worker_id).update(stopped_at=now, instances_held=0)
