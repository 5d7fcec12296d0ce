"""Where neonize sessions run: session hosts that carry up to `sessions_per_host` sessions each,
forked from the fork server (or spawned when there is none), recycled and retired.

The rules (docs/architecture.md, "Processes"):

* **Placement.** A session goes to the fullest host that has room and is not retiring, but not
  to a host still letting an earlier attempt of the same instance go (its late events would
  reach the new one); otherwise to a new host.
* **Leaving.** A session that ends sends `disconnect`; its slot is free once the host confirms.
  A session let go while it dials stays inside the host, because neonize cannot cancel a dial
  (the host stops it once the dial returns), and the host retires.
* **Recycling.** Each failed dial leaks a descriptor and memory inside the host, so a host retires
  after `recycle_after` of them. A retiring host takes no new session and exits when its last
  session has left; an empty host lingers `IDLE_S` for the next placement, then exits.
* **Containment.** A host that dies costs exactly its sessions: each gets SESSION_CRASHED with
  the host's exit status and last words, and reconnects through its breaker.

One pool per transport; `pump()` reads every host's pipes and routes each event to its session
by the protocol's `session` field. No Django and no neonize here.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from worker.sessionhost import protocol as p
from worker.transports.fork_server import ForkServer, ForkServerGone
from worker.transports.host_process import EOF_GRACE_S, HOST_ARGV, HostProcess

if TYPE_CHECKING:
    from worker.transports.neonize import NeonizeSession

log = logging.getLogger("waziper.neonize.hosts")

RESTART_MIN_S, RESTART_MAX_S = 1.0, 300.0  # fork server restarts: backoff after quick deaths
STABLE_S = 60.0  # a fork server that lived this long died of something else: restart at once


class Launcher:
    """Starts session hosts: forked from a fork server while one is up, spawned otherwise. A
    fork server that dies is restarted when the next host is needed; one that keeps dying
    young is restarted with a backoff, and hosts are spawned meanwhile."""

    def __init__(self, *, fork_server: bool = True, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.use_fork_server = fork_server
        self.monotonic = monotonic  # tests step through the restart backoff without sleeping
        self.server: ForkServer | None = None
        self.server_started = 0.0
        self.restart_at = 0.0
        self.backoff = RESTART_MIN_S
        self.spawned = self.forked = 0

    def start(self, argv: Sequence[str], env: dict[str, str] | None, host_args: Sequence[str]) -> HostProcess:
        """A new host. Forked only for the real host (`argv` is HOST_ARGV); tests' stand-ins
        are spawned. OSError if it cannot be started at all."""
        server = self._server() if tuple(argv) == HOST_ARGV else None
        if server is not None:
            try:
                host = HostProcess(env=env, host_args=host_args, fork_server=server)
                self.forked += 1
                return host
            except ForkServerGone:
                pass  # logged by the server; spawn this one
        host = HostProcess(argv, env=env, host_args=host_args)
        self.spawned += 1
        return host

    def pump(self) -> None:
        if self.server is not None:
            self.server.pump()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def _server(self) -> ForkServer | None:
        if not self.use_fork_server:
            return None
        now = self.monotonic()
        if self.server is not None:
            self.server.pump()
            if self.server.usable:
                return self.server
            lived = now - self.server_started
            self.backoff = RESTART_MIN_S if lived >= STABLE_S else min(self.backoff * 2, RESTART_MAX_S)
            self.restart_at = now if lived >= STABLE_S else now + self.backoff
            self.server = None
        if now < self.restart_at:
            return None
        try:
            self.server = ForkServer()
            self.server_started = now
        except OSError as exc:
            log.warning("cannot start the fork server (%s); spawning hosts", exc)
            self.restart_at = now + self.backoff
            return None
        return self.server


_SHARED = Launcher()


def shared_launcher() -> Launcher:
    """The process's launcher: one fork server for every pool (the worker has one anyway)."""
    return _SHARED


class PooledHost:
    """One host as the pool sees it: which sessions it carries and what it costs."""

    def __init__(self, process: HostProcess, capacity: int) -> None:
        self.process = process
        self.capacity = capacity
        self.sessions: dict[str, NeonizeSession] = {}
        self.leaving: dict[str, str] = {}  # ref of a disconnect we sent -> the session's id
        self.abandoned: set[str] = set()  # sessions whose dial it could not cancel, still inside it
        self.failed_dials = 0
        self.retiring = ""  # why it takes no new sessions
        self.ready: dict[str, Any] = {}
        self.empty_since: float | None = time.monotonic()

    @property
    def room(self) -> int:
        return self.capacity - len(self.sessions) - len(self.leaving) - len(self.abandoned)

    def may_carry(self, sid: str) -> bool:
        if self.retiring or self.room <= 0:
            return False
        return sid not in self.abandoned and sid not in self.leaving.values()

    def __repr__(self) -> str:
        return f"<host {self.process.pid}: {sorted(self.sessions)} {self.retiring or ''}>"


class HostPool:
    IDLE_S = 10.0  # an empty host waits this long for the next session before it exits
    PUMP_EVERY_S = 0.002  # sessions poll one after another: one read of every pipe serves them all

    def __init__(
        self,
        *,
        sessions_per_host: int,
        recycle_after: int,
        host_argv: Sequence[str] = HOST_ARGV,
        env: dict[str, str] | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        if sessions_per_host < 1 or recycle_after < 1:
            raise ValueError("sessions_per_host and recycle_after must be >= 1")
        self.sessions_per_host, self.recycle_after = sessions_per_host, recycle_after
        self.host_argv, self.env = tuple(host_argv), env
        self.launcher = launcher if launcher is not None else shared_launcher()
        self.hosts: list[PooledHost] = []
        self.started = 0
        self._pumped_at = 0.0
        self._refs = itertools.count(1)

    # -- sessions come and go ------------------------------------------------------------------

    def place(self, session: NeonizeSession) -> PooledHost:
        """The host `session` runs on from now on. OSError if a new host cannot be started."""
        sid = session.spec.instance_id
        fits = [h for h in self.hosts if h.may_carry(sid)]
        host = max(fits, key=lambda h: h.capacity - h.room, default=None)
        if host is None:
            host = self._start()
        host.sessions[sid] = session
        host.empty_since = None
        return host

    def leave(self, host: PooledHost, session: NeonizeSession, *, dialing: bool) -> None:
        """`session` no longer runs on `host`: the host is told to stop it. `dialing`: it was let
        go mid-dial, which the host cannot cancel, so the host retires."""
        sid = session.spec.instance_id
        if host.sessions.get(sid) is not session:
            return
        del host.sessions[sid]
        ref = f"~leave-{next(self._refs)}"
        if host.process.write(p.command(p.DISCONNECT, sid, ref)):
            host.leaving[ref] = sid
        if dialing:
            host.failed_dials += 1
            self._retire(host, "it carries a dial neonize cannot cancel")
        self._settle(host)

    # -- reading the hosts -----------------------------------------------------------------------

    def pump(self, now: datetime, *, force: bool = False) -> None:
        """Read every host: route its events to its sessions, and notice hosts that died."""
        mono = time.monotonic()
        if not force and mono - self._pumped_at < self.PUMP_EVERY_S:
            return
        self._pumped_at = mono
        self.launcher.pump()
        for host in list(self.hosts):
            self._read(host, now)
            if host in self.hosts and host.empty_since is not None and mono - host.empty_since > self.IDLE_S:
                self._close(host, "idle")

    def close(self) -> None:
        """Worker shutdown: every host gets stdin EOF (it stops its live sessions politely)."""
        for host in list(self.hosts):
            self._close(host, "shutdown")

    # -- internals -------------------------------------------------------------------------------

    def _start(self) -> PooledHost:
        args = ("--sessions-per-host", str(self.sessions_per_host))
        process = self.launcher.start(self.host_argv, self.env, args)
        host = PooledHost(process, self.sessions_per_host)
        self.hosts.append(host)
        self.started += 1
        return host

    def _read(self, host: PooledHost, now: datetime) -> None:
        process = host.process
        try:
            for line in process.read_lines():
                self._route(host, p.HostEvent.parse(line), now)
            if host not in self.hosts:
                return
            if process.exit_code() is not None:
                for line in process.read_lines():  # what it managed to say before it died
                    self._route(host, p.HostEvent.parse(line), now)
                self._lost(host, process.crash_report())
            elif process.stdout_eof_at is not None and time.monotonic() - process.stdout_eof_at > EOF_GRACE_S:
                self._lost(host, process.crash_report())  # closed stdout yet lives on: hung on its way out
        except p.ProtocolError as exc:
            self._lost(host, f"protocol error from session host (pid {process.pid}): {exc}")

    def _route(self, host: PooledHost, ev: p.HostEvent, now: datetime) -> None:
        if ev.kind == p.READY:
            host.ready = ev.data
            for carried in host.sessions.values():
                carried.ready = ev.data
            return
        ref = ev.ref
        if isinstance(ref, str) and ref in host.leaving and ev.kind in (p.DISCONNECTED, p.ERROR):
            sid = host.leaving.pop(ref)
            if ev.kind == p.ERROR:  # still dialing: it stays inside until the dial returns
                host.abandoned.add(sid)
                self._retire(host, "it carries a dial neonize cannot cancel")
            self._settle(host)
            return
        session = host.sessions.get(ev.session) if ev.session is not None else None
        if session is None:
            if ev.session is None and ev.kind == p.ERROR:
                log.warning("session host %s: %s", host.process.pid, ev.data.get("error"))
            else:
                log.debug("session host %s: no longer carries the session of %s", host.process.pid, ev)
            return
        if ev.kind == p.CONNECT_FAILED:
            host.failed_dials += 1
            if host.failed_dials >= self.recycle_after:
                self._retire(host, f"recycled after {host.failed_dials} failed dials")
        session.on_event(ev, now)

    def _retire(self, host: PooledHost, why: str) -> None:
        if not host.retiring:
            host.retiring = why
            log.info("session host %s retires: %s", host.process.pid, why)

    def _settle(self, host: PooledHost) -> None:
        """A session left: a retiring host with none left exits; another starts its idle wait."""
        if host.sessions or host not in self.hosts:
            return
        if host.retiring:
            self._close(host, host.retiring)
        elif host.empty_since is None:
            host.empty_since = time.monotonic()

    def _close(self, host: PooledHost, why: str) -> None:
        self.hosts.remove(host)
        log.debug("session host %s closed (%s)", host.process.pid, why)
        host.process.close(graceful=True)  # stdin EOF after the disconnects already written

    def _lost(self, host: PooledHost, error: str) -> None:
        """The host died (or must die): every session on it crashed with it."""
        if host in self.hosts:
            self.hosts.remove(host)
        sessions = list(host.sessions.values())
        host.sessions.clear()
        if sessions:
            log.warning("session host %s lost with %d session(s): %s", host.process.pid, len(sessions), error)
        code = host.process.exit_code()
        host.process.close()
        for session in sessions:
            session.host_lost(host, error, code)
