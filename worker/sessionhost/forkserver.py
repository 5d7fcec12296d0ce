"""The fork server: one pre-loaded parent that forks session hosts for the worker.

    python -m worker.sessionhost.forkserver --fd N

A session host that starts on its own spends about 0.4 s of CPU importing neonize's Python
dependencies, and each keeps its own copy of them. This process imports all of that once
(preload.py: everything but neonize's Go half, which must not be loaded before a fork), then
forks a host on each request. A forked host only loads the Go library (~0.03 s of CPU), and
shares the rest with its siblings, copy-on-write.

It talks to the worker over a Unix SOCK_SEQPACKET socket (fd N), one JSON message per packet:

* worker -> server: ``{"op": "fork", "argv": [...], "env": {...} | null}`` with three file
  descriptors attached (the host's stdin, stdout and stderr), and ``{"op": "reap", "pid": P}``;
* server -> worker: ``{"op": "ready", ...}`` once preloaded, ``{"op": "forked", "pid": P}`` or
  ``{"op": "fork_failed", "error": ...}`` for each fork request in order, and
  ``{"op": "exited", "pid": P, "code": C}`` when a host ends (C as subprocess reports it: the
  exit status, or minus the signal).

Hosts are this process's children, so it waits for them, but only after the worker has read
their exit (``reap``): until then a dead host stays a zombie, its pid cannot be reused, and the
worker's signals to that process group can never reach an unrelated process. Each host gets its
own session (``setsid``), so the worker can signal its whole group, and a terminal's Ctrl+C
reaches neither this server nor the hosts. The server exits when the worker closes the socket;
hosts it forked then live on until their stdin closes, as hosts always do.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

MAX_MESSAGE = 65536
FDS_PER_FORK = 3
HOST_MODULE = "worker.sessionhost.main"


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode())


def exit_code(result: Any) -> int:
    """subprocess's returncode for a waitid() result: the status, or minus the signal."""
    return int(result.si_status) if result.si_code == os.CLD_EXITED else -int(result.si_status)


class Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.alive: set[int] = set()  # forked, not seen to exit
        self.zombies: set[int] = set()  # exit reported, waiting for the worker's "reap"
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    def run(self) -> None:
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the wakeup fd
        signal.set_wakeup_fd(self.wake_w)
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select(timeout=1.0):
                if key.fileobj is self.sock and not self.serve_one():
                    return  # the worker closed its end: nothing left to serve
                if key.fileobj == self.wake_r:
                    while True:
                        try:
                            if not os.read(self.wake_r, 512):
                                break
                        except BlockingIOError:
                            break
            self.report_exits()  # also on the 1 s timeout: a lost SIGCHLD costs a second, not a zombie

    def serve_one(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, FDS_PER_FORK)
        except (ConnectionResetError, BrokenPipeError):
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        try:
            request = json.loads(data)
            op = request.get("op")
        except (ValueError, AttributeError):
            op, request = None, {}
        if op == "fork":
            self.fork(request, fds)
            return True
        for fd in fds:  # only fork requests carry descriptors
            os.close(fd)
        if op == "reap":
            pid = request.get("pid")
            if pid in self.zombies:
                self.zombies.discard(pid)
                os.waitpid(pid, 0)  # a zombie: returns at once
        else:
            print(f"fork server: unknown request {data[:200]!r}", file=sys.stderr, flush=True)
        return True

    def fork(self, request: dict[str, Any], fds: list[int]) -> None:
        argv, env = request.get("argv") or [], request.get("env")
        if len(fds) != FDS_PER_FORK:
            for fd in fds:
                os.close(fd)
            error = f"expected {FDS_PER_FORK} descriptors, got {len(fds)}"
            send(self.sock, {"op": "fork_failed", "error": error})
            return
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            send(self.sock, {"op": "fork_failed", "error": f"fork: {exc}"})
            return
        if pid == 0:
            become_host(fds, [str(a) for a in argv], env)  # never returns
        for fd in fds:
            os.close(fd)
        self.alive.add(pid)
        send(self.sock, {"op": "forked", "pid": pid})

    def report_exits(self) -> None:
        for pid in list(self.alive):
            try:
                # WNOWAIT: look without reaping; the pid stays taken until the worker says "reap"
                result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                self.alive.discard(pid)
                continue
            if result is None or result.si_pid == 0:
                continue
            self.alive.discard(pid)
            self.zombies.add(pid)
            send(self.sock, {"op": "exited", "pid": pid, "code": exit_code(result)})


def become_host(fds: list[int], argv: list[str], env: dict[str, str] | None) -> None:
    """In the forked child: its own session, the three pipes as stdin/stdout/stderr, nothing
    else of the server's, then the host's main(), which ends the process itself."""
    code = 70
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = [HOST_MODULE, *argv]
        from worker.sessionhost import main as host

        host.main(argv)
    except SystemExit as exc:  # argparse refusing the arguments
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:
        print(f"forked session host failed to start: {exc!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(code)


def preload() -> dict[str, Any]:
    """Import everything a host needs except neonize's Go half; refuse to serve if that failed
    to stay out, or if anything started a thread (fork would copy a thread's locks, not it)."""
    started = time.process_time()
    from worker.sessionhost import main as host
    from worker.sessionhost import preload as halves

    host.configure_logging()
    imported, later = halves.preload_neonize()
    if halves.go_runtime_loaded():
        raise RuntimeError("the Go library was loaded before the fork")
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(f"{threads} threads after the imports; forking needs exactly one")
    gc.collect()
    gc.freeze()  # hosts never collect these objects, so their pages stay shared
    return {"imported": imported, "held_back": later, "cpu_s": round(time.process_time() - started, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.sessionhost.forkserver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--fd", type=int, required=True, help="the worker's SOCK_SEQPACKET socket")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker ends it by closing the socket
    try:
        info = preload()
    except Exception as exc:
        print(f"fork server: cannot preload: {exc}", file=sys.stderr, flush=True)
        send(sock, {"op": "failed", "error": str(exc)})
        sys.exit(1)
    send(sock, {"op": "ready", "pid": os.getpid(), **info})
    Server(sock).run()


if __name__ == "__main__":
    main()
