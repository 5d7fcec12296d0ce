"""The host's query command in-process against a fake neonize client: an answer, a refusal, a
question that arrives after its deadline (never put to WhatsApp) and one for a session that is
not connected."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_neonize import FakeClient, make_host, settle
from tests.support.neonize_protos import jid, kit, pb
from worker.sessionhost import protocol as p
from worker.sessionhost.main import Host
from worker.sessionhost.queries import QueryRefused
from worker.sessionhost.support import Session

pytestmark = pytest.mark.asyncio


def linked(host: Host, **client_methods: Any) -> list[str]:
    """A connected session whose client records which methods were called."""
    called: list[str] = []

    def recording(name: str, fn: Any) -> Any:
        async def method(*args: Any) -> Any:
            called.append(name)
            return await fn(*args)

        return method

    client = SimpleNamespace(**{name: recording(name, fn) for name, fn in client_methods.items()})
    vars(host.neo).update(vars(kit()))  # what the real host loads from neonize for the ops
    host.sessions["S"] = Session(sid="S", store="/nonexistent", client=client, connected=True)
    return called


async def ask(host: Host, out: Any, **fields: Any) -> dict[str, Any]:
    await host.handle(p.command(p.QUERY, session="S", ref="?7", op="profile", **fields))
    await settle(host)
    return next(line for line in out.lines if line["event"] == p.QUERY_RESULT)


async def me() -> Any:
    return SimpleNamespace(
        JID=SimpleNamespace(User="628123", Server="s.whatsapp.net", Device=3), PushName="Shop"
    )


async def test_profile_answers_the_accounts_jid_and_push_name() -> None:
    host, out = make_host()
    linked(host, get_me=me)  # no picture or about: the client cannot even be asked for them
    result = await ask(host, out)
    assert result == {
        "event": p.QUERY_RESULT,
        "session": "S",
        "ref": "?7",
        "ok": True,
        "data": {"jid": "628123:3@s.whatsapp.net", "name": "Shop", "picture_url": None, "about": None},
    }


async def test_a_question_past_its_deadline_never_reaches_whatsapp() -> None:
    host, out = make_host()
    called = linked(host, get_me=me)
    result = await ask(host, out, deadline=time.time() - 1)
    assert (result["ok"], result["code"]) == (False, "expired")
    assert called == []


async def test_a_session_that_is_not_connected_is_unavailable() -> None:
    host, out = make_host()
    result = await ask(host, out)
    assert (result["ok"], result["code"]) == (False, "unavailable")


async def test_a_refusal_keeps_its_code() -> None:
    host, out = make_host()

    async def refuse() -> Any:
        raise QueryRefused("no such group", "not_found")

    linked(host, get_me=refuse)
    result = await ask(host, out)
    assert (result["ok"], result["error"], result["code"]) == (False, "no such group", "not_found")


async def test_an_error_inside_neonize_is_a_failed_answer_not_a_dead_host() -> None:
    host, out = make_host()

    async def broken() -> Any:
        raise RuntimeError("usync failed")

    linked(host, get_me=broken)
    result = await ask(host, out)
    assert (result["ok"], result["error"], result["code"]) == (False, "usync failed", "failed")


async def test_the_calls_of_ops_asked_at_once_never_overlap_inside_neonize() -> None:
    """An op of several neonize calls (profile makes three) runs them all under the host's lock,
    so questions to many sessions at once still enter neonize one at a time."""
    host, out = make_host()
    tracker = FakeClient.tracker
    vars(host.neo).update(vars(kit()))

    async def go(answer: Any) -> Any:
        await tracker.go_call()
        return answer

    for i in range(5):
        client = SimpleNamespace(
            get_me=lambda: go(
                SimpleNamespace(
                    JID=SimpleNamespace(User="628123", Server="s.whatsapp.net", Device=0), PushName=""
                )
            ),
            get_profile_picture=lambda jid: go(SimpleNamespace(URL="https://pps.whatsapp.net/x", ID="1")),
            get_user_info=lambda jid: go([]),
            get_joined_groups=lambda: go([]),
        )
        host.sessions[f"S{i}"] = Session(sid=f"S{i}", store="/nonexistent", client=client, connected=True)
    lines = [
        p.command(p.QUERY, session=f"S{i}", ref=f"?{i}{op}", op=op)
        for i in range(5)
        for op in ("profile", "groups")
    ]
    await asyncio.gather(*(host.handle(line) for line in lines))
    await settle(host)
    answers = [line for line in out.lines if line["event"] == p.QUERY_RESULT]
    assert [a["ok"] for a in answers] == [True] * 10
    assert tracker.calls == 20
    assert tracker.most == 1


async def test_an_answer_too_large_for_the_pipe_is_refused_as_too_large(monkeypatch: Any) -> None:
    """The worker ends a host that writes a line longer than the protocol allows: the host says
    the answer is too large instead of writing it."""
    monkeypatch.setattr(p, "MAX_EVENT_BYTES", 1000)
    host, out = make_host()

    async def many_groups() -> Any:
        return [pb.GroupInfo(JID=jid(f"1203630000{i:08d}@g.us")) for i in range(100)]

    linked(host, get_joined_groups=many_groups)
    await host.handle(p.command(p.QUERY, session="S", ref="?8", op="groups"))
    await settle(host)
    result = next(line for line in out.lines if line["event"] == p.QUERY_RESULT)
    assert (result["ok"], result["code"]) == (False, "too_large")
