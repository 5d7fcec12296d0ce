"""The deliverer: a process of its own (`manage.py deliver_webhooks`, supervised by `serve`) that
posts due deliveries and records what came of them.

One thread (the loop) does all database work: claims, outcomes, lease renewals, heartbeats.
A pool of threads does the HTTP, through one pooled client. Deliveries are grouped in lanes, one
per endpoint: at most WAZIPER_WEBHOOK_PER_ENDPOINT of an endpoint's deliveries are posted at a
time, each lane claims a few more than it posts (so the next POST does not wait for a database
round trip), and every pass offers each endpoint with something due a turn, starting from a
rotating place. So a slow or dead receiver holds its own lane's threads and nothing else: the
others' deliveries go on. An endpoint whose breaker is open is not claimed for at all until its
cooldown ends; then exactly one delivery probes it.

Shaped like the worker (worker/loop.py): `step(now)` does one pass and says whether it found
work; tests call it with a fake clock. SIGTERM sets a flag: the posts in flight finish (up to a
grace), the deliveries claimed but not posted are given back, and the process exits.
Killed outright, it leaves its deliveries leased; they are due again when the leases lapse (or
at once, when `serve` starts its successor under the same name).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.db import DatabaseError

from breaker.policy import Verdict
from kernel import pg_listen
from kernel.clock import Clock, Periodic, SystemClock
from kernel.metrics import WEBHOOK_ATTEMPTS
from kernel.step_failure import pause_after_failed_step
from webhooks import deliveries, policy, registry, signing, transport
from webhooks.deliveries import Attempt, Job
from webhooks.fanout import NOTIFY_CHANNEL

logger = logging.getLogger("waziper.webhooks")

# A lane claims this many deliveries per POST it may run at once (the rest wait in memory,
# leased and renewed, for the lane's next free thread), and claims again once half are gone:
# the database is asked in batches, not once per delivery.
PREFETCH = 32
# The loop is woken to record outcomes once this many wait (else at its next poll).
RECORD_BATCH = 32
# The start of a receiver's answer that is read (and kept, bounded, for the delivery log); a
# longer answer is cut off and its connection closed rather than read to the end.
READ_LIMIT = 64 * 1024
HOUSEKEEPING_S = 600.0


def new_deliverer_id() -> str:
    return f"{socket.gethostname()[:40]}-deliver{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Lane:
    endpoint_pk: int
    waiting: deque[Job] = field(default_factory=deque)
    running: int = 0
    # A POST failed: the lane's threads take no further job until the loop has recorded the
    # failure and asked the endpoint's breaker (a dead receiver must not get the whole batch).
    paused: bool = False

    @property
    def held(self) -> int:
        return len(self.waiting) + self.running


def post(client: httpx.Client, job: Job, timeout_s: float) -> Attempt:
    """One POST of `job`, signed now; whatever happens comes back as an Attempt (never raises)."""
    if job.body is None:
        return Attempt(job.pk, job.endpoint_pk, job.attempts, None, deliveries.EVENT_GONE, unsendable=True)
    # Real time, whatever clock the loop runs on: receivers check the timestamp against theirs.
    moment = datetime.now(UTC)
    headers = signing.headers(job.secrets, job.webhook_id, moment, job.body)
    deadline = time.monotonic() + timeout_s
    WEBHOOK_ATTEMPTS.inc()
    try:
        with client.stream("POST", job.url, content=job.body.encode(), headers=headers) as response:
            head = bytearray()
            for chunk in response.iter_raw():
                head += chunk
                if len(head) >= READ_LIMIT or time.monotonic() > deadline:
                    break
            return Attempt(
                job.pk,
                job.endpoint_pk,
                job.attempts,
                response.status_code,
                excerpt=policy.excerpt(bytes(head)),
                retry_after_s=policy.parse_retry_after(response.headers.get("retry-after"), moment),
            )
    except httpx.TimeoutException as exc:
        error = f"timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        cause = exc.__cause__
        if isinstance(cause, transport.BlockedWebhookAddress):
            error = f"refused by the SSRF guard: {cause}"
        else:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a URL httpx cannot use, a bug: the delivery's failure, not the loop's
        logger.exception("webhook delivery %s: POST failed", job.pk)
        error = f"{type(exc).__name__}: {exc}"
    return Attempt(job.pk, job.endpoint_pk, job.attempts, None, error[:500])


class Deliverer:
    def __init__(
        self,
        deliverer_id: str | None = None,
        *,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
        client: httpx.Client | None = None,
        concurrency: int | None = None,
        per_endpoint: int | None = None,
    ) -> None:
        self.deliverer_id = deliverer_id or new_deliverer_id()
        self.clock = clock or SystemClock()
        self.rand = rand
        self.concurrency = concurrency or settings.WAZIPER_WEBHOOK_CONCURRENCY
        self.per_endpoint = per_endpoint or settings.WAZIPER_WEBHOOK_PER_ENDPOINT
        self.lease_s = float(settings.WAZIPER_WEBHOOK_LEASE_TTL)
        self.timeout_s = float(settings.WAZIPER_WEBHOOK_TIMEOUT)
        self.client = client or transport.client(
            allow_private=settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS,
            connect_timeout=settings.WAZIPER_WEBHOOK_CONNECT_TIMEOUT,
            timeout=settings.WAZIPER_WEBHOOK_TIMEOUT,
            max_connections=self.concurrency,
        )
        self.shutdown_requested = False
        self.started = False
        self.poll_s = settings.WAZIPER_WEBHOOK_POLL_MS / 1000
        self._discovered_at = float("-inf")
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._lanes: dict[int, _Lane] = {}
        self._running = 0  # threads posting, all lanes together
        self._results: deque[Attempt] = deque()
        self._in_flight: set[int] = set()  # being posted right now
        self._wake = threading.Event()
        self._closing = False  # lanes take no new job (shutdown)
        self._turn = 0
        self.periodic = Periodic()
        self.db_errors = 0

    # --- the loop's steps ---------------------------------------------------------------------

    def step(self, now: datetime) -> bool:
        """One pass: record finished attempts, keep leases alive, claim and start due work.

        True if it started new work. Recording alone is not a reason to pass again at once: the
        lanes wake the loop when a batch of outcomes is ready or a lane needs refilling, so the
        database sees outcomes in batches instead of one transaction per POST.
        """
        self.step_record(now)
        self.step_renew(now)
        did = self.step_resume(now)
        self._start_waiting()
        did = self.step_claim(now) or did
        self.step_housekeeping(now)
        return did

    def step_record(self, now: datetime) -> bool:
        results = []
        while self._results:
            results.append(self._results.popleft())
        if not results:
            return False
        try:
            deliveries.record(results, self.deliverer_id, now, self.rand)
        except Exception:
            self._results.extendleft(reversed(results))  # recorded on the next pass instead
            raise
        return True

    def step_resume(self, now: datetime) -> bool:
        """Lanes a failure paused, once their outcomes are recorded: go on if the endpoint's
        breaker still allows it, else give their waiting deliveries back."""
        with self._lock:
            unrecorded = {result.endpoint_pk for result in self._results}
            paused = [
                lane
                for lane in self._lanes.values()
                if lane.paused and not lane.running and lane.endpoint_pk not in unrecorded
            ]
        if not paused:
            return False
        verdicts = deliveries.endpoint_verdicts([lane.endpoint_pk for lane in paused], now)
        for lane in paused:
            if verdicts.get(lane.endpoint_pk) is Verdict.ALLOW:
                with self._lock:
                    lane.paused = False
                self._start_lane(lane)
                continue
            with self._lock:
                unstarted = [job.pk for job in lane.waiting]
                lane.waiting.clear()
                self._lanes.pop(lane.endpoint_pk, None)
            deliveries.release_unstarted(self.deliverer_id, unstarted)
        return True

    def step_renew(self, now: datetime) -> None:
        if self.periodic.due("renew", now, self.lease_s / 3):
            deliveries.renew(self.deliverer_id, self.held(), now, self.lease_s)

    def step_claim(self, now: datetime) -> bool:
        """Claim due work while threads are free: refill the lanes that are half empty, and
        (when no lane holds anything, else once a poll interval) look for every endpoint with
        something due and offer each a turn."""
        if self._closing or self._running >= self.concurrency:
            return False
        with self._lock:
            active = any(lane.held for lane in self._lanes.values())
        if not active or time.monotonic() - self._discovered_at >= self.poll_s:
            return self._claim_due(now)
        return self._refill(now)

    def _claim_due(self, now: datetime) -> bool:
        self._discovered_at = time.monotonic()
        due = deliveries.due_endpoints(now)
        if not due:
            return False
        start = self._turn % len(due)
        self._turn += 1
        claimed = False
        for endpoint in due[start:] + due[:start]:
            if self._running >= self.concurrency:
                break
            lane = self._lanes.get(endpoint.pk) or _Lane(endpoint.pk)
            verdict = deliveries.may_deliver(endpoint, now)
            if verdict is Verdict.REFUSE:
                continue
            if verdict is Verdict.PROBE:
                if lane.held:
                    continue  # the lane's own deliveries will tell how the receiver is
                pks = deliveries.claim_probe(endpoint, self.deliverer_id, now, self.lease_s)
            else:
                room = self.lane_capacity - lane.held
                if room < self.lane_capacity // 2:
                    continue  # still half full: refill in one batch later
                pks = deliveries.claim(endpoint.pk, self.deliverer_id, room, now, self.lease_s)
            claimed = self._fill(lane, pks, now) or claimed
        return claimed

    def _refill(self, now: datetime) -> bool:
        """Between discoveries: claim the next batch for lanes that are half empty (a lane that
        is not paused has a breaker that allows it: its last outcomes were no failure)."""
        with self._lock:
            lanes = [
                lane
                for lane in self._lanes.values()
                if not lane.paused and self.lane_capacity - lane.held >= self.lane_capacity // 2
            ]
        claimed = False
        for lane in lanes:
            room = self.lane_capacity - lane.held
            pks = deliveries.claim(lane.endpoint_pk, self.deliverer_id, room, now, self.lease_s)
            claimed = self._fill(lane, pks, now) or claimed
        return claimed

    def _fill(self, lane: _Lane, pks: list[int], now: datetime) -> bool:
        if not pks:
            return False
        jobs = deliveries.load_jobs(pks, now)
        with self._lock:
            self._lanes[lane.endpoint_pk] = lane
            lane.waiting.extend(jobs)
        self._start_lane(lane)
        return True

    def step_housekeeping(self, now: datetime) -> None:
        if self.periodic.due("housekeeping", now, HOUSEKEEPING_S):
            pruned = deliveries.prune(now)
            if pruned:
                logger.info("webhooks: pruned %d finished deliveries", pruned)

    # --- lanes --------------------------------------------------------------------------------

    def _start_waiting(self) -> None:
        """Threads for lanes that wait with fewer running than they may (the pool was full when
        they were filled, or a thread has finished since)."""
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            self._start_lane(lane)

    def _start_lane(self, lane: _Lane) -> None:
        with self._lock:
            while (
                lane.waiting
                and not lane.paused
                and lane.running < self.per_endpoint
                and self._running < self.concurrency
            ):
                lane.running += 1
                self._running += 1
                self._pool.submit(self._run_lane, lane)

    @property
    def lane_capacity(self) -> int:
        return self.per_endpoint * PREFETCH

    def _run_lane(self, lane: _Lane) -> None:
        while True:
            with self._lock:
                if self._closing or lane.paused or not lane.waiting:
                    lane.running -= 1
                    self._running -= 1
                    if not lane.held and not lane.paused:
                        self._lanes.pop(lane.endpoint_pk, None)
                    self._wake.set()
                    return
                job = lane.waiting.popleft()
                self._in_flight.add(job.pk)
                if len(lane.waiting) == self.lane_capacity // 2:
                    self._wake.set()  # time to claim this lane's next batch
            result = post(self.client, job, self.timeout_s)
            with self._lock:
                self._results.append(result)
                self._in_flight.discard(job.pk)
                if (
                    not result.unsendable
                    and policy.verdict(result.status_code) is not policy.Verdict.DELIVERED
                ):
                    lane.paused = True
                if len(self._results) >= RECORD_BATCH:
                    self._wake.set()

    def held(self) -> list[int]:
        """The deliveries this deliverer holds a lease on: waiting, posting, or not yet recorded."""
        with self._lock:
            pks = [job.pk for lane in self._lanes.values() for job in lane.waiting]
            return pks + list(self._in_flight) + [result.pk for result in self._results]

    @property
    def busy(self) -> int:
        """Deliveries this deliverer holds (for tests and a graceful stop)."""
        with self._lock:
            return sum(lane.held for lane in self._lanes.values()) + len(self._results)

    # --- the process --------------------------------------------------------------------------

    def heartbeat_every_s(self) -> float:
        return min(self.lease_s / 3, settings.WAZIPER_WORKER_STALL_S / 4, 5.0)

    def start(self, now: datetime) -> None:
        """Register, and take back what a deliverer of this name left (before claiming anything)."""
        registry.register(self.deliverer_id, now)
        taken = deliveries.release_all_of(self.deliverer_id)
        if taken:
            logger.warning("webhooks: took back %d delivery(ies) a deliverer of this name left", taken)
        logger.info("webhook deliverer %s started", self.deliverer_id)
        self.started = True

    def run(self) -> None:
        listener = None
        if pg_listen.notify_supported():
            listener = pg_listen.Listener(NOTIFY_CHANNEL, lambda _payload: self._wake.set())
            listener.start()
        try:
            while not self.shutdown_requested:
                try:
                    now = self.clock.now()
                    if not self.started:
                        # Inside the guard: a database busy at start-up is waited out, not fatal.
                        self.start(now)
                    busy = self.step(now)
                    if self.periodic.due("heartbeat", now, self.heartbeat_every_s()):
                        registry.beat(self.deliverer_id, now)
                    self.db_errors = 0
                except Exception as exc:
                    self.db_errors += 1
                    pause_after_failed_step(exc, self.db_errors, "deliverer step", logger)
                    continue
                if not busy:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
        finally:
            if listener is not None:
                listener.stop()
            self.shutdown(self.clock.now())

    DRAIN_S = 10.0

    def drain(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`) for the posts in flight, recording their outcomes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                running = self._running
            self.step_record(self.clock.now())
            if not running:
                return
            self._wake.wait(0.05)
            self._wake.clear()

    def shutdown(self, now: datetime) -> None:
        """No new posts; those in flight finish; what was claimed but not posted goes back."""
        with self._lock:
            self._closing = True
        try:
            self.drain(self.DRAIN_S)
            with self._lock:
                unstarted = [job.pk for lane in self._lanes.values() for job in lane.waiting]
                for lane in self._lanes.values():
                    lane.waiting.clear()
            deliveries.release_unstarted(self.deliverer_id, unstarted)
            registry.mark_stopped(self.deliverer_id, self.clock.now())
        except DatabaseError:
            logger.exception("database error while stopping; leases lapse on their own")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
        logger.info("webhook deliverer %s stopped", self.deliverer_id)
