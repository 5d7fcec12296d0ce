"""An open websocket keeps its right to an instance only while the credentials it came with do.

Frames carry QR codes, pairing codes and incoming messages' text, so revoking a token, logging a
session out, deactivating a user, withdrawing a permission or giving the instance to someone else
must stop them too.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session

from instances.events import emit_event
from instances.models import AccessToken, Instance
from live import consumers
from tests.support import live as live_support
from tests.support.auth_matrix import staff_with
from tests.support.live import communicator, session_cookie

live, live_settings = live_support.live, live_support.live_settings  # fixtures
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live")]
db = database_sync_to_async
MESSAGE = {"message_id": "m1", "chat": "628100000001@s.whatsapp.net", "text": "private words"}


@pytest.fixture(autouse=True)
def recheck_every_event(monkeypatch: Any) -> None:
    monkeypatch.setattr(consumers, "RECHECK_S", 0.0)


async def watch(instance: Instance, *, token: str | None = None, user: Any = None) -> Any:
    cookie = await db(session_cookie)(user) if user is not None else None
    query = f"?access_token={token}" if token else ""
    comm = communicator(f"/ws/instances/{instance.instance_id}/{query}", cookie)
    connected, code = await comm.connect()
    assert connected, code
    assert (await comm.receive_json_from())["type"] == "snapshot"
    return comm


async def assert_closed_without_the_frame(comm: Any, instance: Instance, code: int) -> None:
    await db(emit_event)(instance, "message", MESSAGE)
    output = await comm.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": code}, output


async def test_frames_keep_coming_while_the_credentials_hold(instance: Instance, owner_token: str) -> None:
    comm = await watch(instance, token=owner_token)
    await db(emit_event)(instance, "message", MESSAGE)
    assert (await comm.receive_json_from())["text"] == "private words"
    await comm.disconnect()


async def test_a_revoked_token_stops_the_stream(instance: Instance, owner_token: str) -> None:
    comm = await watch(instance, token=owner_token)
    await db(lambda: AccessToken.objects.authenticate(owner_token).revoke())()
    await assert_closed_without_the_frame(comm, instance, 4401)


async def test_a_deactivated_user_stops_the_stream(instance: Instance, owner, owner_token: str) -> None:
    comm = await watch(instance, token=owner_token)
    owner.is_active = False
    await db(owner.save)()
    await assert_closed_without_the_frame(comm, instance, 4401)


async def test_an_instance_given_to_someone_else_stops_the_old_owners_stream(
    instance: Instance, owner, stranger
) -> None:
    comm = await watch(instance, user=owner)
    await db(Instance.objects.filter(pk=instance.pk).update)(owner=stranger)
    await assert_closed_without_the_frame(comm, instance, 4404)


async def test_a_logged_out_session_stops_the_stream(instance: Instance, admin_user) -> None:
    comm = await watch(instance, user=admin_user)
    await db(Session.objects.all().delete)()
    await assert_closed_without_the_frame(comm, instance, 4401)


async def test_a_withdrawn_view_permission_stops_the_stream(instance: Instance) -> None:
    viewer = await db(staff_with)("viewer", "view_instance")
    comm = await watch(instance, user=viewer)
    await db(viewer.user_permissions.clear)()
    await assert_closed_without_the_frame(comm, instance, 4404)
