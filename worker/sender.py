"""The worker's message dispatcher: which connected instance sends what, and when.

The worker calls `step` every tick with the sessions that are connected and whose breaker is
closed, and forwards each session's send_result / receipt events. Row changes go through
`queueing.dispatch`; this class keeps only what one worker knows in memory: the one send in
flight per instance, media downloads in progress, and when each instance may send next.

Per instance at most one message is in flight, and consecutive hand-offs are spaced by a random
delay (the anti-ban rhythm). Downloads run in a small thread pool so a slow media server never
stalls the worker's loop; the session only ever gets a file that is already on disk.

The pool is shared by every tenant, so a download is handed to it only when a thread is free
and its instance's owner has fewer than WAZIPER_MEDIA_DOWNLOADS_PER_OWNER downloads running:
one tenant's slow media server can hold at most that many threads, and the others go on. A
claimed download that waits for a thread waits here, in memory, and its deadline starts when
it starts: time spent waiting is never a failed attempt.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils.dateparse import parse_datetime

from breaker.service import open_among
from instances.models import Instance
from queueing import dispatch, netguard, policy
from queueing.media import FetchedMedia, MediaError, fetch_media, is_webp
from queueing.models import QueuedMessage
from queueing.validation import TARGET_KINDS
from worker.transports.base import OutgoingMessage, Session

logger = logging.getLogger("waziper.dispatch")
Kind = QueuedMessage.Kind

DOWNLOAD_THREADS = 4
# Instance send spacing set in the admin reaches a running worker within this long.
PACING_REFRESH = timedelta(seconds=60)
# A download thread enforces its own deadline; this is the backstop for one stuck in DNS.
DOWNLOAD_GRACE = timedelta(seconds=10)
# How often a worker looks in the database for claims of its own that it no longer tracks.
FORGOTTEN_SWEEP = timedelta(seconds=60)
# After a send showed a dead socket the worker reconnects; until it has, sending more through
# the same session would only fail again.
DEAD_SOCKET_PAUSE = timedelta(seconds=5)


@dataclass
class _InFlight:
    claimed: dispatch.Claimed
    since: datetime
    media_path: str | None = None
    # The session shows "typing…" this long before it sends: the result comes that much later.
    typing_s: float = 0.0


@dataclass
class _Download:
    claimed: dispatch.Claimed
    owner_id: int
    claimed_at: datetime
    # Set once a pool thread runs it: its deadline counts from `since`, never from the claim.
    future: Future[FetchedMedia] | None = None
    since: datetime | None = None


@dataclass
class _Pace:
    spacing: policy.Spacing
    next_at: datetime
    loaded_at: datetime
    typing: tuple[float | None, float | None] = (None, None)


def _discard(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _discard_result(future: Future[FetchedMedia]) -> None:
    """Delete the file of a download nobody waits for any more (cancelled or timed out)."""
    if not future.cancelled() and future.exception() is None:
        _discard(getattr(future.result(), "path", None))


class Dispatcher:
    def __init__(
        self,
        worker_id: str,
        *,
        rand: Callable[[], float] = random.random,
        fetch: Callable[..., FetchedMedia] = fetch_media,
    ) -> None:
        self.worker_id = worker_id
        self._rand = rand
        self._fetch = fetch
        self._in_flight: dict[int, _InFlight] = {}
        self._downloads: dict[int, _Download] = {}
        # Every download a pool thread is running, with its owner, including those nobody waits
        # for any more (timed out, session lost): they hold their thread until they return.
        self._running: dict[Future[FetchedMedia], int] = {}
        self._owners: dict[int, int] = {}
        self._pace: dict[int, _Pace] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._media_dir: str | None = None
        self._swept_at: datetime | None = None

    # --- the worker's entry points -------------------------------------------------------------

    def step(self, connected: dict[int, Session], now: datetime) -> bool:
        """Hand due messages to idle connected sessions. Return True if it did any work.

        With nothing due this is at most one query (none if every instance is busy or spacing).
        """
        did = self._finish_downloads(connected, now)
        self._drop_disconnected_waiting(connected, now)
        self._start_waiting_downloads(now)
        idle = [pk for pk in connected if pk not in self._in_flight and pk not in self._downloads]
        self._load_pacing([pk for pk in idle if self._needs_pacing(pk, now)], now)
        ready = [pk for pk in idle if pk in self._pace and self._pace[pk].next_at <= now]
        due = dispatch.instances_with_due(ready, now)
        # The worker passes only closed-breaker sessions; a breaker tripped since (by the web
        # side, or a send that showed a dead socket) still stops us here. One query per step.
        for pk in sorted(due - open_among(due)):
            claimed = dispatch.claim_next(pk, self.worker_id, now)
            if claimed is None:
                continue
            did = True
            if claimed.handed_off:
                self._send(connected[pk], claimed, now)
            else:
                self._queue_download(claimed, now)
        self._start_waiting_downloads(now)
        return did

    def on_send_result(self, instance_pk: int, data: dict[str, Any], now: datetime) -> bool:
        """Apply a send_result event. Return True if it shows the socket is dead."""
        ref = data.get("ref")
        flight = self._in_flight.get(instance_pk)
        if flight is not None and flight.claimed.ref == ref:
            del self._in_flight[instance_pk]
            _discard(flight.media_path)
        else:
            flight = None
        dead = bool(data.get("dead_socket"))
        if dead and instance_pk in self._pace:
            pace = self._pace[instance_pk]
            pace.next_at = max(pace.next_at, now + DEAD_SOCKET_PAUSE)
        if data.get("ok"):
            dispatch.record_sent(instance_pk, ref, str(data.get("message_id") or ""), now)
        elif data.get("uncertain"):
            # It may have reached WhatsApp (no ack came): neither failed nor retried, but
            # `uncertain` for a person to judge. A send that timed out here already is.
            if flight is not None:
                error = str(data.get("error") or "send outcome unknown")
                dispatch.mark_uncertain(flight.claimed.pk, self.worker_id, now, error)
        else:
            dispatch.record_failure(
                instance_pk,
                ref,
                self.worker_id,
                error=str(data.get("error") or "send failed"),
                retryable=bool(data.get("retryable", True)),
                dead_socket=dead,
                now=now,
                rand=self._rand,
            )
        return dead

    def on_receipt(self, instance_pk: int, data: dict[str, Any], now: datetime) -> None:
        at = data.get("at")
        when = at if isinstance(at, datetime) else (parse_datetime(at) if isinstance(at, str) else None)
        ids = data.get("message_ids") or []
        if isinstance(ids, str):
            ids = [ids]
        dispatch.apply_receipt(instance_pk, ids, str(data.get("kind") or ""), when or now, now)

    def on_session_lost(self, instance_pk: int, now: datetime) -> None:
        """The session died: its send in flight is uncertain; a claim still downloading goes back."""
        flight = self._in_flight.pop(instance_pk, None)
        if flight is not None:
            dispatch.mark_uncertain(flight.claimed.pk, self.worker_id, now, "session lost while sending")
            _discard(flight.media_path)
        self._abandon_download(instance_pk, now, "session lost before the media was sent")

    def check_timeouts(self, now: datetime) -> None:
        """Sends without a result for WAZIPER_SEND_TIMEOUT become uncertain; stuck downloads fail;
        once a minute, claims of ours we lost track of are settled too."""
        limit = timedelta(seconds=settings.WAZIPER_SEND_TIMEOUT)
        for pk, flight in list(self._in_flight.items()):
            if now - flight.since >= limit + timedelta(seconds=flight.typing_s):
                del self._in_flight[pk]
                reason = f"no send result within {settings.WAZIPER_SEND_TIMEOUT:g}s"
                dispatch.mark_uncertain(flight.claimed.pk, self.worker_id, now, reason)
                _discard(flight.media_path)
        media_limit = timedelta(seconds=settings.WAZIPER_MEDIA_TIMEOUT) + DOWNLOAD_GRACE
        for pk, download in list(self._downloads.items()):
            if download.future is None or download.since is None:
                continue  # still waiting for a thread: not an attempt yet
            if not download.future.done() and now - download.since >= media_limit:
                del self._downloads[pk]
                download.future.add_done_callback(_discard_result)
                self._download_failed(download.claimed, "media download timed out", False, now)
        if self._swept_at is None or now - self._swept_at >= FORGOTTEN_SWEEP:
            self._swept_at = now
            tracked = [f.claimed.pk for f in self._in_flight.values()]
            tracked += [d.claimed.pk for d in self._downloads.values()]
            dispatch.resolve_forgotten(self.worker_id, tracked, now - limit, now)

    def shutdown(self, now: datetime) -> None:
        """Graceful stop: claims not yet handed off go back to the queue, sends in flight become
        uncertain (their result will never be read)."""
        for pk in list(self._downloads):
            self._abandon_download(pk, now, "worker stopping")
        for pk, flight in list(self._in_flight.items()):
            del self._in_flight[pk]
            dispatch.mark_uncertain(flight.claimed.pk, self.worker_id, now, "worker stopped while sending")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._running.clear()
        if self._media_dir is not None:
            shutil.rmtree(self._media_dir, ignore_errors=True)
            self._media_dir = None

    @property
    def busy(self) -> int:
        """Messages this worker holds (in flight or downloading): a graceful stop may wait for 0."""
        return len(self._in_flight) + len(self._downloads)

    # --- pacing --------------------------------------------------------------------------------

    def _needs_pacing(self, pk: int, now: datetime) -> bool:
        pace = self._pace.get(pk)
        return pace is None or now - pace.loaded_at >= PACING_REFRESH

    def _load_pacing(self, pks: list[int], now: datetime) -> None:
        if not pks:
            return
        rows = dispatch.pacing(pks)
        for pk in pks:
            # An instance deleted meanwhile gets no row: remember it anyway so it is not
            # looked up again on every tick (it has no messages left to send).
            row = rows.get(pk) or dispatch.InstancePace(dispatch.default_spacing(), None)
            known = self._pace.get(pk)
            if known is not None:  # a refresh: keep our own schedule, take the new spacing
                known.spacing, known.loaded_at, known.typing = row.spacing, now, row.typing
                continue
            next_at = policy.next_send_at(row.last_handoff, row.spacing, now, self._rand)
            self._pace[pk] = _Pace(row.spacing, next_at, now, row.typing)

    def _handed_off(self, pk: int, now: datetime, typing_s: float = 0.0) -> None:
        """The next send waits for this one's typing, then the spacing (from when it goes out)."""
        pace = self._pace[pk]
        gap = typing_s + policy.send_delay(pace.spacing, self._rand)
        pace.next_at = now + timedelta(seconds=gap)

    def _typing_s(self, claimed: dispatch.Claimed) -> float:
        """The message's own typing time, else the instance's default; none for a reaction, an
        edit or a delete (they change a message already in the chat)."""
        if claimed.kind in TARGET_KINDS:
            return 0.0
        if claimed.typing_s is not None:
            return max(0.0, claimed.typing_s)
        pace = self._pace.get(claimed.instance_id)
        return policy.typing_for(*pace.typing, self._rand) if pace is not None else 0.0

    # --- sending and media -----------------------------------------------------------------------

    def _send(
        self, session: Session, claimed: dispatch.Claimed, now: datetime, media: FetchedMedia | None = None
    ) -> None:
        # WhatsApp's window for an edit or a delete is checked again now: a message that waited
        # in the queue past it is failed, never sent (the phones would ignore it anyway).
        if reason := policy.window_closed(claimed.kind, claimed.target_sent_at, now):
            dispatch.record_failure(
                claimed.instance_id,
                claimed.ref,
                self.worker_id,
                error=reason,
                retryable=False,
                now=now,
                rand=self._rand,
            )
            if media is not None:
                _discard(media.path)
            return
        typing_s = self._typing_s(claimed)
        payload = claimed.payload or {}
        message = OutgoingMessage(
            ref=claimed.ref,
            to=claimed.chat_id,
            kind=claimed.kind,
            text=claimed.text,
            media_url=claimed.media_url,
            media_path=media.path if media else None,
            filename=claimed.filename or (media.filename if media else ""),
            mimetype=media.mimetype if media else "",
            fields={k: v for k, v in payload.items() if k not in ("target", "quoted")},
            target=payload.get("target"),
            quoted=payload.get("quoted"),
            mentions=tuple(claimed.mentions or ()),
            typing_s=typing_s,
            not_after=policy.action_deadline(claimed.kind, claimed.target_sent_at),
        )
        self._in_flight[claimed.instance_id] = _InFlight(
            claimed, now, media.path if media else None, typing_s
        )
        self._handed_off(claimed.instance_id, now, typing_s)
        try:
            session.send(message, now)
        except Exception as exc:
            # The interface reports outcomes as events, but a session may refuse at once (closed,
            # not connected). The message was not sent: treat it as a failed try.
            logger.warning("session refused message %s: %s", claimed.ref, exc)
            self.on_send_result(
                claimed.instance_id,
                {
                    "ref": claimed.ref,
                    "ok": False,
                    "error": str(exc),
                    "retryable": getattr(exc, "retryable", True),
                },
                now,
            )

    def _owner_of(self, instance_pk: int) -> int:
        if instance_pk not in self._owners:
            row = Instance.objects.filter(pk=instance_pk).values_list("owner_id", flat=True).first()
            # Deleted meanwhile: its own "owner", so it never waits behind anyone else's downloads.
            self._owners[instance_pk] = row if row is not None else -instance_pk
        return self._owners[instance_pk]

    def _queue_download(self, claimed: dispatch.Claimed, now: datetime) -> None:
        owner_id = self._owner_of(claimed.instance_id)
        self._downloads[claimed.instance_id] = _Download(claimed, owner_id, now)

    def _drop_disconnected_waiting(self, connected: dict[int, Session], now: datetime) -> None:
        """A download still waiting for a thread is not worth starting for an instance that can no
        longer send (breaker tripped, session lost): its claim goes back to the queue."""
        for pk, download in list(self._downloads.items()):
            if download.future is None and pk not in connected:
                del self._downloads[pk]
                dispatch.release(download.claimed.pk, self.worker_id, now, "instance no longer connected")

    def _start_waiting_downloads(self, now: datetime) -> None:
        """Hand waiting downloads to free pool threads: owners with the fewest downloads running
        first, then the longest waiting; none beyond an owner's WAZIPER_MEDIA_DOWNLOADS_PER_OWNER."""
        for future in [f for f in self._running if f.done()]:
            del self._running[future]
        free = DOWNLOAD_THREADS - len(self._running)
        waiting = [d for d in self._downloads.values() if d.future is None]
        if free <= 0 or not waiting:
            return
        per_owner = settings.WAZIPER_MEDIA_DOWNLOADS_PER_OWNER
        running: dict[int, int] = {}
        for owner_id in self._running.values():
            running[owner_id] = running.get(owner_id, 0) + 1
        while free > 0:
            ready = [d for d in waiting if d.future is None and running.get(d.owner_id, 0) < per_owner]
            if not ready:
                return
            chosen = min(ready, key=lambda d: (running.get(d.owner_id, 0), d.claimed_at, d.claimed.pk))
            self._start_download(chosen, now)
            running[chosen.owner_id] = running.get(chosen.owner_id, 0) + 1
            free -= 1

    def _start_download(self, download: _Download, now: datetime) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS, thread_name_prefix="media")
        if self._media_dir is None:
            self._media_dir = tempfile.mkdtemp(prefix="waziper-media-")
        download.future = self._pool.submit(
            self._fetch,
            download.claimed.media_url,
            dest_dir=self._media_dir,
            timeout=settings.WAZIPER_MEDIA_TIMEOUT,
            max_bytes=settings.WAZIPER_MEDIA_MAX_BYTES,
            guard=netguard.default_guard(settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS),
        )
        download.since = now
        self._running[download.future] = download.owner_id

    def _finish_downloads(self, connected: dict[int, Session], now: datetime) -> bool:
        did = False
        for pk, download in list(self._downloads.items()):
            if download.future is None or not download.future.done():
                continue
            did = True
            del self._downloads[pk]
            try:
                media = download.future.result()
            except MediaError as exc:
                self._download_failed(download.claimed, str(exc), exc.permanent, now)
                continue
            except Exception as exc:  # a bug in the fetcher must not lose the message
                logger.exception("media download of message %s crashed", download.claimed.ref)
                self._download_failed(download.claimed, f"media download error: {exc}", False, now)
                continue
            if download.claimed.kind == Kind.STICKER and not is_webp(media.path):
                _discard(media.path)
                error = f"a sticker must be a webp file; {download.claimed.media_url} is {media.mimetype}"
                self._download_failed(download.claimed, error, True, now)
                continue
            session = connected.get(pk)
            try:
                if session is None:
                    dispatch.release(download.claimed.pk, self.worker_id, now, "instance no longer connected")
                elif dispatch.mark_handed_off(download.claimed.pk, self.worker_id, now):
                    self._send(session, download.claimed, now, media)
                    continue
            except DatabaseError:
                # Nobody tracks this download any more (the claim goes back via the sweep of
                # forgotten claims and is fetched again): its file must not outlive it.
                _discard(media.path)
                raise
            _discard(media.path)
        return did

    def _download_failed(self, claimed: dispatch.Claimed, error: str, permanent: bool, now: datetime) -> None:
        dispatch.record_failure(
            claimed.instance_id,
            claimed.ref,
            self.worker_id,
            error=error,
            retryable=not permanent,
            handed_off=False,
            now=now,
            rand=self._rand,
        )

    def _abandon_download(self, instance_pk: int, now: datetime, reason: str) -> None:
        download = self._downloads.pop(instance_pk, None)
        if download is None:
            return
        if download.future is not None:
            download.future.cancel()
            download.future.add_done_callback(_discard_result)
        dispatch.release(download.claimed.pk, self.worker_id, now, reason)
