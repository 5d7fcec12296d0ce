"""The host's send of every kind in-process, against a fake neonize client on neonize's real
protobuf classes: typing that never holds the lock across its wait, WhatsApp's window for edits
and deletes checked before anything goes out, LIDs resolved to phone numbers where known."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_neonize import make_host, settle
from tests.support.neonize_kit import kit as load_kit
from worker.sessionhost import protocol as p
from worker.sessionhost.main import Host
from worker.sessionhost.session import Session

pytestmark = pytest.mark.asyncio
KIT = load_kit()
PHONE = "6281234567890"
OURS = {"id": "3EB0AAAA1111", "chat": f"{PHONE}@s.whatsapp.net", "from_me": True}


class Client:
    """A connected account: records each call, and whether the host's lock was held in it."""

    def __init__(self, host: Host, name: str, log: list[tuple[str, str, bool]]) -> None:
        self.host, self.name, self.log = host, name, log

    def _note(self, what: str) -> None:
        self.log.append((self.name, what, self.host.lock.locked()))

    async def send_chat_presence(self, jid: Any, state: Any, media: Any) -> None:
        self._note("composing" if state == KIT.ChatPresence.CHAT_PRESENCE_COMPOSING else "paused")

    async def send_message(self, jid: str, message: Any) -> Any:
        self._note(f"send to {jid}")
        return SimpleNamespace(ID=f"3EB0{self.name}", Timestamp=1_764_000_000)

    async def get_pn_from_lid(self, jid: Any) -> Any:
        self._note(f"lid {jid.User}")
        return (
            KIT.pb.JID(User=PHONE, Server="s.whatsapp.net") if jid.User == "111222333444555" else KIT.pb.JID()
        )

    async def get_me(self) -> Any:
        return SimpleNamespace(JID=KIT.pb.JID(User="628111000111", Server="s.whatsapp.net"))


def make() -> tuple[Host, Any, list[tuple[str, str, bool]]]:
    host, out = make_host()
    host.neo.Message, host.neo.JID, host.neo.build_edit = KIT.Message, KIT.JID, KIT.build_edit
    host.neo.ChatPresence, host.neo.ChatPresenceMedia = KIT.ChatPresence, KIT.ChatPresenceMedia
    log: list[tuple[str, str, bool]] = []
    for sid in ("A", "B"):
        host.sessions[sid] = Session(
            sid=sid, store="/nonexistent", client=Client(host, sid, log), connected=True, on_whatsapp={PHONE}
        )
    return host, out, log


def results(out: Any) -> dict[str, dict[str, Any]]:
    return {line["ref"]: line for line in out.lines if line["event"] == p.SEND_RESULT}


async def test_typing_shows_composing_waits_without_the_lock_then_pauses_and_sends() -> None:
    host, out, log = make()
    gate, waited = asyncio.Event(), []

    async def typing_wait(seconds: float) -> None:
        waited.append(seconds)
        await gate.wait()

    host.sleep = typing_wait
    await host.handle(p.command(p.SEND, session="A", ref="a1", to=PHONE, text="hi", typing_s=4))
    await host.handle(p.command(p.SEND, session="B", ref="b1", to=PHONE, text="meanwhile"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert waited == [4.0]  # A is typing …
    assert not host.lock.locked()  # … without holding neonize's lock
    assert list(results(out)) == ["b1"]  # and B's send did not wait for A's typing
    gate.set()
    await settle(host)
    assert [(who, what) for who, what, _ in log if who == "A"] == [
        ("A", "composing"),
        ("A", "paused"),
        ("A", f"send to {PHONE}@s.whatsapp.net"),
    ]
    assert all(locked for _, _, locked in log)  # every call into neonize was under the lock
    assert results(out)["a1"]["ok"] is True


async def test_a_disconnect_while_typing_fails_the_send_as_retryable_and_sends_nothing() -> None:
    host, out, log = make()
    gate = asyncio.Event()

    async def typing_wait(seconds: float) -> None:
        await gate.wait()

    host.sleep = typing_wait
    await host.handle(p.command(p.SEND, session="A", ref="a1", to=PHONE, text="hi", typing_s=2))
    host.sessions["A"].connected = False
    gate.set()
    await settle(host)
    assert (results(out)["a1"]["ok"], results(out)["a1"]["retryable"]) == (False, True)
    assert not any(what.startswith("send") for _, what, _ in log)


async def test_an_edit_past_whatsapps_window_fails_for_good_and_never_goes_out() -> None:
    host, out, log = make()
    cmd = p.command(
        p.SEND,
        session="A",
        ref="e1",
        to=PHONE,
        kind="edit",
        text="new",
        target=OURS,
        not_after=time.time() - 1,
    )
    await host.handle(cmd)
    await settle(host)
    result = results(out)["e1"]
    assert (result["ok"], result["retryable"]) == (False, False)
    assert "window has passed" in result["error"]
    assert log == []


async def test_an_edit_within_the_window_goes_out_as_an_edit() -> None:
    host, out, log = make()
    cmd = p.command(
        p.SEND,
        session="A",
        ref="e1",
        to=PHONE,
        kind="edit",
        text="new",
        target=OURS,
        not_after=time.time() + 60,
    )
    await host.handle(cmd)
    await settle(host)
    assert results(out)["e1"]["ok"] is True
    assert log[-1][1] == f"send to {PHONE}@s.whatsapp.net"


async def test_a_lid_with_a_known_number_is_sent_to_that_number() -> None:
    host, _, log = make()
    await host.handle(p.command(p.SEND, session="A", ref="l1", to="111222333444555@lid", text="hi"))
    await settle(host)
    assert [what for _, what, _ in log] == ["lid 111222333444555", f"send to {PHONE}@s.whatsapp.net"]


async def test_a_lid_without_a_known_number_is_sent_to_the_lid() -> None:
    host, out, log = make()
    await host.handle(p.command(p.SEND, session="A", ref="l1", to="999888777666555@lid", text="hi"))
    await settle(host)
    assert [what for _, what, _ in log] == ["lid 999888777666555", "send to 999888777666555@lid"]
    assert results(out)["l1"]["ok"] is True


async def test_a_location_is_sent_as_its_message() -> None:
    host, out, _ = make()
    sent: list[Any] = []

    async def send_message(jid: str, message: Any) -> Any:
        sent.append(message)
        return SimpleNamespace(ID="3EB0LOC", Timestamp=0)

    host.sessions["A"].client.send_message = send_message
    fields = {"latitude": -6.2, "longitude": 106.8, "name": "Monas"}
    await host.handle(p.command(p.SEND, session="A", ref="g1", to=PHONE, kind="location", fields=fields))
    await settle(host)
    assert results(out)["g1"]["message_id"] == "3EB0LOC"
    assert (sent[0].locationMessage.degreesLatitude, sent[0].locationMessage.name) == (-6.2, "Monas")
