"""The worker loop: leases instances, schedules the work of each, and keeps one instance's
trouble from becoming everyone's.

Shaped like healthchecks' `sendalerts`: each step is a method that takes `now` and returns True
if it found work; `run()` loops them, sleeping briefly when none did; SIGTERM only sets a flag.
Tests call the steps directly with a fake clock (tests/support/worker.py).

What happens to one instance is its `InstanceLifecycle`'s business (worker/lifecycle.py); the
loop calls it under `_guard`, so one instance's exception is recorded as its failure and never
stops the others. An instance found deleted, whichever step finds out, is dropped on the spot
(`_dropped_if_gone`). Any other database error makes the loop back off and try again.

The heartbeat means progress: it is written only after a whole tick got through without an
error, so a loop that fails every tick, or hangs inside one, stops beating; /health reports it
and `serve` restarts the process (worker/supervisor.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from breaker.models import FailureEvent
from instances import commands, leases, worker_registry
from instances.actual_state import InstanceGone
from instances.models import Instance
from kernel.clock import Clock, Periodic, SystemClock
from kernel.metrics import SESSIONS
from kernel.step_failure import pause_after_failed_step
from worker.cleanup import run_cleanup
from worker.lifecycle import InstanceLifecycle
from worker.parts import Dispatcher, default_dispatcher, default_transports, new_worker_id
from worker.transports.base import Session, Transport, TransportError, TransportEvent

logger = logging.getLogger("waziper.worker")
Status = Instance.Status


class Worker:
    IDLE_SLEEP_S = 0.05
    # While idle, how often to look for a new command: a web request is waiting for its answer.
    COMMAND_LOOK_S = 0.01
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
        # The instances this worker holds a lease on, by primary key.
        self.leased: dict[int, InstanceLifecycle] = {}
        self.shutdown_requested = False
        self.periodic = Periodic()
        self.db_errors = 0
        # The newest command id when commands were last taken (see idle).
        self.newest_command = 0
        self._last_command_scan: tuple[int, frozenset[int]] | None = None
        # Real time between ticks (tests pass a fake pair).
        self.sleep: Callable[[float], None] = time.sleep
        self.monotonic: Callable[[], float] = time.monotonic

    # --- scheduling and guarding --------------------------------------------------------------
    def beat_every_s(self) -> float:
        # Often enough that a healthy worker never looks stalled, rarely enough to cost nothing.
        return min(settings.WAZIPER_LEASE_TTL / 3, settings.WAZIPER_WORKER_STALL_S / 4)

    def _guard(self, lifecycle: InstanceLifecycle, now: datetime, what: str, fn: Callable[[], Any]) -> Any:
        """Run one instance's work; its exception is its own failure, never the loop's.
        Returns what `fn` returned, or None if it failed."""
        # The same as `with self._dropped_if_gone(…)`, written out: this runs for every held
        # instance several times a tick, and a context manager's generator costs more than fn.
        try:
            try:
                return fn()
            except (DatabaseError, InstanceGone):
                raise
            except TransportError as exc:
                # A transport refusing outright (unknown transport, unusable session store): no
                # retry can mend it, so the breaker is forced open until a person looks.
                logger.warning("instance %s: %s failed: %s", lifecycle.instance_id, what, exc)
                lifecycle.after_failure(
                    FailureEvent.Kind.TRANSPORT_ERROR, f"{what}: {exc}", now, force=not exc.retryable
                )
            except Exception as exc:
                logger.exception("instance %s: %s failed", lifecycle.instance_id, what)
                lifecycle.after_failure(
                    FailureEvent.Kind.TRANSPORT_ERROR, f"{what}: {type(exc).__name__}: {exc}", now
                )
        except InstanceGone:
            self._drop_gone(lifecycle, now)
        except DatabaseError:
            if not self._is_gone(lifecycle.pk):
                raise
            self._drop_gone(lifecycle, now)
        return None

    @contextmanager
    def _dropped_if_gone(self, lifecycle: InstanceLifecycle, now: datetime) -> Iterator[None]:
        """Work on one instance that may find it deleted: a write found no row (InstanceGone),
        or broke the foreign key at commit (a DatabaseError while the row is gone). Then the
        instance is dropped here, whatever step found out; any other error is the caller's."""
        try:
            yield
        except InstanceGone:
            self._drop_gone(lifecycle, now)
        except DatabaseError:
            if not self._is_gone(lifecycle.pk):
                raise
            self._drop_gone(lifecycle, now)

    @staticmethod
    def _is_gone(instance_pk: int) -> bool:
        try:
            return not Instance.objects.filter(pk=instance_pk).exists()
        except DatabaseError:
            return False  # the database itself is failing: not something dropping would mend

    def _drop_gone(self, lifecycle: InstanceLifecycle, now: datetime) -> None:
        """A deleted instance: forget it, close its session and remove its session store."""
        self.leased.pop(lifecycle.pk, None)
        logger.warning("instance %s: deleted; session closed", lifecycle.instance_id)
        try:
            lifecycle.close_session(now)
        finally:
            lifecycle.remove_session_store()

    def _handle_events(
        self,
        lifecycle: InstanceLifecycle,
        session: Session | None,
        events: list[TransportEvent],
        now: datetime,
    ) -> bool:
        for index, event in enumerate(events):
            if index and lifecycle.session is not session:
                break  # an earlier event ended this session; the rest belong to a dead one
            try:
                self._guard(lifecycle, now, f"event {event.kind}", partial(lifecycle.react, event, now))
            except DatabaseError:
                lifecycle.keep_unhandled(events[index:], session)
                raise
        return bool(events)

    # --- registration and leases --------------------------------------------------------------
    def register(self, now: datetime) -> None:
        worker_registry.register(self.worker_id, self.capacity, now)

    def step_replay(self, now: datetime) -> bool:
        """Events a database error interrupted last tick, before anything else can act on them."""
        found = False
        for lifecycle in list(self.leased.values()):
            if lifecycle.unhandled:
                events, session = lifecycle.take_unhandled()
                found = self._handle_events(lifecycle, session, events, now) or found
        return found

    def step_heartbeat(self, now: datetime) -> bool:
        """Renew leases, and drop instances we lost or that were deleted. (The worker's own
        heartbeat is written at the end of a completed tick: see run_once.)"""
        if not self.periodic.due("heartbeat", now, settings.WAZIPER_LEASE_TTL / 3):
            return False
        SESSIONS.clear()
        for lifecycle in self.leased.values():
            SESSIONS.labels(status=lifecycle.status).inc()
        kept, deleted = leases.renew(self.worker_id, self.leased, now, settings.WAZIPER_LEASE_TTL)
        for pk in list(self.leased):
            if pk in deleted:
                self._drop_gone(self.leased[pk], now)
            elif pk not in kept:
                lifecycle = self.leased.pop(pk)
                logger.warning("instance %s: lease lost", lifecycle.instance_id)
                lifecycle.close_session(now)
        return False

    def step_acquire(self, now: datetime) -> bool:
        if not self.periodic.due("acquire", now, self.FAST_STEP_S):
            return False
        won = leases.acquire(
            self.worker_id, now, settings.WAZIPER_LEASE_TTL, self.capacity - len(self.leased), self.leased
        )
        for instance in won:
            lifecycle = InstanceLifecycle.leased(instance, sender=self.dispatcher, rand=self.rand)
            self.leased[instance.pk] = lifecycle
            logger.info("instance %s: leased by %s", instance.instance_id, self.worker_id)
            if lifecycle.status not in (Status.DISCONNECTED, Status.BREAKER_OPEN):
                with self._dropped_if_gone(lifecycle, now):
                    lifecycle.set_status(now, Status.STARTING, "worker picked it up")
        return bool(won)

    def step_desired(self, now: datetime) -> bool:
        """Stop sessions whose instance was stopped (API, admin, QR timeout, logout)."""
        if not self.periodic.due("desired", now, self.FAST_STEP_S):
            return False
        stopped = leases.stopped_among(self.worker_id) & set(self.leased)
        for pk in stopped:
            lifecycle = self.leased[pk]
            with self._dropped_if_gone(lifecycle, now):
                lifecycle.close_session(now, disconnect=True)
                if lifecycle.status not in (Status.QR_EXPIRED, Status.LOGGED_OUT):
                    lifecycle.set_status(now, Status.STOPPED, "stopped on request", next_attempt_at=None)
                leases.release(self.worker_id, [pk])
                # Forgotten only once the row says so: after a database error the next tick (which
                # runs this step before any connect) finishes the stop instead of leaving it half done.
                del self.leased[pk]
        return bool(stopped)

    # --- sessions -----------------------------------------------------------------------------
    def step_connect(self, now: datetime) -> bool:
        """Ask the breaker before every connect; dial what it allows."""
        started = False
        for lifecycle in list(self.leased.values()):
            if not lifecycle.due_to_connect(now):
                continue
            self._guard(
                lifecycle,
                now,
                "connect",
                partial(lifecycle.connect, now, transports=self.transports, worker_id=self.worker_id),
            )
            started = started or lifecycle.session is not None
        return started

    def step_timeouts(self, now: datetime) -> bool:
        """A connect that outlives WAZIPER_CONNECT_TIMEOUT is ended and counted, as is a live
        check nobody answered."""
        found = False
        # Only the overdue ones are guarded: a guard per held instance per tick adds up.
        for lifecycle in [lc for lc in self.leased.values() if lc.deadline_passed(now)]:
            found = (
                bool(self._guard(lifecycle, now, "deadline", partial(lifecycle.check_deadlines, now)))
                or found
            )
        return found

    def step_events(self, now: datetime) -> bool:
        by_transport: dict[str, list[Session]] = {}
        for lifecycle in self.leased.values():
            if lifecycle.session is not None:
                by_transport.setdefault(lifecycle.transport, []).append(lifecycle.session)
        for name, transport in self.transports.items():
            # Sessions or not: a transport may look after processes of its own (idle hosts).
            transport.poll(by_transport.get(name, []), now)
        found = False
        for lifecycle in list(self.leased.values()):
            session = lifecycle.session
            if session is None:
                continue
            # Reading a session is that instance's business too: its exception is its failure.
            events: list[TransportEvent] | None = self._guard(
                lifecycle, now, "poll", partial(session.poll, now)
            )
            if events:
                found = self._handle_events(lifecycle, session, events, now) or found
        return found

    def step_commands(self, now: datetime) -> bool:
        if not self.leased:
            return False
        self.newest_command = commands.newest_id()
        # Nothing new since the last look, for the same instances: the IN list of a thousand
        # held instances costs more to build than the look for the newest id. Still a full look
        # every FAST_STEP_S: on PostgreSQL a command may commit after one with a higher id.
        scan = (self.newest_command, frozenset(self.leased))
        if scan == self._last_command_scan and not self.periodic.due("commands", now, self.FAST_STEP_S):
            return False
        pending = commands.pending_for(self.leased)
        if not pending:
            self._last_command_scan = scan
        for command in pending:
            taken = commands.take(command, self.worker_id, now)
            lifecycle = self.leased.get(command.instance_id)
            if taken and lifecycle is not None:
                self._guard(
                    lifecycle,
                    now,
                    f"command {command.kind}",
                    partial(lifecycle.handle_command, command, now),
                )
        return bool(pending)

    def step_dispatch(self, now: datetime) -> bool:
        connected: dict[int, Session] = {
            pk: lc.session for pk, lc in self.leased.items() if lc.is_connected and lc.session is not None
        }
        self.dispatcher.check_timeouts(now)
        return self.dispatcher.step(connected, now) if connected else False

    def step_live_check(self, now: datetime) -> bool:
        if not self.periodic.due("live_check", now, settings.WAZIPER_LIVE_CHECK_INTERVAL):
            return False
        for lifecycle in self.leased.values():
            self._guard(
                lifecycle,
                now,
                "live check",
                partial(lifecycle.start_live_check, now, self.PONG_TIMEOUT_S),
            )
        return False

    def step_cleanup(self, now: datetime) -> bool:
        if not self.periodic.due("cleanup", now, settings.WAZIPER_CLEANUP_INTERVAL):
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
        # Only a tick that got this far beats: the heartbeat is the worker's proof of progress.
        if self.periodic.due("beat", now, self.beat_every_s()):
            worker_registry.beat(self.worker_id, len(self.leased), now)
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
                pause_after_failed_step(exc, self.db_errors, "worker step", logger)
                continue
            if not busy:
                self.idle()
        try:
            self.drain()
        except DatabaseError:
            logger.exception("database error while draining in-flight sends")
        self.shutdown(self.clock.now())

    def idle(self) -> None:
        """Pause IDLE_SLEEP_S between ticks that found nothing to do; a command written meanwhile
        ends the pause within COMMAND_LOOK_S (one look at the newest command id costs far less
        than a tick), so a request waiting for the live session is not kept waiting a whole
        pause (docs/performance.md, "Asking a live session")."""
        deadline = self.monotonic() + self.IDLE_SLEEP_S
        while (left := deadline - self.monotonic()) > 0:
            self.sleep(min(self.COMMAND_LOOK_S, left))
            if not self.leased:
                continue
            try:
                if commands.newest_id() != self.newest_command:
                    return
            except DatabaseError:
                return  # the next tick meets the same error, and backs off

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
        logger.info("worker %s stopping: releasing %d instances", self.worker_id, len(self.leased))
        try:
            self.dispatcher.shutdown(now)
        except Exception:
            logger.exception("dispatcher shutdown failed")
        for lifecycle in list(self.leased.values()):
            with self._dropped_if_gone(lifecycle, now):
                lifecycle.close_session(now, disconnect=True)
                if lifecycle.status not in (Status.QR_EXPIRED, Status.LOGGED_OUT, Status.BREAKER_OPEN):
                    lifecycle.set_status(
                        now, Status.DISCONNECTED, "worker stopped; another worker will take over"
                    )
        leases.release(self.worker_id, list(self.leased))
        self.leased.clear()
        for transport in self.transports.values():
            transport.close()
        worker_registry.mark_stopped(self.worker_id, now)
