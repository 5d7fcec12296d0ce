"""The host's send command in-process against a fake neonize client: which failures may be
retried (the message certainly did not go out) and which leave its fate unknown (it may have
reached WhatsApp, so a retry could deliver it twice)."""

from __future__ import annotations

import asyncio
import functools
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_neonize import make_host, settle
from worker.sessionhost import protocol as p
from worker.sessionhost.main import Host
from worker.sessionhost.session import Session

pytestmark = pytest.mark.asyncio
TO = "6281234567890"


def connected(host: Host, send_message: Any) -> None:
    client = SimpleNamespace(send_message=send_message)
    host.sessions["S"] = Session(
        sid="S", store="/nonexistent", client=client, connected=True, on_whatsapp={TO}
    )


async def send(host: Host, out: Any) -> dict[str, Any]:
    await host.handle(p.command(p.SEND, session="S", ref="m1", to=TO, kind="text", text="halo"))
    await settle(host)
    return next(line for line in out.lines if line["event"] == p.SEND_RESULT)


@pytest.mark.parametrize(
    "error",
    [
        "timed out waiting for message send response",  # whatsmeow's ErrMessageTimedOut
        "websocket disconnected before message send returned response",
    ],
)
async def test_a_send_whose_ack_never_came_is_uncertain_not_retryable(error: str) -> None:
    host, out = make_host()

    async def send_message(jid: str, message: Any) -> Any:
        raise RuntimeError(error)

    connected(host, send_message)
    result = await send(host, out)
    assert (result["ok"], result["retryable"], result.get("uncertain")) == (False, False, True)


async def test_a_send_call_that_outlives_its_timeout_is_uncertain() -> None:
    host, out = make_host()
    host.call = functools.partial(Host.call, host, timeout=0.05)  # type: ignore[method-assign]
    release = asyncio.Event()

    async def send_message(jid: str, message: Any) -> Any:
        await release.wait()  # Go is inside, maybe with the message already on the wire

    connected(host, send_message)
    result = await send(host, out)
    release.set()
    assert (result["ok"], result["retryable"], result.get("uncertain")) == (False, False, True)


async def test_a_send_refused_before_it_left_stays_retryable() -> None:
    host, out = make_host()

    async def send_message(jid: str, message: Any) -> Any:
        raise RuntimeError("websocket not connected")

    connected(host, send_message)
    result = await send(host, out)
    assert (result["ok"], result["retryable"], result.get("uncertain")) == (False, True, None)
