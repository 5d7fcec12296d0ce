"""What a live session can be asked, answered from neonize inside the session host.

Each op is a coroutine taking the session's neonize client, the host's neonize kit (the `JID`
protobuf class and the `ParticipantChange` and `ReceiptType` enums) and the question's
arguments, and returning plain JSON data. The host runs the whole op under its one lock, so every
call into neonize stays serialized, however many calls one op makes. neonize's objects are
duck-typed here, so this module does not import neonize either (tests pass neonize's own
protobuf classes, loaded without its Go library). An op that cannot answer raises QueryRefused
with a short code.

The shapes returned here are the ones the API shows (groups, participants, number checks), and
the sandbox transport answers with the same shapes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from worker.sessionhost import protocol as p
from worker.sessionhost.messages import jid_str, unix_seconds

Op = Callable[[Any, Any, dict[str, Any]], Awaitable[Any]]

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
# WhatsApp's per-participant answers to a group change (whatsmeow passes the IQ's code through).
PARTICIPANT_ERRORS = {
    401: "not allowed: the account is not an admin of the group",
    403: "their privacy settings do not allow it: send them the invite link",
    404: "not on WhatsApp, or not a participant",
    406: "not allowed for this participant",
    408: "they left the group recently: send them the invite link",
    409: "already a participant",
    500: "the group is full",
}
# Words in whatsmeow's errors, by the refusal code the API turns into its status.
_REFUSALS = (
    ("not_found", ("item-not-found", "group not found", "not found", "not participating")),
    ("forbidden", ("not-authorized", "forbidden", "not an admin", "not authorized")),
    ("invalid", ("bad-request", "bad request", "invalid")),
)


class QueryRefused(Exception):
    """The session answered, but with no: `code` says why (not_found, forbidden, invalid…)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


def refusal(exc: Exception) -> QueryRefused | None:
    """What a neonize error means for the asker, when its words say (else None: a failure)."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    for code, words in _REFUSALS:
        if any(word in low for word in words):
            return QueryRefused(text, code)
    return None


async def _ask(call: Awaitable[Any]) -> Any:
    """Await one neonize call; its error becomes a QueryRefused when its words say why."""
    try:
        return await call
    except QueryRefused:
        raise
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from exc


# -- arguments ----------------------------------------------------------------------------------
# The web side validates every question before it asks; these checks keep a bad line from
# reaching neonize all the same (the sandbox transport checks its questions with them too).


def _arg(args: dict[str, Any], name: str) -> Any:
    if args.get(name) in (None, "", []):
        raise QueryRefused(f"missing argument {name!r}", "invalid")
    return args[name]


def jid_arg(args: dict[str, Any], name: str, server: str | None = None) -> str:
    """Argument `name` as a full JID string (a phone number becomes …@s.whatsapp.net)."""
    value = _arg(args, name)
    try:
        text = p.normalize_recipient(str(value))
    except ValueError as exc:
        raise QueryRefused(f"{name}: {exc}", "invalid") from None
    if server is not None and not text.endswith(f"@{server}"):
        raise QueryRefused(f"{name}: {value!r} is not a …@{server} id", "invalid")
    return text


def make_jid(kit: Any, text: str) -> Any:
    """A neonize JID protobuf for `user[:device]@server`."""
    user, server = text.rsplit("@", 1)
    device = 0
    if ":" in user and server in (USER_SERVER, "lid"):
        user, raw_device = user.split(":", 1)
        device = int(raw_device) if raw_device.isdigit() else 0
    return kit.JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def _jid(kit: Any, args: dict[str, Any], name: str, server: str | None = None) -> Any:
    return make_jid(kit, jid_arg(args, name, server))


def participants_arg(args: dict[str, Any]) -> list[str]:
    """`participants` as full JID strings ([] when absent)."""
    values = args.get("participants") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise QueryRefused("participants must be a list of phone numbers or JIDs", "invalid")
    return [jid_arg({"participants": v}, "participants") for v in values]


def action_arg(args: dict[str, Any]) -> str:
    action = args.get("action")
    if action not in PARTICIPANT_ACTIONS:
        raise QueryRefused(f"action must be one of {', '.join(PARTICIPANT_ACTIONS)}", "invalid")
    return str(action)


def phones_arg(args: dict[str, Any]) -> list[str]:
    """`phones` as digits."""
    phones = args.get("phones")
    if not isinstance(phones, list) or not phones or not all(isinstance(v, str) for v in phones):
        raise QueryRefused("phones must be a non-empty list of phone numbers", "invalid")
    return [re.sub(r"[^0-9]", "", phone) for phone in phones]


def message_ids_arg(args: dict[str, Any]) -> list[str]:
    ids = args.get("message_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise QueryRefused("message_ids must be a non-empty list of message ids", "invalid")
    return list(ids)


def name_arg(args: dict[str, Any]) -> str:
    name = _arg(args, "name")
    if not isinstance(name, str):
        raise QueryRefused("name must be a string", "invalid")
    return name


# -- translations: neonize's answers as JSON ------------------------------------------------------


def phone_of(jid: Any) -> str | None:
    """The phone number a user JID stands for; None for a LID or an empty JID."""
    return jid.User if jid.Server == USER_SERVER and jid.User else None


def participant(part: Any) -> dict[str, Any]:
    """A GroupParticipant: its id, phone (where WhatsApp says it) and admin flags."""
    phone = phone_of(part.PhoneNumber) or phone_of(part.JID)
    superadmin = bool(part.IsSuperAdmin)
    return {
        "id": jid_str(part.JID),
        "phone": phone,
        "admin": bool(part.IsAdmin) or superadmin,
        "superadmin": superadmin,
    }


def group(info: Any) -> dict[str, Any]:
    """A GroupInfo: id, name, description, size, owner, creation time, settings, participants
    (those WhatsApp reported a per-participant error for are not in it)."""
    members = [participant(part) for part in info.Participants if not part.Error]
    created = int(unix_seconds(int(info.GroupCreated))) if info.GroupCreated else None
    return {
        "id": jid_str(info.JID),
        "name": info.GroupName.Name,
        "description": info.GroupTopic.Topic,
        "size": len(members),
        "owner": jid_str(info.OwnerJID) or None,
        "created_at": created,
        "announce": bool(info.GroupAnnounce.IsAnnounce),
        "locked": bool(info.GroupLocked.isLocked),
        "participants": members,
    }


def outcome(participant: str, jid: str | None, code: int | None) -> dict[str, Any]:
    """One asked participant's answer to a group change: `code` is WhatsApp's refusal (None:
    done); `jid` None means WhatsApp left it out of its answer."""
    if jid is None:
        return {"participant": participant, "id": None, "ok": False, "code": None, "reason": "no answer"}
    return {
        "participant": participant,
        "id": jid,
        "ok": code is None,
        "code": code,
        "reason": None if code is None else PARTICIPANT_ERRORS.get(code, f"refused by WhatsApp ({code})"),
    }


def participant_outcome(asked: str, part: Any | None) -> dict[str, Any]:
    if part is None:
        return outcome(asked, None, None)
    return outcome(asked, jid_str(part.JID) or None, int(part.Error) or None)


def match_outcomes(asked: list[str], parts: Any) -> list[dict[str, Any]]:
    """Each asked JID with the answer about it (by JID, LID or phone number)."""
    by_key: dict[str, Any] = {}
    for part in parts:
        for jid in (part.JID, part.LID, part.PhoneNumber):
            if jid.User:
                by_key.setdefault(f"{jid.User}@{jid.Server}", part)
    return [participant_outcome(jid.split("@")[0], by_key.get(jid)) for jid in asked]


# -- the ops ---------------------------------------------------------------------------------------


async def profile(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The linked account itself: its JID and push name, and its picture and about text where
    WhatsApp gives them (either may be hidden or unset: then None)."""
    me = await client.get_me()
    own = kit.JID(User=me.JID.User, Server=me.JID.Server, RawAgent=0, Device=0, Integrator=0, IsEmpty=False)
    picture_url = about = None
    if me.JID.User:
        try:
            picture_url = (await client.get_profile_picture(own)).URL or None
        except Exception:
            picture_url = None
        try:
            infos = await client.get_user_info(own)
            about = next((i.UserInfo.Status for i in infos if i.UserInfo.Status), None)
        except Exception:
            about = None
    return {"jid": jid_str(me.JID), "name": me.PushName or "", "picture_url": picture_url, "about": about}


# whatsmeow's media types (neonize.utils.enum.MediaType) and the names its download uses for them
# (MediaTypeToMMS); neonize reads only their `.value`. A sticker is fetched as an image.
_MEDIA_TYPES = {
    "image": (0, "image"),
    "sticker": (0, "image"),
    "video": (1, "video"),
    "audio": (2, "audio"),
    "document": (3, "document"),
}


async def download_media(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """A received message's media, fetched from WhatsApp's servers while they still serve it,
    written into ``args["path"]``: a file the worker made (the host never creates one), since
    media may be far larger than a protocol line. Answers its size and SHA-256."""
    download, path, max_bytes = args.get("download"), args.get("path"), args.get("max_bytes")
    if not isinstance(download, dict) or not isinstance(path, str) or not os.path.isabs(path):
        raise QueryRefused("download_media needs 'download' (an object) and 'path' (absolute)", "invalid")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise QueryRefused("download_media needs 'max_bytes', a positive integer", "invalid")
    media_type = _MEDIA_TYPES.get(str(download.get("media_type")))
    direct_path = download.get("direct_path")
    if media_type is None or not isinstance(direct_path, str) or not direct_path:
        raise QueryRefused("WhatsApp gave no way to download this message's media", "not_found")
    try:
        keys = [base64.b64decode(download.get(k) or "", validate=True) for k in _KEYS]
    except (TypeError, ValueError):
        raise QueryRefused("the media's keys are not base64", "invalid") from None
    length = download.get("file_length")
    length = length if isinstance(length, int) and not isinstance(length, bool) and length >= 0 else 0
    if length > max_bytes:
        raise QueryRefused(f"the media is {length} bytes, more than the {max_bytes} allowed", "too_large")
    enc_sha256, sha256, media_key = keys
    try:
        data = await client.download_media_with_path(
            direct_path,
            enc_sha256,
            sha256,
            media_key,
            length,
            SimpleNamespace(value=media_type[0]),
            SimpleNamespace(value=media_type[1]),
        )
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        if any(code in text for code in ("status code 404", "status code 410")):
            raise QueryRefused(f"WhatsApp no longer serves this media ({text})", "gone") from None
        raise
    if len(data) > max_bytes:
        raise QueryRefused(f"the media is {len(data)} bytes, more than the {max_bytes} allowed", "too_large")
    await asyncio.to_thread(_write_into, path, data)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


_KEYS = ("file_enc_sha256", "file_sha256", "media_key")


def _write_into(path: str, data: bytes) -> None:
    # No O_CREAT: the worker made the file, so a bad path cannot make the host write anywhere new.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


async def groups(client: Any, kit: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every group the account is in."""
    return [group(info) for info in await _ask(client.get_joined_groups())]


async def group_info(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    return group(await _ask(client.get_group_info(_jid(kit, args, "jid", GROUP_SERVER))))


async def group_create(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """A new group with the account as its (super)admin; `not_added` lists the participants
    WhatsApp would not add, and why."""
    name = name_arg(args)
    asked = participants_arg(args)
    info = await _ask(client.create_group(name, [make_jid(kit, jid) for jid in asked]))
    failed = [part for part in info.Participants if part.Error]
    return {**group(info), "not_added": [o for o in match_outcomes(asked, failed) if o["id"]]}


async def group_participants(client: Any, kit: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Add, remove, promote or demote participants: one outcome per asked participant."""
    action = action_arg(args)
    jid = _jid(kit, args, "jid", GROUP_SERVER)
    asked = participants_arg(args)
    if not asked:
        raise QueryRefused("missing argument 'participants'", "invalid")
    parts = await _ask(
        client.update_group_participants(
            jid, [make_jid(kit, text) for text in asked], kit.ParticipantChange(action)
        )
    )
    return match_outcomes(asked, parts)


async def group_invite_link(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The group's invite link; with `reset`, the old one is revoked and a new one made."""
    jid = _jid(kit, args, "jid", GROUP_SERVER)
    link = await _ask(client.get_group_invite_link(jid, revoke=bool(args.get("reset"))))
    return {"link": link}


async def group_leave(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    await _ask(client.leave_group(_jid(kit, args, "jid", GROUP_SERVER)))
    return {"left": True}


async def check_numbers(client: Any, kit: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Whether each phone number has WhatsApp, and its JID: one whatsmeow query for all."""
    digits = phones_arg(args)
    answers = await _ask(client.is_on_whatsapp(*(f"+{d}" for d in digits)))
    by_phone = {re.sub(r"[^0-9]", "", a.Query): a for a in answers}
    out = []
    for phone in digits:
        found = by_phone.get(phone)
        if found is not None and found.IsIn:
            out.append({"phone": phone, "on_whatsapp": True, "jid": jid_str(found.JID) or None})
        else:
            out.append({"phone": phone, "on_whatsapp": False, "jid": None})
    return out


_NO_PICTURE = (("not_set", "does not have a profile picture"), ("hidden", "hidden their profile picture"))


async def picture(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """A contact's (or group's) profile picture URL; None with the reason when WhatsApp shows
    none (not set, or hidden from this account)."""
    jid = _jid(kit, args, "jid")
    try:
        info = await client.get_profile_picture(jid)
    except Exception as exc:
        low = str(exc).lower()
        for reason, words in _NO_PICTURE:
            if words in low:
                return {"jid": jid_str(jid), "url": None, "id": None, "reason": reason}
        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from exc
    if not info.URL:
        return {"jid": jid_str(jid), "url": None, "id": None, "reason": "not_set"}
    return {"jid": jid_str(jid), "url": info.URL, "id": info.ID or None, "reason": None}


async def mark_read(client: Any, kit: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Read receipts for messages of one chat (in a group, `sender` is who wrote them)."""
    chat = _jid(kit, args, "chat")
    ids = message_ids_arg(args)
    if chat.Server == GROUP_SERVER and not args.get("sender"):
        raise QueryRefused("sender is needed for a group's messages", "invalid")
    sender = _jid(kit, args, "sender") if args.get("sender") else chat
    await _ask(client.mark_read(*ids, chat=chat, sender=sender, receipt=kit.ReceiptType.READ))
    return {"read": len(ids)}


OPS: dict[str, Op] = {
    "profile": profile,
    "download_media": download_media,
    "groups": groups,
    "group_info": group_info,
    "group_create": group_create,
    "group_participants": group_participants,
    "group_invite_link": group_invite_link,
    "group_leave": group_leave,
    "check_numbers": check_numbers,
    "picture": picture,
    "mark_read": mark_read,
}
assert set(OPS) == set(p.QUERY_OPS), "protocol.QUERY_OPS and queries.OPS must name the same ops"
