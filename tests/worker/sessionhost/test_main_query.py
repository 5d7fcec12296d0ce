"""The host's query command in-process against a fake neonize client: an answer, a refusal, a
question that arrives after its deadline (never put to WhatsApp) and one for a session that is
not connected; downloading a received message's media into the worker's file; and the host
looking up a hidden sender's number."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_neonize import FakeClient, make_host, settle
from tests.support.neonize_protos import jid, kit, pb
from worker.sessionhost import protocol as p
from worker.sessionhost.main import Host
from worker.sessionhost.queries import QueryRefused
from worker.sessionhost.session import Session

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


async def ask(host: Host, out: Any, op: str = "profile", **fields: Any) -> dict[str, Any]:
    await host.handle(p.command(p.QUERY, session="S", ref="?7", op=op, **fields))
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


# -- download_media ---------------------------------------------------------------------------

PHOTO = b"\xff\xd8 a small jpeg"
DOWNLOAD = {
    "media_type": "image",
    "direct_path": "/v/t62.7118-24/abc",
    "media_key": base64.b64encode(b"k" * 32).decode(),
    "file_enc_sha256": base64.b64encode(b"e" * 32).decode(),
    "file_sha256": base64.b64encode(hashlib.sha256(PHOTO).digest()).decode(),
    "file_length": len(PHOTO),
}


def whatsapp_serving(content: bytes, seen: list[tuple[Any, ...]] | None = None) -> Any:
    async def download_media_with_path(*args: Any) -> bytes:
        if seen is not None:
            seen.append(args)
        return content

    return download_media_with_path


async def download(host: Host, out: Any, path: Path, **args: Any) -> dict[str, Any]:
    args = {"download": DOWNLOAD, "path": str(path), "max_bytes": 1024, **args}
    return await ask(host, out, op="download_media", args=args)


async def test_download_media_writes_the_bytes_into_the_workers_file_and_answers_size_and_hash(
    tmp_path: Path,
) -> None:
    host, out = make_host()
    seen: list[tuple[Any, ...]] = []
    linked(host, download_media_with_path=whatsapp_serving(PHOTO, seen))
    target = tmp_path / "media.bin"
    target.write_bytes(b"")
    result = await download(host, out, target)
    assert result["data"] == {"size": len(PHOTO), "sha256": hashlib.sha256(PHOTO).hexdigest()}
    assert target.read_bytes() == PHOTO


async def test_download_media_hands_neonize_the_path_keys_and_media_type(tmp_path: Path) -> None:
    host, out = make_host()
    seen: list[tuple[Any, ...]] = []
    linked(host, download_media_with_path=whatsapp_serving(PHOTO, seen))
    (tmp_path / "m").write_bytes(b"")
    await download(host, out, tmp_path / "m", download={**DOWNLOAD, "media_type": "sticker"})
    [(direct_path, enc, sha, key, length, media_type, mms_type)] = seen
    assert (direct_path, enc, key, length) == ("/v/t62.7118-24/abc", b"e" * 32, b"k" * 32, len(PHOTO))
    assert sha == hashlib.sha256(PHOTO).digest()
    assert (media_type.value, mms_type.value) == (0, "image")


async def test_media_larger_than_allowed_is_refused_before_it_is_fetched(tmp_path: Path) -> None:
    host, out = make_host()
    called = linked(host, download_media_with_path=whatsapp_serving(PHOTO))
    result = await download(host, out, tmp_path / "m", max_bytes=len(PHOTO) - 1)
    assert (result["ok"], result["code"]) == (False, "too_large")
    assert called == []


async def test_media_that_turns_out_larger_than_allowed_is_refused_and_not_written(tmp_path: Path) -> None:
    host, out = make_host()
    linked(host, download_media_with_path=whatsapp_serving(b"x" * 2000))
    target = tmp_path / "m"
    target.write_bytes(b"")
    result = await download(host, out, target)
    assert (result["ok"], result["code"]) == (False, "too_large")
    assert target.read_bytes() == b""


async def test_media_whatsapp_no_longer_serves_is_gone(tmp_path: Path) -> None:
    host, out = make_host()

    async def expired(*_args: Any) -> bytes:
        raise RuntimeError("download failed with status code 410")

    linked(host, download_media_with_path=expired)
    result = await download(host, out, tmp_path / "m")
    assert (result["ok"], result["code"]) == (False, "gone")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"download": "nope"}, "invalid"),
        ({"max_bytes": 0}, "invalid"),
        ({"download": {**DOWNLOAD, "media_key": "not base64!"}}, "invalid"),
        ({"download": {**DOWNLOAD, "direct_path": ""}}, "not_found"),
        ({"download": {**DOWNLOAD, "media_type": "location"}}, "not_found"),
    ],
)
async def test_a_download_question_that_makes_no_sense_is_refused(
    tmp_path: Path, args: dict[str, Any], code: str
) -> None:
    host, out = make_host()
    called = linked(host, download_media_with_path=whatsapp_serving(PHOTO))
    result = await download(host, out, tmp_path / "m", **args)
    assert (result["ok"], result["code"]) == (False, code)
    assert called == []


async def test_the_host_never_creates_a_file_for_a_download(tmp_path: Path) -> None:
    host, out = make_host()
    linked(host, download_media_with_path=whatsapp_serving(PHOTO))
    result = await download(host, out, tmp_path / "not-made-by-the-worker")
    assert (result["ok"], result["code"]) == (False, "failed")
    assert not (tmp_path / "not-made-by-the-worker").exists()


# -- hidden senders' numbers ------------------------------------------------------------------


async def test_the_host_looks_a_hidden_sender_up_in_whatsmeows_store() -> None:
    host, _out = make_host()

    async def get_pn_from_lid(lid: Any) -> Any:
        return SimpleNamespace(User="628222", Server="s.whatsapp.net")

    linked(host, get_pn_from_lid=get_pn_from_lid)
    lid = SimpleNamespace(User="19000", Server="lid")
    assert await host._phone_of_lid(host.sessions["S"], lid) == "628222"


async def test_a_hidden_sender_the_store_does_not_know_has_no_number() -> None:
    host, _out = make_host()

    async def get_pn_from_lid(lid: Any) -> Any:
        raise RuntimeError("no mapping")

    linked(host, get_pn_from_lid=get_pn_from_lid)
    assert await host._phone_of_lid(host.sessions["S"], SimpleNamespace(User="1", Server="lid")) == ""


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
