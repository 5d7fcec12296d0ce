"""The only writes of the cached answers about groups and numbers, and the reads that say
whether an answer is still fresh (directory/changes.py writes what sessions report through these).

An answer is fresh while its age is at least 0 and under `max_age_s` (so 0 turns a cache off,
and a row from the future, after the clock was set back, is asked again rather than trusted
forever). Writes are upserts on (instance, key), safe when two requests store at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.db import transaction

from directory.models import GroupListing, GroupSnapshot, NumberCheck
from instances.models import Instance

# Rows per IN (…) or INSERT: well under SQLite's bound on variables in one statement.
_CHUNK = 500
NAME_LIMIT = GroupSnapshot._meta.get_field("name").max_length or 200


@dataclass(frozen=True)
class Cached:
    """An answer from the cache and when the session gave it."""

    data: Any
    fetched_at: datetime


@dataclass(frozen=True)
class Number:
    phone: str
    on_whatsapp: bool
    jid: str | None
    checked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"phone": self.phone, "on_whatsapp": self.on_whatsapp, "jid": self.jid}


def is_fresh(fetched_at: datetime, now: datetime, max_age_s: float) -> bool:
    return 0 <= (now - fetched_at).total_seconds() < max_age_s


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    it = iter(values)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def _group_row(instance: Instance, group: dict[str, Any], now: datetime) -> GroupSnapshot:
    return GroupSnapshot(
        instance=instance,
        jid=str(group["id"]),
        name=str(group.get("name") or "")[:NAME_LIMIT],
        data=group,
        fetched_at=now,
    )


def _upsert_groups(rows: list[GroupSnapshot]) -> None:
    GroupSnapshot.objects.bulk_create(
        rows,
        batch_size=_CHUNK,
        update_conflicts=True,
        unique_fields=["instance", "jid"],
        update_fields=["name", "data", "fetched_at"],
    )


# -- groups ----------------------------------------------------------------------------------------


def cached_groups(instance: Instance, now: datetime, max_age_s: float) -> Cached | None:
    """The instance's groups (a list of group dicts, by name) if the list is fresh; else None."""
    listing = GroupListing.objects.filter(instance=instance).values_list("fetched_at", flat=True).first()
    if listing is None or not is_fresh(listing, now, max_age_s):
        return None
    groups = (
        GroupSnapshot.objects.filter(instance=instance).order_by("name", "jid").values_list("data", flat=True)
    )
    return Cached(list(groups), listing)


def store_groups(instance: Instance, groups: list[dict[str, Any]], now: datetime) -> None:
    """The whole list as the session just gave it: groups no longer in it are forgotten."""
    jids = [str(group["id"]) for group in groups]
    with transaction.atomic():
        GroupSnapshot.objects.filter(instance=instance).exclude(jid__in=jids).delete()
        _upsert_groups([_group_row(instance, group, now) for group in groups])
        GroupListing.objects.update_or_create(instance=instance, defaults={"fetched_at": now})


def cached_group(instance: Instance, jid: str, now: datetime, max_age_s: float) -> Cached | None:
    row = GroupSnapshot.objects.filter(instance=instance, jid=jid).values_list("data", "fetched_at").first()
    if row is None or not is_fresh(row[1], now, max_age_s):
        return None
    return Cached(row[0], row[1])


def store_group(instance: Instance, group: dict[str, Any], now: datetime) -> None:
    """One group as the session just described it (the list's freshness is unchanged: a group
    the account is in belongs in its list)."""
    _upsert_groups([_group_row(instance, group, now)])


def update_group(instance: Instance, jid: str, fields: dict[str, Any]) -> bool:
    """Fields of a cached group that the session reported changed (its name, settings); its
    age is unchanged, as the rest is as old as it was. False if the group is not cached."""
    snapshot = GroupSnapshot.objects.filter(instance=instance, jid=jid).first()
    if snapshot is None:
        return False
    snapshot.data = {**snapshot.data, **fields}
    snapshot.name = str(snapshot.data.get("name") or "")[:NAME_LIMIT]
    snapshot.save(update_fields=["data", "name"])
    return True


def forget_group(instance: Instance, jid: str, *, left: bool = False) -> None:
    """A group changed (participants, settings) or the account `left` it. A changed group's
    snapshot is dropped and the list, which shows its size, must be read again; a group left
    is simply no longer in the list."""
    with transaction.atomic():
        GroupSnapshot.objects.filter(instance=instance, jid=jid).delete()
        if not left:
            GroupListing.objects.filter(instance=instance).delete()


def forget_listing(instance: Instance) -> None:
    """The list may have changed in a way nobody saw (a create that timed out): read it again."""
    GroupListing.objects.filter(instance=instance).delete()


def forget_account(instance_pk: int) -> None:
    """Every group the instance's account was in (the account was unlinked)."""
    with transaction.atomic():
        GroupSnapshot.objects.filter(instance_id=instance_pk).delete()
        GroupListing.objects.filter(instance_id=instance_pk).delete()


# -- numbers ---------------------------------------------------------------------------------------


def cached_numbers(
    instance: Instance, phones: Sequence[str], now: datetime, max_age_s: float
) -> dict[str, Number]:
    """The fresh answers among `phones` (digits), by phone."""
    if max_age_s <= 0:
        return {}
    found: dict[str, Number] = {}
    oldest = now - timedelta(seconds=max_age_s)
    for chunk in _chunks(sorted(set(phones))):
        rows = NumberCheck.objects.filter(
            instance=instance, phone__in=chunk, checked_at__gt=oldest, checked_at__lte=now
        ).values_list("phone", "on_whatsapp", "jid", "checked_at")
        for phone, on, jid, checked_at in rows:
            found[phone] = Number(phone, on, jid or None, checked_at)
    return found


def store_numbers(instance: Instance, answers: Iterable[dict[str, Any]], now: datetime) -> list[Number]:
    """The session's answers (`phone`, `on_whatsapp`, `jid`), kept; returned as Numbers."""
    numbers = [
        Number(str(a["phone"]), bool(a.get("on_whatsapp")), a.get("jid") or None, now) for a in answers
    ]
    rows = [
        NumberCheck(
            instance=instance, phone=n.phone, on_whatsapp=n.on_whatsapp, jid=n.jid or "", checked_at=now
        )
        for n in numbers
    ]
    NumberCheck.objects.bulk_create(
        rows,
        batch_size=_CHUNK,
        update_conflicts=True,
        unique_fields=["instance", "phone"],
        update_fields=["on_whatsapp", "jid", "checked_at"],
    )
    return numbers


# -- housekeeping -------------------------------------------------------------------------------


def prune(now: datetime, *, groups_max_age_s: float, numbers_max_age_s: float) -> int:
    """Answers too old to be used again (the worker's periodic cleanup)."""
    pruned = NumberCheck.objects.filter(checked_at__lt=now - timedelta(seconds=numbers_max_age_s)).delete()[0]
    old_groups = now - timedelta(seconds=groups_max_age_s)
    pruned += GroupListing.objects.filter(fetched_at__lt=old_groups).delete()[0]
    pruned += GroupSnapshot.objects.filter(fetched_at__lt=old_groups).delete()[0]
    return pruned
