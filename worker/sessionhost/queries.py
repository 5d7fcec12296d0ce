"""What a live session can be asked, answered from neonize inside the session host.

Each op is a coroutine taking the session's neonize client and the question's arguments and
returning plain JSON data. The host runs the whole op under its one lock, so every call into
neonize stays serialized. neonize's objects are duck-typed here, so this module does not import
neonize either (tests pass fakes). An op that cannot answer raises QueryRefused with a short code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from worker.sessionhost import protocol as p
from worker.sessionhost.support import jid_str

Op = Callable[[Any, dict[str, Any]], Awaitable[Any]]


class QueryRefused(Exception):
    """The session answered, but with no: `code` says why (not_found, forbidden, invalid…)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


async def profile(client: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The linked account itself: its JID and push name."""
    me = await client.get_me()
    return {"jid": jid_str(me.JID), "name": me.PushName or ""}


OPS: dict[str, Op] = {"profile": profile}
assert set(OPS) == set(p.QUERY_OPS), "protocol.QUERY_OPS and queries.OPS must name the same ops"
