"""Contacts as an instance's WhatsApp account sees them: whether numbers have WhatsApp (through
the directory's cache, WAZIPER_NUMBER_CHECK_CACHE_S), and profile pictures.

Numbers the cache does not know are asked of the live session in batches of CHECK_BATCH, all
batches at once under one bound (operations/session_queries.ask_many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from django.conf import settings
from django.utils import timezone

from directory import cache
from directory.cache import Number
from instances.models import Instance
from operations.session_queries import ask, ask_many

# Numbers per question to the session (and per GET /contacts/check): one whatsmeow usync query.
CHECK_BATCH = 50


@dataclass(frozen=True)
class Checked:
    number: Number
    cached: bool


def check_numbers(
    instance: Instance, phones: Sequence[str], *, refresh: bool = False, now: datetime | None = None
) -> list[Checked]:
    """Whether each of `phones` (digits) has WhatsApp, in the given order (repeats answered
    once); from the cache where it is fresh, unless `refresh`."""
    now = now or timezone.now()
    unique = list(dict.fromkeys(phones))
    known = (
        {} if refresh else cache.cached_numbers(instance, unique, now, settings.WAZIPER_NUMBER_CHECK_CACHE_S)
    )
    missing = [phone for phone in unique if phone not in known]
    asked: dict[str, Number] = {}
    if missing:
        batches = [{"phones": batch} for batch in _batches(missing)]
        answers = [
            answer for batch in ask_many(instance, "check_numbers", batches, now=now) for answer in batch
        ]
        asked = {n.phone: n for n in cache.store_numbers(instance, answers, timezone.now())}
    out = []
    for phone in phones:
        if phone in asked:
            out.append(Checked(asked[phone], cached=False))
        elif phone in known:
            out.append(Checked(known[phone], cached=True))
        else:  # the session's answer left it out: say so rather than guess
            out.append(Checked(Number(phone, False, None, now), cached=False))
    return out


def _batches(values: list[str]) -> list[list[str]]:
    it = iter(values)
    return list(iter(lambda: list(islice(it, CHECK_BATCH)), []))


def picture(instance: Instance, jid: str) -> dict[str, Any]:
    """A contact's (or group's) profile picture: `url` (short-lived), `id`, and `reason`
    (not_set, hidden) when there is none to show."""
    return dict(ask(instance, "picture", {"jid": jid}))
