"""The session host: the one process that loads neonize, for a few WhatsApp sessions.

    python -m worker.sessionhost.main [--sessions-per-host N] [--stop-timeout S]

Commands arrive on stdin and events leave on stdout as JSON lines (``protocol.py``); logs go
to stderr. neonize's Go core crashes its process on concurrent connects, leaks on every failed
dial and cannot cancel a dial into a silent proxy, so it lives here, behind a pipe, where the
worker can kill it. Every call into neonize is serialized by one lock, and no call that can
block forever holds it (see docs/architecture.md, "Processes"). Exits 0 on stdin EOF.
No Django here. The worker usually forks hosts from a fork server (forkserver.py) that has
imported everything but neonize's Go half; started on its own, a host imports it all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from worker.sessionhost import builders, preload, queries
from worker.sessionhost import protocol as p
from worker.sessionhost.events import NEONIZE_EVENTS, Relay
from worker.sessionhost.messages import jid_str
from worker.sessionhost.session import Output, Session
from worker.sessionhost.store import STORE_FILE, check_store

log = logging.getLogger("waziper.host")

# neonize's Go side writes its global client maps at the start of a connect, before it dials.
# A connect keeps the lock until Go opens its first socket (the dial has begun, so the writes
# are done: typically tens of ms), until it shows progress (QR, event, failure), or for at
# most this long, ample for those writes even on a slow disk. A proxy that never answers must
# not stall the other sessions of the host.
CONNECT_HOLD_S = 5.0
DIAL_POLL_S = 0.01  # how often a connect holding the lock looks for its socket
CALL_TIMEOUT_S = 60.0  # one send (with its upload), pair or logout
PRESENCE_TIMEOUT_S = 10.0  # "typing…" is cosmetic: a presence WhatsApp does not take is skipped
STOP_TIMEOUT_S = 5.0  # disconnect of a connected session (--stop-timeout)
EXIT_GRACE_S = 2.0  # on stdin EOF: time to close live connections politely
# A call still inside neonize this long after its own timeout has wedged the lock, and with it
# every session of the host: the host exits, and the worker reconnects its sessions elsewhere.
WEDGED_GRACE_S = 15.0
WEDGED_CHECK_S = 1.0
WEDGED_EXIT_CODE = 3
HUNG = "(neonize cannot cancel a dial through a proxy that never answers): kill the host"
DIALING = (
    "disconnect: the session is dialing, and neonize cannot cancel a dial; "
    "it is stopped once the dial returns"
)
# Tests and the benchmark: a connect of the session named here makes the host call into Go with
# a client that does not exist, a real Go runtime panic that ends the process like any Go fatal error.
TEST_GO_PANIC_ENV = "WAZIPER_HOST_TEST_GO_PANIC"


class Host:
    def __init__(self, neo: SimpleNamespace, out: Output, max_sessions: int, stop_timeout: float) -> None:
        self.neo, self.out, self.max_sessions, self.stop_timeout = neo, out, max_sessions, stop_timeout
        self.sessions: dict[str, Session] = {}
        self.lock = asyncio.Lock()  # the one rule that keeps the Go side alive
        self._order: dict[str, asyncio.Lock] = {}
        self.relay: Relay  # set by run(), on the running loop
        self._tasks: set[asyncio.Task] = set()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # typing waits (tests: a gate)
        self._holder: tuple[str, float] | None = None  # what holds the lock, and its deadline

    async def _acquire(self, what: str, timeout: float, *, wait: float | None = None) -> None:
        """Take the lock (waiting at most ``wait`` seconds for it, if given) for one call into
        neonize that should be done within ``timeout``."""
        await asyncio.wait_for(self.lock.acquire(), wait)  # a cancelled acquire takes no lock
        self._holder = (what, asyncio.get_running_loop().time() + timeout)

    def _release(self) -> None:
        self._holder = None
        self.lock.release()

    async def _watch_the_lock(self) -> None:
        """Exit when a call has been inside neonize WEDGED_GRACE_S past its own timeout: the lock
        it holds would stall every session of this host forever (whatsmeow's Disconnect waits for
        a dial nobody can cancel). The worker sees the exit, and each session reconnects."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WEDGED_CHECK_S)
            holder = self._holder
            if holder is not None and loop.time() > holder[1] + WEDGED_GRACE_S:
                log.critical(
                    "wedged: %s has not returned from neonize %.0f s past its timeout; exiting so "
                    "the worker moves this host's %d session(s)",
                    holder[0],
                    loop.time() - holder[1],
                    len(self.sessions),
                )
                sys.stderr.flush()
                os._exit(WEDGED_EXIT_CODE)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def call(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, timeout: float = CALL_TIMEOUT_S
    ) -> Any:
        """Run one neonize coroutine under the lock; TimeoutError after ``timeout``. The lock stays
        held until neonize returns, maybe never: Go is still inside, and a new call could race it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._acquire(getattr(fn, "__name__", "a call"), timeout, wait=timeout)
        try:
            task = asyncio.ensure_future(fn(*args))
        except BaseException:
            self._release()
            raise

        def release(done: asyncio.Future[Any]) -> None:
            self._release()
            if not done.cancelled():
                done.exception()  # retrieved here, so asyncio does not log it as never retrieved

        task.add_done_callback(release)
        return await asyncio.wait_for(asyncio.shield(task), max(0.0, deadline - loop.time()))

    def error(self, cmd: dict[str, Any], message: str, **fields: Any) -> None:
        self.out.emit(p.ERROR, cmd.get("session"), ref=cmd.get("ref"), error=message, **fields)

    # -- the command loop ----------------------------------------------------------------

    async def run(self, stdin: Any) -> None:
        loop = asyncio.get_running_loop()
        self.relay = Relay(self.out, loop, self._me, self.neo.extract_text, self._phone_of_lid)
        lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        threading.Thread(target=self._read_stdin, args=(stdin, loop, lines), daemon=True).start()
        self.spawn(self._watch_the_lock())
        self.out.emit(
            p.READY,
            pid=os.getpid(),
            neonize=self.neo.version,
            protocol=p.PROTOCOL_VERSION,
            sessions_per_host=self.max_sessions,
        )
        while (line := await lines.get()) is not None:
            self.spawn(self.handle(line))
        log.info("stdin closed; shutting down")
        live = [s for s in self.sessions.values() if s.connected]
        for s in live:
            s.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(self.call(s.client.stop) for s in live)), EXIT_GRACE_S)

    def _read_stdin(self, stdin: Any, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> None:
        while line := stdin.readline(p.MAX_LINE_BYTES + 1):
            if len(line) > p.MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := stdin.readline(p.MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                self.out.emit(p.ERROR, error=f"line too long (limit {p.MAX_LINE_BYTES} bytes); ignored")
                continue
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    async def handle(self, raw: bytes) -> None:
        if not raw.strip():
            return  # a blank line is no command, and no mistake worth an error either
        try:
            cmd = p.validate_command(p.decode_line(raw))
        except p.ProtocolError as exc:
            self.out.emit(p.ERROR, exc.session, error=str(exc), field=exc.field, ref=exc.ref)
            return
        # One session's commands run in arrival order (a disconnect must not overtake its
        # connect); other sessions' commands and pings do not wait for them.
        order = self._order.setdefault(cmd["session"], asyncio.Lock()) if cmd["cmd"] != p.PING else None
        try:
            async with order or contextlib.nullcontext():
                await getattr(self, f"cmd_{cmd['cmd']}")(cmd)
        except Exception as exc:  # a bug in one command must cost one reply, never the host
            log.exception("%s failed", cmd["cmd"])
            self.error(cmd, f"{cmd['cmd']} failed: {exc!r}")

    # -- commands ------------------------------------------------------------------------

    async def cmd_connect(self, cmd: dict[str, Any]) -> None:
        sid, ref = cmd["session"], cmd["ref"]
        if sid in self.sessions and self.sessions[sid].active:
            return self.error(cmd, "session is already connecting or connected; disconnect first")
        if sid == os.environ.get(TEST_GO_PANIC_ENV):
            log.warning("%s names session %s: calling into Go to make it panic", TEST_GO_PANIC_ENV, sid)
            self.neo.go_panic()
        if sum(s.active for s in self.sessions.values() if s.sid != sid) >= self.max_sessions:
            return self.error(cmd, f"this host carries at most {self.max_sessions} session(s)")
        s = self.sessions[sid] = Session(sid, cmd["store"], connect_ref=ref)  # claims the slot now
        problem, s.logged_in = await asyncio.to_thread(check_store, cmd["store"])
        if problem:
            del self.sessions[sid]
            return self.out.emit(p.CONNECT_FAILED, sid, ref=ref, error=problem, retryable=False)
        await self._acquire("connect", CONNECT_HOLD_S)
        sockets = _socket_inodes()
        try:
            s.client = self.neo.NewAClient(str(Path(s.store) / STORE_FILE), uuid=sid)
            # Its finalizer would call Go's Stop(uuid) from whichever thread runs the GC,
            # unlocked, and after a reconnect would stop the *new* client (same uuid).
            s.client._stop_finalizer.detach()
            self.relay.attach(s.client, s, {n: getattr(self.neo, f"{n}Ev") for n in self.neo.events})
            proxy = self.neo.ProxySettings(proxy_address=cmd["proxy"]) if cmd["proxy"] else None
            s.task = await s.client.connect(proxy)
        except Exception as exc:
            self._release()
            del self.sessions[sid]
            return self.relay.connect_failed(s, exc)
        self.spawn(self._hold_lock_while_connecting(s, sockets))
        self.spawn(self._watch(s))

    async def _hold_lock_while_connecting(self, s: Session, sockets_before: set[str]) -> None:
        assert s.task is not None  # set by cmd_connect before this is spawned
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_HOLD_S
        waiter = asyncio.ensure_future(s.progress.wait())
        try:
            # A new socket means Go is dialing: its map writes are behind it. (Another session's
            # socket opening at that moment would end the wait early; the writes take ms.)
            while not (s.task.done() or waiter.done() or _socket_inodes() - sockets_before):
                left = deadline - loop.time()
                if left <= 0:
                    break
                await asyncio.wait(
                    {s.task, waiter}, timeout=min(DIAL_POLL_S, left), return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            waiter.cancel()
            self._release()

    async def _watch(self, s: Session) -> None:
        assert s.task is not None
        try:
            await s.task
        except Exception as exc:
            return self.relay.connect_failed(s, exc)
        if not s.closing:  # Neonize() returns cleanly only once stopped
            s.connected = False
            self.out.emit(p.DISCONNECTED, s.sid, reason="session ended")

    async def cmd_send(self, cmd: dict[str, Any]) -> None:
        sid, ref, kind = cmd["session"], cmd["ref"], cmd["kind"]
        s = self.sessions.get(sid)
        failed = self._send_failed(sid, ref)
        if s is None or not s.connected:
            return failed("not connected", True)
        try:
            jid = p.normalize_recipient(cmd["to"])
        except ValueError as exc:
            return failed(str(exc), False)
        if cmd.get("not_after") is not None and time.time() > cmd["not_after"]:
            return failed(p.window_closed_error(kind), False)
        try:
            if jid.endswith("@lid"):
                jid = await self.call(builders.phone_for_lid, s.client, self.neo, jid)
            user, server = jid.split("@")
            if server == "s.whatsapp.net" and user not in s.on_whatsapp:
                found = await self.call(s.client.is_on_whatsapp, f"+{user}")
                if not any(r.IsIn for r in found):
                    return failed(f"{user} is not on WhatsApp", False)
                s.on_whatsapp.add(user)
            data = None
            if kind in p.MEDIA_KINDS:
                try:
                    data = await asyncio.to_thread(Path(cmd["media_path"]).read_bytes)
                except OSError as exc:
                    return failed(f"cannot read media_path: {exc}", False)
            message = await self.call(builders.build, s.client, self.neo, cmd, jid, data)
        except TimeoutError:
            return failed(f"preparing the send did not finish within {CALL_TIMEOUT_S:g} s", True)
        except Exception as exc:
            text = str(exc) or type(exc).__name__
            return failed(text, p.send_error_retryable(text))
        if cmd.get("typing_s"):
            # Typed outside this session's command order: a disconnect or a question need not
            # wait for the typing, and the neonize lock is free while it lasts.
            return self.spawn(self._type_then_deliver(s, cmd, jid, message))
        await self._deliver(s, cmd, jid, message)

    def _send_failed(self, sid: str, ref: Any) -> Callable[..., None]:
        def failed(error: str, retryable: bool, uncertain: bool = False) -> None:
            if uncertain:  # never retry what may have gone out: the gateway marks it `uncertain`
                retryable = False
            self.out.emit(
                p.SEND_RESULT,
                sid,
                ref=ref,
                ok=False,
                error=error,
                retryable=retryable,
                uncertain=uncertain or None,
            )

        return failed

    async def _type_then_deliver(self, s: Session, cmd: dict[str, Any], jid: str, message: Any) -> None:
        """ "typing…" for typing_s, then the message: the lock is taken for each presence call and
        released while the chat shows typing, so other sessions' calls go on meanwhile."""
        await self._presence(s, jid, typing=True)
        await self.sleep(cmd["typing_s"])
        if not s.connected:  # it never went out: the gateway may send it again later
            return self._send_failed(s.sid, cmd["ref"])("not connected", True)
        await self._presence(s, jid, typing=False)
        await self._deliver(s, cmd, jid, message)

    async def _presence(self, s: Session, jid: str, *, typing: bool) -> None:
        try:
            await self.call(
                builders.chat_presence, s.client, self.neo, jid, typing, timeout=PRESENCE_TIMEOUT_S
            )
        except Exception as exc:
            log.info("session %s: chat presence not sent (%s)", s.sid, exc or type(exc).__name__)

    async def _deliver(self, s: Session, cmd: dict[str, Any], jid: str, message: Any) -> None:
        failed = self._send_failed(s.sid, cmd["ref"])
        try:
            resp = await self.call(s.client.send_message, jid, message)
        except TimeoutError:  # Go is still inside send_message: the message may be on the wire
            return failed(f"send did not finish within {CALL_TIMEOUT_S:g} s", False, uncertain=True)
        except Exception as exc:
            text = str(exc) or type(exc).__name__
            return failed(text, p.send_error_retryable(text), uncertain=p.send_outcome_unknown(text))
        self.out.emit(
            p.SEND_RESULT, s.sid, ref=cmd["ref"], ok=True, message_id=resp.ID, at=resp.Timestamp or None
        )

    async def cmd_pair_phone(self, cmd: dict[str, Any]) -> None:
        s = self.sessions.get(cmd["session"])
        if s is None or not s.showing_qr:  # whatsmeow pairs by code only on a live, unpaired socket
            return self.error(cmd, "pair_phone needs a session showing a QR code: connect, wait for 'qr'")
        try:
            code = await self.call(s.client.PairPhone, cmd["phone"], True)
        except Exception as exc:
            return self.error(cmd, f"pair_phone failed: {exc or type(exc).__name__}")
        self.out.emit(p.PAIR_CODE, s.sid, ref=cmd["ref"], code=code)

    async def cmd_logout(self, cmd: dict[str, Any]) -> None:
        s = self.sessions.get(cmd["session"])
        if s is None or not s.connected:
            return self.error(
                cmd,
                "logout needs a connected session (WhatsApp must be told); deleting the store still "
                "works, and the phone lists the device until it is removed there",
            )
        s.closing = True
        try:
            await self.call(s.client.logout)
        except Exception as exc:
            s.closing = False
            return self.error(cmd, f"logout failed: {exc or type(exc).__name__}")
        s.connected = s.logged_in = False
        with contextlib.suppress(Exception):
            await self.call(s.client.stop, timeout=self.stop_timeout)
        self.sessions.pop(s.sid, None)
        self.out.emit(p.LOGGED_OUT, s.sid, ref=cmd["ref"], reason="requested")

    async def cmd_disconnect(self, cmd: dict[str, Any]) -> None:
        sid = cmd["session"]
        s = self.sessions.get(sid)
        if s is not None and s.client is not None:
            s.closing = True
            if s.dialing:
                # whatsmeow's Disconnect waits for the dial's socket lock, which a proxy that never
                # answers holds forever: under the host's lock that would stall every session here.
                s.abandoned = True
                s.progress.clear()
                self.spawn(self._stop_after_dial(s))
                return self.error(cmd, DIALING)
            try:
                await self.call(s.client.stop, timeout=self.stop_timeout)
            except TimeoutError:
                return self.error(cmd, f"disconnect did not finish within {self.stop_timeout:g} s {HUNG}")
        self.sessions.pop(sid, None)
        self.out.emit(p.DISCONNECTED, sid, ref=cmd["ref"], reason="requested")

    async def _stop_after_dial(self, s: Session) -> None:
        """Stop an abandoned session as soon as its dial returns (a QR, a connection, a failure):
        a dial that succeeds late must not leave a second live connection of that account. Its
        slot stays taken until then."""
        assert s.task is not None
        waiter = asyncio.ensure_future(s.progress.wait())
        await asyncio.wait({s.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        with contextlib.suppress(Exception):
            await self.call(s.client.stop, timeout=self.stop_timeout)
        if self.sessions.get(s.sid) is s:
            del self.sessions[s.sid]

    async def cmd_ping(self, cmd: dict[str, Any]) -> None:
        # Answered from what events said, never by asking Go: while a dial hangs whatsmeow holds
        # its socket lock, and IsConnected would wait on it forever.
        chosen = [s for s in self.sessions.values() if cmd["session"] in (None, s.sid)]
        connected, logged_in = any(s.connected for s in chosen), any(s.logged_in for s in chosen)
        busy = self.lock.locked()
        self.out.emit(
            p.PONG, cmd["session"], ref=cmd["ref"], connected=connected, logged_in=logged_in, busy=busy
        )

    async def cmd_query(self, cmd: dict[str, Any]) -> None:
        sid, ref, deadline = cmd["session"], cmd["ref"], cmd.get("deadline")

        def answer(**fields: Any) -> None:
            self.out.emit(p.QUERY_RESULT, sid, ref=ref, **fields)

        # Never late: a question whose asker gave up is not put to WhatsApp at all.
        left = CALL_TIMEOUT_S if deadline is None else min(CALL_TIMEOUT_S, deadline - time.time())
        if left <= 0:
            return answer(ok=False, error="the question expired before it could run", code="expired")
        s = self.sessions.get(sid)
        if s is None or not s.connected:
            return answer(ok=False, error="not connected", code="unavailable")
        try:
            data = await self.call(queries.OPS[cmd["op"]], s.client, self.neo, cmd["args"], timeout=left)
        except TimeoutError:
            return answer(ok=False, error=f"no answer from WhatsApp within {left:.3g} s", code="timeout")
        except queries.QueryRefused as exc:
            return answer(ok=False, error=str(exc), code=exc.code)
        except Exception as exc:
            return answer(ok=False, error=str(exc) or type(exc).__name__, code="failed")
        size = len(p.encode(p.event(p.QUERY_RESULT, sid, ref=ref, ok=True, data=data)))
        if size > p.MAX_EVENT_BYTES:  # the worker would take the line for garbage and end the host
            error = f"the answer is too large to pass on ({size} bytes, limit {p.MAX_EVENT_BYTES})"
            return answer(ok=False, error=error, code="too_large")
        answer(ok=True, data=data)

    async def _me(self, s: Session) -> tuple[str, str]:
        try:
            me = await self.call(s.client.get_me, timeout=5)
        except Exception:
            return "", ""
        return jid_str(me.JID), me.PushName

    async def _phone_of_lid(self, s: Session, lid: Any) -> str:
        """The phone number whatsmeow's store maps a hidden (@lid) JID to; "" if it knows none."""
        try:
            pn = await self.call(s.client.get_pn_from_lid, lid, timeout=5)
        except Exception:
            return ""
        return str(pn.User) if pn.Server == "s.whatsapp.net" else ""


def _socket_inodes() -> set[str]:
    """This process's open sockets ("socket:[inode]")."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile, or the listing's own descriptor
        if target.startswith("socket:"):
            found.add(target)
    return found


def _claim_stdout() -> int:
    """Keep fd 1 for protocol lines only: neonize's Go code prints to fd 1 (``fmt.Println`` on a
    failed send, on each QR login step), so fd 1 now points at stderr and lines go to a dup."""
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto_fd


def configure_logging() -> None:
    """The host's logging, before neonize is imported: neonize calls basicConfig() on import,
    a no-op after this. The fork server calls it before it preloads, for the hosts it forks."""
    level = os.environ.get("WAZIPER_HOST_LOG_LEVEL", "INFO").upper()
    fmt = "%(asctime)s host[%(process)d] %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(stream=sys.stderr, level=level, format=fmt)
    logging.getLogger().setLevel(level)  # a forked host's environment may differ from its server's
    # The Go side's log level follows the "neonize.utils.log" logger's own level.
    for name in ("neonize", "neonize.utils.log", "whatsmeow", "Whatsmeow"):
        logging.getLogger(name).setLevel(os.environ.get("WAZIPER_NEONIZE_LOG_LEVEL", "WARNING").upper())


def _load_neonize() -> SimpleNamespace:
    configure_logging()
    preload.finish_neonize()  # forked from the fork server: neonize's Go half loads now
    import neonize
    from neonize._binder import ProxySettings, gocode
    from neonize.aioze import events
    from neonize.aioze.client import NewAClient
    from neonize.builder import build_edit
    from neonize.proto.Neonize_pb2 import JID
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ParticipantChange, ReceiptType, VoteType
    from neonize.utils.message import extract_text

    def go_panic() -> None:
        jid = JID(User="0", Server="lid", RawAgent=0, Device=0, Integrator=0, IsEmpty=False)
        raw = jid.SerializeToString()
        gocode.GetPNFromLID(b"no-such-client", raw, len(raw))  # Go: nil pointer dereference, panic

    neo = SimpleNamespace(version=neonize.__version__, NewAClient=NewAClient, ProxySettings=ProxySettings)
    neo.extract_text, neo.events, neo.go_panic = extract_text, NEONIZE_EVENTS, go_panic
    # What worker/sessionhost/builders.py builds messages with.
    neo.Message, neo.JID, neo.build_edit = Message, JID, build_edit
    neo.ChatPresence, neo.ChatPresenceMedia, neo.VoteType = ChatPresence, ChatPresenceMedia, VoteType
    # And what the session queries build neonize's arguments with (worker/sessionhost/queries.py).
    neo.ParticipantChange, neo.ReceiptType = ParticipantChange, ReceiptType
    for name in NEONIZE_EVENTS:
        setattr(neo, f"{name}Ev", getattr(events, f"{name}Ev"))
    return neo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.sessionhost.main", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sessions-per-host", type=int, default=1, metavar="N", help="sessions, serialized by one lock (1)"
    )
    parser.add_argument(
        "--stop-timeout", type=float, default=STOP_TIMEOUT_S, metavar="S", help="disconnect's wait on neonize"
    )
    args = parser.parse_args(argv)
    if args.sessions_per_host < 1 or args.stop_timeout <= 0:
        parser.error("--sessions-per-host must be >= 1 and --stop-timeout > 0")
    # Everything the host and neonize create (session stores, their sqlite files) is private to
    # this user: a store holds the keys of a linked WhatsApp account.
    os.umask(0o077)
    out = Output(_claim_stdout())
    neo = _load_neonize()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Each live connection parks one thread inside Go for its whole life; leave room for calls.
    loop.set_default_executor(ThreadPoolExecutor(args.sessions_per_host + 8, thread_name_prefix="neonize"))
    code = 0
    try:
        loop.run_until_complete(
            Host(neo, out, args.sessions_per_host, args.stop_timeout).run(sys.stdin.buffer)
        )
    except BaseException:
        log.exception("session host crashed")
        code = 1
    sys.stderr.flush()
    # Not sys.exit(): interpreter shutdown would join the executor threads still parked in Go.
    os._exit(code)


if __name__ == "__main__":
    main()
