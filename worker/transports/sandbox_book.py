"""The sandbox phone's address book: the groups its account is in and which numbers have
WhatsApp, so every session query can be exercised without a phone.

Built from the instance's sandbox behaviour (`groups`, `on_whatsapp`: instances/validation.py)
when a session first answers a question, and changed by what it is asked (a group created,
participants added, a group left) and by the changes its contacts make to groups (POST
/sandbox/<id>/group_update) for the rest of that session's life; a new session starts again
from the behaviour. Answers have the shapes the neonize session host gives
(worker/sessionhost/queries.py), and refusals its codes.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from worker.sessionhost import queries
from worker.sessionhost.queries import GROUP_SERVER, USER_SERVER, QueryRefused

DEFAULT_ABOUT = "Hey there! I am using WhatsApp."
PICTURE_URL = "https://sandbox.invalid/pictures/{user}.jpg"  # never fetched: .invalid is reserved
INVITE_URL = "https://chat.whatsapp.com/{code}"
NOT_IN_GROUP = "you're not participating in that group"
NOT_ADMIN = "not-authorized: the account is not an admin of the group"
MEMBER, ADMIN, SUPERADMIN = "member", "admin", "superadmin"


@dataclass
class _Group:
    id: str
    name: str
    description: str = ""
    created_at: int | None = None
    members: dict[str, str] = field(default_factory=dict)  # phone -> member | admin | superadmin
    invite_code: str = ""
    announce: bool = False
    locked: bool = False

    def view(self) -> dict[str, Any]:
        participants = [
            {
                "id": f"{phone}@{USER_SERVER}",
                "phone": phone,
                "admin": role != MEMBER,
                "superadmin": role == SUPERADMIN,
            }
            for phone, role in self.members.items()
        ]
        owner = next((p["id"] for p in participants if p["superadmin"]), None)
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "size": len(participants),
            "owner": owner,
            "created_at": self.created_at,
            "announce": self.announce,
            "locked": self.locked,
            "participants": participants,
        }


class SandboxBook:
    def __init__(self, behaviour: dict[str, Any], own_jid: str, rng: random.Random) -> None:
        self.own = own_jid.split("@")[0].split(":")[0]
        self.rng = rng
        self.rule: str | frozenset[str] = behaviour.get("on_whatsapp", "all")
        if isinstance(self.rule, list):
            self.rule = frozenset(self.rule)
        self.groups: dict[str, _Group] = {}
        for spec in behaviour.get("groups", []):
            group = _Group(spec["id"], spec.get("name", ""), spec.get("description", ""))
            for member in spec.get("participants", []):
                role = SUPERADMIN if member.get("superadmin") else ADMIN if member.get("admin") else MEMBER
                group.members[member["phone"]] = role
            group.members[self.own] = ADMIN if spec.get("admin", True) else MEMBER
            self.groups[group.id] = group
        # What the account marked as read: (chat, message ids, sender), for tests and integrators.
        self.read: list[tuple[str, list[str], str]] = []

    # -- numbers --------------------------------------------------------------------------------
    def on_whatsapp(self, phone: str) -> bool:
        if phone == self.own or self.rule == "all":
            return True
        return self.rule != "none" and phone in self.rule

    def check_numbers(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"phone": phone, "on_whatsapp": on, "jid": f"{phone}@{USER_SERVER}" if on else None}
            for phone in queries.phones_arg(args)
            for on in (self.on_whatsapp(phone),)
        ]

    def picture(self, args: dict[str, Any]) -> dict[str, Any]:
        jid = queries.jid_arg(args, "jid")
        user, server = jid.split("@")
        shown = jid in self.groups if server == GROUP_SERVER else self.on_whatsapp(user)
        if not shown:
            return {"jid": jid, "url": None, "id": None, "reason": "not_set"}
        return {
            "jid": jid,
            "url": PICTURE_URL.format(user=user),
            "id": str(sum(map(ord, jid))),
            "reason": None,
        }

    def mark_read(self, args: dict[str, Any]) -> dict[str, Any]:
        chat = queries.jid_arg(args, "chat")
        ids = queries.message_ids_arg(args)
        if chat.endswith(f"@{GROUP_SERVER}") and not args.get("sender"):
            raise QueryRefused("sender is needed for a group's messages", "invalid")
        sender = queries.jid_arg(args, "sender") if args.get("sender") else chat
        self.read.append((chat, ids, sender))
        return {"read": len(ids)}

    # -- groups ---------------------------------------------------------------------------------
    def _group(self, args: dict[str, Any], *, as_admin: bool = False) -> _Group:
        group = self.groups.get(queries.jid_arg(args, "jid", GROUP_SERVER))
        if group is None:
            raise QueryRefused(NOT_IN_GROUP, "not_found")
        if as_admin and group.members.get(self.own) == MEMBER:
            raise QueryRefused(NOT_ADMIN, "forbidden")
        return group

    def list_groups(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [group.view() for group in self.groups.values()]

    def group_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._group(args).view()

    def create(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        name = queries.name_arg(args)
        group_id = f"120363{self.rng.randrange(10**12):012d}@{GROUP_SERVER}"
        group = _Group(group_id, name, created_at=int(now.timestamp()), members={self.own: SUPERADMIN})
        not_added = []
        for jid in queries.participants_arg(args):
            phone = jid.split("@")[0]
            if self.on_whatsapp(phone):
                group.members.setdefault(phone, MEMBER)
            else:
                not_added.append(queries.outcome(phone, jid, 404))
        self.groups[group_id] = group
        return {**group.view(), "not_added": not_added}

    def change_participants(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        action = queries.action_arg(args)
        group = self._group(args, as_admin=True)
        asked = queries.participants_arg(args)
        if not asked:
            raise QueryRefused("missing argument 'participants'", "invalid")
        return [self._change(group, action, jid) for jid in asked]

    def _change(self, group: _Group, action: str, jid: str) -> dict[str, Any]:
        phone = jid.split("@")[0]
        role = group.members.get(phone)
        code: int | None = None
        if action == "add":
            if not self.on_whatsapp(phone):
                code = 404
            elif role is not None:
                code = 409
            else:
                group.members[phone] = MEMBER
        elif role is None:
            code = 404
        elif phone == self.own or role == SUPERADMIN:
            code = 406  # the account itself leaves (POST …/leave); nobody removes a group's creator
        elif action == "remove":
            del group.members[phone]
        else:
            group.members[phone] = ADMIN if action == "promote" else MEMBER
        return queries.outcome(phone, jid, code)

    def invite_link(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self._group(args, as_admin=True)
        if args.get("reset") or not group.invite_code:
            alphabet = string.ascii_letters + string.digits
            group.invite_code = "".join(self.rng.choice(alphabet) for _ in range(22))
        return {"link": INVITE_URL.format(code=group.invite_code)}

    def apply_change(
        self, group_id: str, changes: dict[str, Any], participants: dict[str, list[str]]
    ) -> None:
        """A contact changed a group the account is in (participants by phone): the account's
        own removal takes the group out of the book. A group not in the book is left alone."""
        group = self.groups.get(group_id)
        if group is None:
            return
        group.name = changes.get("name", group.name)
        group.description = changes.get("description", group.description)
        group.announce = changes.get("announce", group.announce)
        group.locked = changes.get("locked", group.locked)
        for phone in participants.get("added", []):
            group.members.setdefault(phone, MEMBER)
        for phone in participants.get("removed", []):
            group.members.pop(phone, None)
        for phone in participants.get("promoted", []):
            if group.members.get(phone) == MEMBER:
                group.members[phone] = ADMIN
        for phone in participants.get("demoted", []):
            if group.members.get(phone) == ADMIN:
                group.members[phone] = MEMBER
        if self.own not in group.members:
            del self.groups[group_id]

    def leave(self, args: dict[str, Any]) -> dict[str, Any]:
        del self.groups[self._group(args).id]
        return {"left": True}
