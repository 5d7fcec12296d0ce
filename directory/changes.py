"""What a live session reports changing about groups and contacts: applied to the directory's
cache and announced on the outbox (`group.updated`, `contact.updated`) in the same transaction,
the worker's transaction for the transport event (worker/lifecycle.py).

Groups: WhatsApp notifies the account of each change to a group it is in (name, description,
settings, participants) and of groups it joins. A change of settings is written into the cached
snapshot; a change of participants drops the snapshot and the list (which shows sizes), as a
change made through the API does; a group the account left, or that was deleted, leaves the list.

Contacts: WhatsApp notifies picture changes. Push names come with each message, and whatsmeow
announces one when it differs from the name its store holds, the first one too; so does this,
from the name `ContactSnapshot` holds, so a contact's name is announced once per change, never
per message. A message older than the name already known says nothing new. A contact nothing
was heard of for WAZIPER_INBOX_RETENTION_DAYS (as long as its messages are kept) is forgotten,
so the table holds the contacts of that time rather than every one ever seen; its next push name
is announced as a first one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from django.conf import settings
from django.db.models import Q

from directory import cache
from directory.models import ContactSnapshot
from instances.events import emit_event
from instances.models import Instance, InstanceEvent
from kernel.clock import parse_utc
from kernel.text import storable

logger = logging.getLogger("waziper.directory")

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
PARTICIPANT_CHANGES = ("added", "removed", "promoted", "demoted")
PICTURE_CHANGES = ("changed", "removed")
# What a group notification may change, and the type each value must have.
_GROUP_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "announce": bool,
    "locked": bool,
    "ephemeral_s": int,
    "invite_link": str,
    "deleted": bool,
}
# Settings a cached snapshot shows (worker/sessionhost/queries.py `group`) under the same names.
_SNAPSHOT_FIELDS = ("name", "description", "announce", "locked")
PUSH_NAME_LIMIT = ContactSnapshot._meta.get_field("push_name").max_length or 128
JID_LIMIT = 128
# More than any group holds (WhatsApp's largest, a community's announcement group, hold a few
# thousand): a longer list is not one WhatsApp sent, and is cut rather than posted to webhooks.
PARTICIPANTS_LIMIT = 5000


def bare_jid(jid: str) -> str:
    """A JID without its device (``628…:5@s.whatsapp.net`` → ``628…@s.whatsapp.net``)."""
    user, _, server = jid.partition("@")
    return f"{user.split(':')[0]}@{server}" if server else jid


def phone_of(jid: str) -> str:
    """The phone number a user JID stands for ("" for a LID, a group, anything else)."""
    user, _, server = bare_jid(jid).partition("@")
    return user if server == USER_SERVER and user.isdigit() else ""


def _jid(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value or len(value) > JID_LIMIT:
        return ""
    return storable(value.strip())


def _jids(value: Any) -> list[str]:
    found = value[:PARTICIPANTS_LIMIT] if isinstance(value, list) else []
    return [jid for jid in map(_jid, found) if jid]


def _own_user(instance_pk: int) -> str:
    """The linked account's number, to tell its own joins and departures from others'."""
    jid = Instance.objects.filter(pk=instance_pk).values_list("jid", flat=True).first() or ""
    return phone_of(jid)


# -- groups ----------------------------------------------------------------------------------------


def _group_changes(value: Any) -> dict[str, Any]:
    found = value if isinstance(value, dict) else {}
    changes = {}
    for name, kind in _GROUP_FIELDS.items():
        change = found.get(name)
        if isinstance(change, kind) and not (kind is int and isinstance(change, bool)):
            changes[name] = storable(change) if isinstance(change, str) else change
    return changes


def group_changed(instance_pk: int, data: dict[str, Any], now: datetime) -> InstanceEvent | None:
    """Record a transport's `group_changed` event and emit `group.updated`; None (logged) when it
    names no group."""
    group_id = _jid(data.get("group_id"))
    if not group_id.endswith(f"@{GROUP_SERVER}"):
        logger.warning("instance pk %s: a group change without a group id was dropped", instance_pk)
        return None
    changes = _group_changes(data.get("changes"))
    found = data.get("participants")
    moved = found if isinstance(found, dict) else {}
    participants = {change: jids for change in PARTICIPANT_CHANGES if (jids := _jids(moved.get(change)))}
    info = _group_info(data.get("group_info"), group_id)
    own = _own_user(instance_pk)
    account = None
    if data.get("joined") is True or (own and own in map(phone_of, participants.get("added", []))):
        account = "joined"
    elif changes.get("deleted") or (own and own in map(phone_of, participants.get("removed", []))):
        account = "left"
    _apply_to_cache(instance_pk, group_id, changes, participants, account, info, now)
    payload = {
        "group_id": group_id,
        "by": _jid(data.get("by")) or None,
        "at": (parse_utc(data.get("at")) or now).isoformat(),
        "changes": changes,
        "participants": participants,
        "account": account,
        "group_info": info,
    }
    return emit_event(instance_pk, InstanceEvent.Kind.GROUP_UPDATED, payload, now=now)


def _group_info(value: Any, group_id: str) -> dict[str, Any] | None:
    """A joined group's metadata in the `group` query's shape (worker/sessionhost/queries.py),
    each field of its type, as the cache serves it and webhook formats read it; None unless it
    describes this group."""
    if not isinstance(value, dict) or value.get("id") != group_id:
        return None
    found = value.get("participants")
    members = [
        {
            "id": jid,
            "phone": _phone(member.get("phone")),
            "admin": member.get("admin") is True,
            "superadmin": member.get("superadmin") is True,
        }
        for member in (found[:PARTICIPANTS_LIMIT] if isinstance(found, list) else [])
        if isinstance(member, dict) and (jid := _jid(member.get("id")))
    ]
    size, created = value.get("size"), value.get("created_at")
    return {
        "id": group_id,
        "name": _text(value.get("name")),
        "description": _text(value.get("description")),
        "size": size if _is_int(size) and size >= 0 else len(members),
        "owner": _jid(value.get("owner")) or None,
        "created_at": created if _is_int(created) else None,
        "announce": value.get("announce") is True,
        "locked": value.get("locked") is True,
        "participants": members,
    }


def _text(value: Any) -> str:
    return storable(value) if isinstance(value, str) else ""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _apply_to_cache(
    instance_pk: int,
    group_id: str,
    changes: dict[str, Any],
    participants: dict[str, list[str]],
    account: str | None,
    info: dict[str, Any] | None,
    now: datetime,
) -> None:
    instance = Instance(pk=instance_pk)
    if account == "joined" and info is not None:
        cache.store_group(instance, info, now)
    elif account == "left":
        cache.forget_group(instance, group_id, left=True)
    elif participants or account == "joined":
        cache.forget_group(instance, group_id)
    elif settings := {name: changes[name] for name in _SNAPSHOT_FIELDS if name in changes}:
        cache.update_group(instance, group_id, settings)


# -- contacts --------------------------------------------------------------------------------------


def contact_changed(instance_pk: int, data: dict[str, Any], now: datetime) -> InstanceEvent | None:
    """Record a transport's `contact_changed` event (a picture set or removed) and emit
    `contact.updated`; None (logged) when it names no contact or no change."""
    contact_id = bare_jid(_jid(data.get("contact_id")))
    found = data.get("changes")
    picture = found.get("picture") if isinstance(found, dict) else None
    if not contact_id or picture not in PICTURE_CHANGES:
        logger.warning("instance pk %s: a contact change naming no contact or change dropped", instance_pk)
        return None
    at = parse_utc(data.get("at")) or now
    phone = _phone(data.get("phone")) or phone_of(contact_id)
    defaults: dict[str, Any] = {"picture": picture, "picture_at": at}
    if phone:
        defaults["phone"] = phone
    ContactSnapshot.objects.update_or_create(instance_id=instance_pk, jid=contact_id, defaults=defaults)
    payload = {
        "contact_id": contact_id,
        "phone": phone or None,
        "by": _jid(data.get("by")) or None,
        "at": at.isoformat(),
        "changes": {"picture": picture},
    }
    return emit_event(instance_pk, InstanceEvent.Kind.CONTACT_UPDATED, payload, now=now)


def _phone(value: Any) -> str:
    return value if isinstance(value, str) and value.isdigit() and len(value) <= 20 else ""


def push_name_seen(instance_pk: int, message: dict[str, Any], now: datetime) -> InstanceEvent | None:
    """A received message's push name (a transport's `incoming` event data): when it is not the
    one known for its sender, keep it and emit `contact.updated`. One indexed read per message
    when nothing changed."""
    name = message.get("push_name")
    sender = bare_jid(_jid(message.get("sender")))
    if message.get("from_me") or not isinstance(name, str) or not sender:
        return None
    name = storable(name)[:PUSH_NAME_LIMIT]  # as stored, or the next message differs again
    if not name.strip():
        return None
    said_at = parse_utc(message.get("at")) or now
    known = (
        ContactSnapshot.objects.filter(instance_id=instance_pk, jid=sender)
        .order_by()
        .values_list("push_name", "push_name_at", "phone")[:1]
    )
    previous, previous_at, known_phone = known[0] if known else ("", None, "")
    if previous == name or (previous_at is not None and previous_at > said_at):
        return None
    phone = _phone(message.get("sender_phone")) or phone_of(sender) or known_phone
    fields = {"push_name": name, "push_name_at": said_at, "phone": phone}
    if known:
        ContactSnapshot.objects.filter(instance_id=instance_pk, jid=sender).update(**fields)
    else:
        ContactSnapshot.objects.create(instance_id=instance_pk, jid=sender, **fields)
    payload = {
        "contact_id": sender,
        "phone": phone or None,
        "by": None,
        "at": said_at.isoformat(),
        "changes": {"push_name": name},
        "previous_push_name": previous or None,
    }
    return emit_event(instance_pk, InstanceEvent.Kind.CONTACT_UPDATED, payload, now=now)


def prune_contacts(now: datetime) -> int:
    """Contacts whose push name and picture last changed before WAZIPER_INBOX_RETENTION_DAYS
    (the worker's cleanup)."""
    before = now - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS)
    old_name = Q(push_name_at__lt=before) | Q(push_name_at__isnull=True)
    old_picture = Q(picture_at__lt=before) | Q(picture_at__isnull=True)
    return ContactSnapshot.objects.filter(old_name, old_picture).delete()[0]


def account_unlinked(instance_pk: int) -> None:
    """The phone was logged out: what the cache knew was that account's (its groups, the names
    its contacts went by); a phone linked next starts from nothing. Number checks stay: whether
    a number is on WhatsApp does not depend on who asked."""
    cache.forget_account(instance_pk)
    ContactSnapshot.objects.filter(instance_id=instance_pk).delete()
