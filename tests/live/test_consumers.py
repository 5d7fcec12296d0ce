"""WS /ws/instances/<id>/: who may watch, the snapshot first, live pushes, `since` replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerReset
from instances.actual_state import store_qr, write_state
from instances.events import emit_event
from instances.models import AccessToken, Instance
from instances.qr import qr_data_uri
from instances.service import create_instance
from live.relay import get_relay
from tests.support import live as live_support
from tests.support.auth_matrix import user_for
from tests.support.live import communicator, frames_until, session_cookie
from waziper_site.asgi import application

live, live_settings = live_support.live, live_support.live_settings  # fixtures
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live")]
QR = "2@sandbox-qr,noise,identity,secret"


def path(instance: Instance, query: str = "") -> str:
    return f"/ws/instances/{instance.instance_id}/" + (f"?{query}" if query else "")


async def connect(instance: Instance, *, query: str = "", user: Any = None) -> Any:
    cookie = await database_sync_to_async(session_cookie)(user) if user is not None else None
    comm = communicator(path(instance, query), cookie)
    connected, code = await comm.connect()
    assert connected, f"refused with {code}"
    return comm


async def refusal(instance_path: str, *, user: Any = None) -> Any:
    cookie = await database_sync_to_async(session_cookie)(user) if user is not None else None
    comm = communicator(instance_path, cookie)
    connected, code = await comm.connect()
    assert not connected
    return code


db = database_sync_to_async


async def test_it_refuses_a_socket_without_credentials_before_accepting(instance: Instance) -> None:
    assert await refusal(path(instance)) == 4401


async def test_it_refuses_a_revoked_or_unknown_token_even_with_a_session(instance: Instance, owner) -> None:
    assert await refusal(path(instance, "access_token=wzp_nope"), user=owner) == 4401


async def test_someone_elses_instance_is_refused_like_a_missing_one(
    instance: Instance, stranger, stranger_token: str
) -> None:
    assert await refusal(path(instance), user=stranger) == 4404
    assert await refusal(path(instance, f"access_token={stranger_token}")) == 4404
    assert await refusal("/ws/instances/0000000000000/", user=stranger) == 4404
    assert await refusal("/ws/instances/not-an-id/", user=stranger) == 4404


def _person(request: pytest.FixtureRequest, who: str) -> tuple[Any, str]:
    user = user_for(request, who)
    return user, AccessToken.objects.issue(user)[1]


@pytest.mark.parametrize("how", ["session", "token"])
@pytest.mark.parametrize("who", ["owner", "viewer", "operator", "superuser"])
async def test_the_owner_and_those_with_the_view_permission_are_let_in_by_session_or_token(
    request: pytest.FixtureRequest, who: str, how: str, instance: Instance
) -> None:
    user, token = await db(_person)(request, who)
    if how == "session":
        comm = await connect(instance, user=user)
    else:
        comm = await connect(instance, query=f"access_token={token}")
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["instance_id"] == instance.instance_id
    await comm.disconnect()


@pytest.mark.parametrize("how", ["session", "token"])
async def test_staff_without_permissions_are_refused_like_a_stranger(
    request: pytest.FixtureRequest, how: str, instance: Instance
) -> None:
    user, token = await db(_person)(request, "staff")
    if how == "session":
        assert await refusal(path(instance), user=user) == 4404
    else:
        assert await refusal(path(instance, f"access_token={token}")) == 4404


async def test_an_address_that_keeps_sending_bad_tokens_is_refused_before_any_token_is_checked(
    instance: Instance, owner_token: str, settings: Any
) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"
    codes = [await refusal(path(instance, f"access_token=wzp_guess{i}")) for i in range(4)]
    assert codes == [4401, 4401, 4401, 4429]
    assert await refusal(path(instance, f"access_token={owner_token}")) == 4429


def raw_socket(instance: Instance, query: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    headers = [(b"host", b"localhost"), *headers]
    return WebsocketCommunicator(application, path(instance, query), headers=headers)


async def test_a_script_without_an_origin_header_is_let_in_by_its_token(
    instance: Instance, owner_token: str
) -> None:
    # Integrations' websocket clients (python websockets, node ws) send no Origin by default.
    comm = raw_socket(instance, f"access_token={owner_token}", [])
    connected, code = await comm.connect()
    assert connected, code
    assert (await comm.receive_json_from())["type"] == "snapshot"
    await comm.disconnect()


@pytest.mark.parametrize("origin", [b"http://evil.example", b"http://["])
async def test_another_sites_page_is_refused_even_with_the_visitors_session(
    instance: Instance, owner, origin: bytes
) -> None:
    cookie = await database_sync_to_async(session_cookie)(owner)
    comm = raw_socket(instance, "", [(b"origin", origin), (b"cookie", cookie.encode())])
    connected, _ = await comm.connect()
    assert not connected


async def test_first_frame_is_the_snapshot_with_the_shown_qr_as_an_image(instance: Instance, owner) -> None:
    now = timezone.now()
    await db(store_qr)(instance.pk, QR, now + timedelta(seconds=60), now, instance.status)
    comm = await connect(instance, user=owner)
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["status"] == "qr_pending"
    assert snapshot["qr"] == QR
    assert snapshot["base64"] == qr_data_uri(QR)
    assert snapshot["breaker"]["state"] == "closed"
    assert snapshot["breaker"]["threshold"] == 15
    last_id = await db(lambda: instance.events.order_by("-id").first().id)()
    assert snapshot["last_event_id"] == last_id
    await comm.disconnect()


async def test_qr_status_and_breaker_changes_are_pushed_in_order(instance: Instance, owner) -> None:
    comm = await connect(instance, user=owner)
    await comm.receive_json_from()
    now = timezone.now()
    await db(store_qr)(instance.pk, QR, now + timedelta(seconds=20), now, "starting")
    jid = "6281234567890:3@s.whatsapp.net"
    await db(write_state)(instance.pk, now, status="connected", previous_status="qr_pending", jid=jid)
    await db(breaker_service.reset)(instance, source=BreakerReset.Source.ADMIN, now=now, reason="test")
    await db(breaker_service.record_failure)(instance, "logged_out", "unlinked", now=now)
    frames = await frames_until(comm, lambda f: f["type"] == "breaker")
    assert [f["type"] for f in frames] == ["status", "qr", "status", "breaker"]
    qr = frames[1]
    assert qr["qr"] == QR
    assert qr["base64"] == qr_data_uri(QR)
    assert qr["expires_at"]
    assert frames[2]["status"] == "connected"
    assert frames[2]["phone"] == "+6281234567890"
    assert frames[3]["state"] == "forced_open"
    assert "open_until" in frames[3]
    ids = [f["id"] for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert await comm.receive_nothing(timeout=0.1)
    await comm.disconnect()


async def test_events_of_other_instances_are_not_pushed(instance: Instance, owner) -> None:
    other = await db(create_instance)(owner, name="other", transport="sandbox")
    comm = await connect(instance, user=owner)
    await comm.receive_json_from()
    await db(emit_event)(other, "status", {"status": "starting", "detail": ""})
    await db(emit_event)(instance, "status", {"status": "starting", "detail": "mine"})
    frame = await comm.receive_json_from()
    assert frame["detail"] == "mine"
    await comm.disconnect()


async def test_since_replays_what_a_page_missed_then_continues_live_without_repeats(
    instance: Instance, owner
) -> None:
    first = await db(emit_event)(instance, "status", {"status": "starting", "detail": "seen"})
    missed = [
        await db(emit_event)(instance, "status", {"status": "connecting", "detail": f"missed {n}"})
        for n in range(3)
    ]
    comm = await connect(instance, user=owner, query=f"since={first.id}")
    snapshot = await comm.receive_json_from()
    assert snapshot["last_event_id"] >= missed[-1].id
    replayed = [await comm.receive_json_from() for _ in missed]
    assert [f["id"] for f in replayed] == [e.id for e in missed]
    assert all(f["replay"] for f in replayed)
    pushed = await db(emit_event)(instance, "status", {"status": "connected", "detail": "live"})
    frame = await comm.receive_json_from()
    assert frame["id"] == pushed.id
    assert "replay" not in frame
    assert await comm.receive_nothing(timeout=0.1)
    await comm.disconnect()


async def test_a_since_ahead_of_this_process_skips_events_the_page_already_has(
    instance: Instance, owner
) -> None:
    comm = await connect(instance, user=owner)
    await comm.receive_json_from()
    await comm.disconnect()
    # Another web process already showed these two to the page.
    seen = [await db(emit_event)(instance, "status", {"status": "starting", "detail": "x"}) for _ in range(2)]
    await get_relay().stop()
    comm = await connect(instance, user=owner, query=f"since={seen[-1].id}")
    await comm.receive_json_from()
    new = await db(emit_event)(instance, "status", {"status": "connecting", "detail": "new"})
    assert (await comm.receive_json_from())["id"] == new.id
    await comm.disconnect()


@pytest.mark.parametrize("since", ["%C2%B2", "9" * 5000, "-1"])
async def test_a_since_that_is_not_an_event_id_is_ignored(instance: Instance, owner, since: str) -> None:
    comm = await connect(instance, user=owner, query=f"since={since}")
    assert (await comm.receive_json_from())["type"] == "snapshot"
    assert await comm.receive_nothing(timeout=0.1)
    await comm.disconnect()


async def test_ping_is_answered_and_junk_is_ignored(instance: Instance, owner) -> None:
    comm = await connect(instance, user=owner)
    snapshot = await comm.receive_json_from()
    await comm.send_to(text_data="not json")
    await comm.send_to(text_data="[" * 100_000)  # RecursionError in json, not ValueError
    await comm.send_json_to({"type": "ping"})
    pong = await comm.receive_json_from()
    assert pong == {"type": "pong", "last_event_id": snapshot["last_event_id"]}
    await comm.disconnect()
