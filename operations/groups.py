"""The groups of an instance's WhatsApp account: read through the directory's cache, changed
through the live session (operations/session_queries.py), the cache kept honest after a change.

Reads are answered from the cache while it is fresh (WAZIPER_GROUPS_CACHE_S) unless `refresh`
asks the session; a change drops what it made stale, also when the session did not answer in
time (it may have made the change all the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from directory import cache
from instances.models import Instance
from operations.session_queries import SessionTimeout, ask


@dataclass(frozen=True)
class Answer:
    """What was asked for, when the session said it, and whether it came from the cache."""

    data: Any
    fetched_at: datetime
    cached: bool


def list_groups(instance: Instance, *, refresh: bool = False, now: datetime | None = None) -> Answer:
    now = now or timezone.now()
    if not refresh and (hit := cache.cached_groups(instance, now, settings.WAZIPER_GROUPS_CACHE_S)):
        return Answer(hit.data, hit.fetched_at, cached=True)
    groups = ask(instance, "groups", now=now)
    fetched_at = timezone.now()
    cache.store_groups(instance, groups, fetched_at)
    return Answer(sorted(groups, key=lambda g: (g["name"], g["id"])), fetched_at, cached=False)


def get_group(instance: Instance, jid: str, *, refresh: bool = False, now: datetime | None = None) -> Answer:
    now = now or timezone.now()
    if not refresh and (hit := cache.cached_group(instance, jid, now, settings.WAZIPER_GROUPS_CACHE_S)):
        return Answer(hit.data, hit.fetched_at, cached=True)
    group = ask(instance, "group_info", {"jid": jid}, now=now)
    fetched_at = timezone.now()
    cache.store_group(instance, group, fetched_at)
    return Answer(group, fetched_at, cached=False)


def create_group(instance: Instance, name: str, participants: list[str]) -> dict[str, Any]:
    """A new group; its answer lists the participants WhatsApp would not add (`not_added`)."""
    try:
        created = ask(instance, "group_create", {"name": name, "participants": participants})
    except SessionTimeout:
        cache.forget_listing(instance)  # it may exist now: read the list again next time
        raise
    group = {key: value for key, value in created.items() if key != "not_added"}
    cache.store_group(instance, group, timezone.now())
    return dict(created)


def change_participants(
    instance: Instance, jid: str, action: str, participants: list[str]
) -> list[dict[str, Any]]:
    """Add, remove, promote or demote: one outcome per participant, in the asked order. The
    group is read again next time, whatever the answer (a timeout may hide a change)."""
    args = {"jid": jid, "action": action, "participants": participants}
    try:
        return list(ask(instance, "group_participants", args))
    finally:
        cache.forget_group(instance, jid)


def invite_link(instance: Instance, jid: str, *, reset: bool = False) -> str:
    """The group's invite link; `reset` revokes the old one and makes a new one."""
    return str(ask(instance, "group_invite_link", {"jid": jid, "reset": reset})["link"])


def leave_group(instance: Instance, jid: str) -> None:
    try:
        ask(instance, "group_leave", {"jid": jid})
    except SessionTimeout:
        cache.forget_group(instance, jid)  # left or not: ask again next time
        raise
    cache.forget_group(instance, jid, left=True)
