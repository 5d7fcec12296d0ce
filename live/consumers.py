"""WS /ws/instances/<instance_id>/: one instance's QR codes, status and breaker, live.

Frames, in order: the snapshot (`{"type": "snapshot", …, "last_event_id": N}`); with
`?since=<id>`, the instance's events after `id` up to N (marked `"replay": true`); then every
new event as it is committed (`qr`, `status`, `breaker`, `pair_code`, `message.received`,
`message.updated`, `message.status`, `group.updated`, `contact.updated`), each with its outbox
`id`. Nothing is sent twice: live frames at or below what this socket already covered are
dropped. Refused sockets are closed before the handshake completes (4401 no/bad credentials,
4404 no such instance, or not one you may view, 4429 too many failed authentications from this
address: instances/throttling.py); an open socket is authorized again every RECHECK_S while it
gets frames or pings, and closed with the same codes once its credentials no longer hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from instances import visibility
from kernel import clientaddr
from live.relay import EventRelay, get_relay, group_name
from operations import frames

logger = logging.getLogger("waziper.live")

# The in-memory layer forgets group members after a day; a ping refreshes membership well before.
GROUP_REFRESH_S = 3600.0
# How stale a socket's authorization may be when it sends a frame or answers a ping: at most
# this long after a token is revoked or an instance given away, its frames (QR and pairing
# codes, incoming messages) stop. One query per socket per period, only while frames flow.
RECHECK_S = 10.0
# The relay's first start reads the outbox once; a database down for this long fails the socket.
RELAY_START_TIMEOUT_S = 10.0
CLOSE_UNAVAILABLE = 1011


def _query(scope: dict[str, Any]) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


class InstanceConsumer(AsyncJsonWebsocketConsumer):
    relay: EventRelay | None = None
    group: str | None = None
    covered = 0  # the highest event id this socket has already covered (snapshot or frame)
    checked_at = 0.0  # when the credentials were last found good (monotonic)

    async def connect(self) -> None:
        query = _query(self.scope)
        self.raw_token = query.get("access_token")
        self.instance_id = self.scope["url_route"]["kwargs"]["instance_id"]
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        decision = await database_sync_to_async(visibility.authorize)(
            self.scope.get("user"), self.raw_token, self.instance_id, clientaddr.from_scope(self.scope)
        )
        if not decision.allowed:
            await self.close(code=decision.refusal)
            return
        self.checked_at = time.monotonic()
        instance = decision.instance
        assert instance is not None
        # Join before reading the relay's position: see instances/live/relay.py.
        self.group = group_name(instance.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.joined_at = time.monotonic()
        self.relay = get_relay()
        try:
            position = await asyncio.wait_for(self.relay.subscribe(), RELAY_START_TIMEOUT_S)
        except TimeoutError:
            await self.disconnect(CLOSE_UNAVAILABLE)
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        snapshot = await database_sync_to_async(frames.snapshot)(instance, position)
        self.covered = position
        since = frames.parse_since(query.get("since"))
        if since is not None and since > position:
            # The page saw newer events through another web process; never repeat those.
            self.covered = min(since, await database_sync_to_async(frames.latest_event_id)())
        await self.accept()
        await self.send_json(snapshot)
        if since is not None and since < position:
            for frame in await database_sync_to_async(frames.replay)(instance, since, position):
                await self.send_json(frame)

    async def disconnect(self, code: int) -> None:
        if self.relay is not None:
            self.relay.unsubscribe()
            self.relay = None
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def still_allowed(self) -> bool:
        """Re-authorize if the last check is older than RECHECK_S; close the socket if refused."""
        if self.group is None:  # refused (or left) already: frames still queued are dropped
            return False
        if time.monotonic() - self.checked_at < RECHECK_S:
            return True
        decision = await database_sync_to_async(visibility.recheck)(
            self.session_key, self.raw_token, self.instance_id
        )
        if decision.allowed:
            self.checked_at = time.monotonic()
            return True
        await self.disconnect(decision.refusal or visibility.CLOSE_UNAUTHENTICATED)
        await self.close(code=decision.refusal)
        return False

    async def outbox_event(self, message: dict[str, Any]) -> None:
        """A frame from the relay (group message type `outbox.event`), already JSON text."""
        if message["id"] <= self.covered or not await self.still_allowed():
            return
        self.covered = message["id"]
        await self.send(text_data=message["text"])

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # Pages ping every half minute: it keeps proxies from closing an idle socket, and
        # renews the group membership the in-memory layer would otherwise expire.
        if isinstance(content, dict) and content.get("type") == "ping":
            if not await self.still_allowed():
                return
            if self.group is not None and time.monotonic() - self.joined_at > GROUP_REFRESH_S:
                await self.channel_layer.group_add(self.group, self.channel_name)
                self.joined_at = time.monotonic()
            await self.send_json({"type": "pong", "last_event_id": self.covered})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply for json
            return None  # a malformed frame from a page is ignored, not a crash
