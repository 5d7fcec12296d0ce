"""The neonize transport's session alone: real session hosts running real neonize, pointed at
the fault kit's loopback proxies, plus a scripted fake host (tests/support/fake_host.py) for
what only a real phone or a broken host could produce. No worker, no database.

Each real host costs ~0.6 s of CPU (neonize's import); waits are deadlines on the next event,
generous because a busy machine can make a host's start take seconds.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.faultkit import FaultProxy
from tests.support.processes import process_state
from worker.sessionhost import protocol as p
from worker.transports import base
from worker.transports.base import OutgoingMessage, SessionSpec, TransportError, TransportEvent
from worker.transports.host_process import QUIT_GRACE_S, REAPER
from worker.transports.neonize import NeonizeSession, NeonizeTransport

pytestmark = pytest.mark.slow
FAKE_HOST = Path(__file__).resolve().parents[2] / "support" / "fake_host.py"
DIAL_ERROR = "failed to dial whatsapp web websocket"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def open_session(tmp_path: Path, proxy: str = "", script: dict[str, Any] | None = None) -> NeonizeSession:
    argv = None
    if script is not None:
        (tmp_path / "script.json").write_text(json.dumps(script))
        argv = [sys.executable, str(FAKE_HOST), f"@{tmp_path / 'script.json'}"]
    transport = NeonizeTransport(sessions_per_host=1, **({"host_argv": argv} if argv else {}))
    return transport.open_session(SessionSpec(1, "ABCDEF0123456", proxy, str(tmp_path / "store")))


def wait_for(session: NeonizeSession, kind: str, timeout: float = 30.0) -> TransportEvent:
    """The next event of `kind`; events before it are skipped, those after it kept for the next
    call. Fails at the deadline, showing what came instead."""
    backlog: list[TransportEvent] = session.__dict__.setdefault("_test_backlog", [])
    deadline = time.monotonic() + timeout
    while True:
        backlog += session.poll(NOW)
        for i, event in enumerate(backlog):
            if event.kind == kind:
                del backlog[: i + 1]
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} within {timeout}s; got {backlog}")
        time.sleep(0.01)


def quiet_for(session: NeonizeSession, seconds: float) -> list[TransportEvent]:
    seen: list[TransportEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += session.poll(NOW)
        time.sleep(0.02)
    return seen


def wait_ready(session: NeonizeSession, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not session.ready and time.monotonic() < deadline:
        assert session.poll(NOW) == []
        time.sleep(0.01)
    assert session.ready, "the host never said ready"


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie its parent (the fork server) is about to reap."""
    return process_state(pid) in ("", "Z")


def ev(event: str, /, **fields: Any) -> dict[str, Any]:
    """A line for fake_host.py's script: an event of this session."""
    return {"event": event, "session": "$session", **fields}


def reply(event: str, /, **fields: Any) -> dict[str, Any]:
    """The same, answering the command that triggered it."""
    return ev(event, ref="$ref", **fields)


@pytest.mark.parametrize(
    ("mode", "text"), [("refuse", "connection refused"), ("reset", "reset by peer"), ("close_after", "EOF")]
)
def test_a_failing_proxy_is_connect_failed_with_neonizes_own_text(tmp_path, mode, text):
    with FaultProxy(mode) as proxy:
        session = open_session(tmp_path, proxy.url)
        session.connect(NOW)
        event = wait_for(session, base.CONNECT_FAILED)
        session.close()
    assert DIAL_ERROR in event.data["error"]
    assert text in event.data["error"]
    assert f"127.0.0.1:{proxy.port}" in event.data["error"]
    assert event.data["retryable"] is True


def test_sessions_of_one_host_failing_through_different_proxies_each_get_their_own_text(tmp_path):
    transport = NeonizeTransport(sessions_per_host=4)
    modes = {"refuse": "connection refused", "reset": "reset by peer", "close_after": "EOF"}
    with FaultProxy("refuse") as refuse, FaultProxy("reset") as reset, FaultProxy("close_after") as eof:
        proxies = {"refuse": refuse, "reset": reset, "close_after": eof}
        specs = [
            SessionSpec(i, mode, proxies[mode].url, str(tmp_path / mode)) for i, mode in enumerate(modes)
        ]
        sessions = [transport.open_session(spec) for spec in specs]
        for session in sessions:
            session.connect(NOW)
        errors = {s.spec.instance_id: wait_for(s, base.CONNECT_FAILED).data["error"] for s in sessions}
        assert len({s.pid for s in sessions}) == 1  # one host carried all three
        for session in sessions:
            session.close()
    for mode, text in modes.items():
        assert text in errors[mode]
        assert f"127.0.0.1:{proxies[mode].port}" in errors[mode]


def test_a_hanging_dial_reports_nothing_answers_ping_and_close_ends_the_host_at_once(tmp_path):
    with FaultProxy("hang") as proxy:
        session = open_session(tmp_path, proxy.url)
        session.connect(NOW)
        wait_ready(session)
        assert quiet_for(session, 0.5) == []
        assert proxy.accepted == 1
        session.check_alive(NOW)
        # Not busy: the hung dial does not hold the host's lock (other sessions go on).
        assert wait_for(session, base.PONG).data == {"connected": False, "logged_in": False, "busy": False}
        pid = session.pid
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 0.5  # close() never waits for the child to die
        assert REAPER.wait_idle(10)
        assert gone(pid)
    # Ended by the SIGTERM, or by the stdin EOF that close() sends a moment before it (a host
    # with no live connection exits at once on EOF, and on a loaded machine it may win).
    assert session.last_host.proc.returncode in (0, -signal.SIGTERM)


def test_a_host_killed_from_outside_is_session_crashed_naming_the_signal(tmp_path):
    with FaultProxy("hang") as proxy:
        session = open_session(tmp_path, proxy.url)
        session.connect(NOW)
        wait_ready(session)
        pid = session.pid
        os.kill(pid, signal.SIGKILL)
        event = wait_for(session, base.SESSION_CRASHED)
    assert event.data["error"].startswith(f"session host (pid {pid}) killed by SIGKILL")
    assert event.data["exit_code"] == -signal.SIGKILL
    assert session.host is None


def test_a_host_that_prints_garbage_is_a_protocol_error_and_is_killed(tmp_path):
    session = open_session(tmp_path, script={"connect": [{"raw": "hello, I am not JSON\n"}]})
    session.connect(NOW)
    event = wait_for(session, base.SESSION_CRASHED)
    assert "protocol error from session host" in event.data["error"]
    assert "not JSON" in event.data["error"]
    assert REAPER.wait_idle(10)
    assert session.last_host.proc.returncode == -signal.SIGTERM


def test_a_host_dying_of_a_go_fatal_error_reports_that_line_exit_code_and_stderr_tail(tmp_path):
    dump = "fatal error: concurrent map writes\n\n" + "goroutine 7 [running]:\nruntime.throw()\n" * 300
    session = open_session(tmp_path, script={"connect": [{"stderr": dump}, {"exit": 2}]})
    session.connect(NOW)
    error = wait_for(session, base.SESSION_CRASHED).data["error"]
    # The verdict comes first, though 4 KB of goroutine dump followed it.
    assert "exited with code 2: fatal error: concurrent map writes; stderr tail: ..." in error
    assert error.endswith("runtime.throw()")
    assert len(error) < 2000


def test_a_time_out_of_datetimes_range_is_replaced_by_now_not_raised(tmp_path):
    # Python's json reads 1e20 and NaN; datetime cannot hold either.
    odd = [ev("receipt", message_ids=["3EB0AA"], kind="read", at=at) for at in (1e20, 1e15)]
    nan = {"raw": '{"event": "receipt", "session": "ABCDEF0123456", "at": NaN}\n'}
    session = open_session(tmp_path, script={"connect": [*odd, nan]})
    session.connect(NOW)
    times = [wait_for(session, base.RECEIPT).data["at"] for _ in range(3)]
    session.close()
    assert times == [NOW.isoformat()] * 3


def test_events_the_host_writes_just_before_dying_still_arrive(tmp_path):
    failed = reply("connect_failed", error="boom", retryable=True)
    session = open_session(tmp_path, script={"connect": [failed, {"exit": 0}]})
    session.connect(NOW)
    assert wait_for(session, base.CONNECT_FAILED).data == {"error": "boom", "retryable": True}
    assert "exited with code 0" in wait_for(session, base.SESSION_CRASHED).data["error"]


def test_disconnect_closes_stdin_and_even_a_hung_host_exits_by_itself(tmp_path):
    with FaultProxy("hang") as proxy:
        session = open_session(tmp_path, proxy.url)
        session.connect(NOW)
        wait_ready(session)
        session.disconnect(NOW)
        assert session.poll(NOW) == [
            TransportEvent(base.DISCONNECTED, {"reason": "requested", "requested": True})
        ]
        session.close()
        assert REAPER.wait_idle(QUIT_GRACE_S + 2)
    assert session.last_host.proc.returncode == 0  # stdin EOF, before the reaper's SIGTERM


def test_a_corrupt_store_is_a_final_relink_failure(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "whatsmeow.sqlite3").write_bytes(os.urandom(4096))
    session = open_session(tmp_path)
    session.connect(NOW)
    event = wait_for(session, base.CONNECT_FAILED)
    session.close()
    assert "re-link required" in event.data["error"]
    assert event.data["retryable"] is False


def test_a_store_that_cannot_be_created_is_a_final_failure_naming_the_os_error(tmp_path):
    # Tests run as root, where chmod stops nothing; no directory can live below a regular file.
    (tmp_path / "file").write_text("x")
    session = open_session(tmp_path / "file")
    session.connect(NOW)
    event = wait_for(session, base.CONNECT_FAILED)
    session.close()
    assert event.data == {
        "error": f"cannot use session store {tmp_path}/file/store: Not a directory",
        "retryable": False,
    }


def test_a_proxy_url_neonize_rejects_is_a_final_failure(tmp_path):
    session = open_session(tmp_path, "ftp://127.0.0.1:21")
    session.connect(NOW)
    event = wait_for(session, base.CONNECT_FAILED)
    session.close()
    assert 'unsupported proxy scheme "ftp"' in event.data["error"]
    assert event.data["retryable"] is False


ANA = {"jid": "628123:4@s.whatsapp.net", "push_name": "Ana"}
SCRIPT = {
    "connect": [ev("qr", code="2@first"), ev("qr", code="2@second")],
    "pair_phone": [reply("error", error="pair_phone failed: rate-overlimit")],
    "send": [reply("send_result", ok=True, message_id="3EB0AA", at=1767268800)],
    "ping": [
        ev("paired", **ANA),
        ev("connected", **ANA),
        ev("receipt", message_ids=["3EB0AA"], kind="read", at=1767268801),
        ev(
            "incoming",
            message_id="M1",
            chat="6289@s.whatsapp.net",
            sender="19000@lid",
            sender_phone="6289",
            text="foto",
            kind="image",
            quoted_message_id="Q1",
            media={"mimetype": "image/jpeg", "size": 3, "download": {"direct_path": "/v/x"}},
            raw={"key": {"id": "M1"}},
            at=1767268802,
        ),
        reply("pong", connected=True, logged_in=True, busy=False),
    ],
    "logout": [reply("logged_out", reason="requested")],
}


def test_host_events_become_the_transport_events_the_worker_expects(tmp_path):
    session = open_session(tmp_path, script=SCRIPT)
    session.connect(NOW)
    first, second = wait_for(session, base.QR), wait_for(session, base.QR)
    assert first.data == {"code": "2@first", "expires_at": (NOW + timedelta(seconds=60)).isoformat()}
    assert second.data["expires_at"] == (NOW + timedelta(seconds=20)).isoformat()
    session.pair_phone("628123456789", NOW)
    assert wait_for(session, base.PAIR_CODE).data == {"error": "pair_phone failed: rate-overlimit"}
    session.check_alive(NOW)
    assert wait_for(session, base.PAIRED).data == {"jid": "628123:4@s.whatsapp.net", "push_name": "Ana"}
    assert wait_for(session, base.CONNECTED).data["jid"] == "628123:4@s.whatsapp.net"
    receipt = wait_for(session, base.RECEIPT).data
    assert receipt["message_ids"] == ["3EB0AA"]
    assert receipt["at"] == "2026-01-01T12:00:01+00:00"
    incoming = wait_for(session, base.INCOMING).data
    assert (incoming["kind"], incoming["text"], incoming["sender_phone"]) == ("image", "foto", "6289")
    assert incoming["media"]["download"] == {"direct_path": "/v/x"}
    assert (incoming["quoted_message_id"], incoming["raw"]) == ("Q1", {"key": {"id": "M1"}})
    assert incoming["at"] == "2026-01-01T12:00:02+00:00"
    assert wait_for(session, base.PONG).data["connected"] is True
    session.send(OutgoingMessage(ref="msg-1", to="628123456789", kind="text", text="halo"), NOW)
    assert wait_for(session, base.SEND_RESULT).data == {"ref": "msg-1", "ok": True, "message_id": "3EB0AA"}
    session.logout(NOW)
    assert wait_for(session, base.LOGGED_OUT).data == {"reason": "requested", "requested": True}
    session.close()


def test_group_and_contact_changes_reach_the_worker_with_iso_times(tmp_path):
    changed = ev(
        "group_changed",
        group_id="120363000000000001@g.us",
        by="628333@s.whatsapp.net",
        changes={"name": "Tim Launch"},
        participants={"added": ["628222@s.whatsapp.net"]},
        at=1767268800,
    )
    picture = ev("contact_changed", contact_id="19000@lid", phone="6289", changes={"picture": "removed"})
    session = open_session(tmp_path, script={"connect": [], "ping": [changed, picture]})
    session.connect(NOW)
    session.check_alive(NOW)
    assert wait_for(session, base.GROUP_CHANGED).data == {
        "group_id": "120363000000000001@g.us",
        "by": "628333@s.whatsapp.net",
        "changes": {"name": "Tim Launch"},
        "participants": {"added": ["628222@s.whatsapp.net"]},
        "at": "2026-01-01T12:00:00+00:00",
    }
    assert wait_for(session, base.CONTACT_CHANGED).data == {
        "contact_id": "19000@lid",
        "phone": "6289",
        "changes": {"picture": "removed"},
        "at": NOW.isoformat(),  # the host gave no time: the worker's now
    }
    session.close()


def test_a_send_the_host_calls_uncertain_reaches_the_worker_as_uncertain(tmp_path):
    error = "timed out waiting for message send response"
    unknown = reply("send_result", ok=False, error=error, retryable=False, uncertain=True)
    session = open_session(tmp_path, script={"connect": [reply("connected", **ANA)], "send": [unknown]})
    session.connect(NOW)
    wait_for(session, base.CONNECTED)
    session.send(OutgoingMessage(ref="msg-1", to="628123456789", kind="text", text="halo"), NOW)
    data = wait_for(session, base.SEND_RESULT).data
    session.close()
    assert (data["ok"], data["retryable"], data["uncertain"], data["error"]) == (False, False, True, error)


def test_without_a_host_every_call_answers_at_once(tmp_path):
    session = open_session(tmp_path)
    session.send(OutgoingMessage(ref="m1", to="628123456789", kind="text", text="halo"), NOW)
    session.send(OutgoingMessage(ref="m2", to="628123456789", kind="text", text=""), NOW)
    session.check_alive(NOW)
    session.logout(NOW)
    with pytest.raises(TransportError, match="showing a QR code"):
        session.pair_phone("628123456789", NOW)
    sent, invalid, crashed, logged_out = session.poll(NOW)
    assert sent.data["dead_socket"] is True
    assert sent.data["retryable"] is True
    assert invalid.data["retryable"] is False
    assert "needs a non-empty 'text'" in invalid.data["error"]
    assert crashed.kind == base.SESSION_CRASHED
    assert logged_out.data["requested"] is True


def test_many_failed_sessions_leave_the_callers_fds_threads_and_children_as_they_were(tmp_path):
    transport = NeonizeTransport(sessions_per_host=5, recycle_after=7)
    transport.pool.IDLE_S = 0.0  # an empty host exits at the next poll, so "after" is comparable

    def attempts(count: int, proxy: FaultProxy) -> list[int | None]:
        pids = []
        for batch in range(0, count, 5):
            specs = [
                SessionSpec(i, f"S{batch + i}", proxy.url, str(tmp_path / f"s{batch + i}")) for i in range(5)
            ]
            sessions = [transport.open_session(spec) for spec in specs]
            for session in sessions:
                session.connect(NOW)
            for session in sessions:
                wait_for(session, base.CONNECT_FAILED)
                pids.append(session.pid)
                session.close()
        transport.poll([], NOW)
        return pids

    with FaultProxy("refuse") as proxy:
        attempts(5, proxy)  # warm-up: imports, the reaper thread, the fork server
        assert REAPER.wait_idle(10)
        fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
        pids = attempts(20, proxy)
        assert transport.pool.hosts == []
        assert REAPER.wait_idle(10)
        assert len(os.listdir("/proc/self/fd")) == fds
        assert threading.active_count() == threads
    assert None not in pids
    assert all(gone(pid) for pid in pids if pid is not None)


def test_a_host_answer_to_a_question_reaches_the_worker_with_the_questions_ref(tmp_path):
    answers = [
        reply("query_result", ok=True, data={"jid": "628123:4@s.whatsapp.net", "name": "Ana"}),
        reply("query_result", ok=False, error="not a participant", code="forbidden"),
        reply("error", error="query failed: RuntimeError('boom')"),
    ]
    script = {"connect": [reply("connected", **ANA)], "query": {"each": [[answer] for answer in answers]}}
    session = open_session(tmp_path, script=script)
    session.connect(NOW)
    wait_for(session, base.CONNECTED)
    for ref in ("?1", "?2", "?3"):
        session.query("profile", {}, ref=ref, deadline=None, now=NOW)
    first, second, third = (wait_for(session, base.QUERY_RESULT).data for _ in range(3))
    session.close()
    assert first == {"ref": "?1", "ok": True, "data": {"jid": "628123:4@s.whatsapp.net", "name": "Ana"}}
    assert second == {"ref": "?2", "ok": False, "error": "not a participant", "code": "forbidden"}
    assert third == {
        "ref": "?3",
        "ok": False,
        "error": "query failed: RuntimeError('boom')",
        "code": "failed",
    }


def test_a_question_without_a_host_is_answered_unavailable_at_once(tmp_path):
    session = open_session(tmp_path)
    session.query("profile", {}, ref="?1", deadline=None, now=NOW)
    (answer,) = session.poll(NOW)
    assert answer.kind == base.QUERY_RESULT
    assert (answer.data["ref"], answer.data["code"]) == ("?1", "unavailable")


def download_session(tmp_path: Path, *steps: dict[str, Any]) -> NeonizeSession:
    script = {"connect": [reply("connected", **ANA)], "query": list(steps)}
    session = open_session(tmp_path, script=script)
    session.connect(NOW)
    wait_for(session, base.CONNECTED)
    return session


def ask_download(session: NeonizeSession, max_bytes: int = 1024) -> dict[str, Any]:
    args = {"download": {"media_type": "image", "direct_path": "/v/x"}, "max_bytes": max_bytes}
    session.query("download_media", args, ref="?9", deadline=None, now=NOW)
    return wait_for(session, base.QUERY_RESULT).data


def test_downloaded_media_reaches_the_worker_read_back_from_the_hosts_file(tmp_path):
    session = download_session(
        tmp_path, {"write_path": "JPEG!"}, reply("query_result", ok=True, data={"size": 5, "sha256": "ab"})
    )
    answer = ask_download(session)
    session.close()
    assert answer == {
        "ref": "?9",
        "ok": True,
        "data": {"size": 5, "sha256": "ab", "base64": base64.b64encode(b"JPEG!").decode()},
    }


def test_the_media_file_is_gone_once_answered_whether_or_not_it_worked(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # looked up again from TMPDIR
    try:
        session = download_session(
            tmp_path,
            {"write_path": "JPEG!"},
            reply("query_result", ok=False, error="download failed with status code 410", code="gone"),
        )
        answer = ask_download(session)
        session.close()
    finally:
        tempfile.tempdir = None
    assert answer["code"] == "gone"
    assert [name for name in os.listdir(tmp_path) if name.startswith("waziper-media-")] == []


def test_a_file_larger_than_allowed_is_refused_by_the_worker_too(tmp_path):
    session = download_session(
        tmp_path, {"write_path": "x" * 50}, reply("query_result", ok=True, data={"size": 1, "sha256": ""})
    )
    answer = ask_download(session, max_bytes=10)
    session.close()
    assert (answer["ok"], answer["code"]) == (False, "too_large")


def test_a_download_a_dying_host_never_answers_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None
    try:
        session = download_session(tmp_path)  # the host says nothing to the question
        session.query("download_media", {"max_bytes": 10}, ref="?9", deadline=None, now=NOW)
        assert len(session.downloads) == 1
        session.close()
    finally:
        tempfile.tempdir = None
    assert [name for name in os.listdir(tmp_path) if name.startswith("waziper-media-")] == []


def test_a_large_answer_reaches_the_worker_and_the_host_lives_on(tmp_path):
    """Hundreds of groups with their members make an answer of megabytes: it is an answer, not
    a host gone mad (whose over-long line ends it)."""
    members = [{"id": f"62812{i:08d}@s.whatsapp.net", "admin": False} for i in range(1024)]
    groups = [{"id": f"1203630000{g:08d}@g.us", "participants": members} for g in range(40)]
    script = {"connect": [reply("connected", **ANA)], "query": [reply("query_result", ok=True, data=groups)]}
    session = open_session(tmp_path, script=script)
    session.connect(NOW)
    wait_for(session, base.CONNECTED)
    session.query("groups", {}, ref="?1", deadline=None, now=NOW)
    answer = wait_for(session, base.QUERY_RESULT).data
    alive = session.host is not None and session.host.process.exit_code() is None
    session.close()
    assert len(json.dumps(groups)) > 2 * p.MAX_LINE_BYTES
    assert (answer["ok"], len(answer["data"])) == (True, 40)
    assert alive
