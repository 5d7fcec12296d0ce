"""What a ``send`` command becomes in neonize: one WhatsApp message (a waE2E ``Message``) per kind.

neonize's own builders make what they can: media uploads (``build_image_message`` …),
``build_sticker_message``, ``build_poll_vote_creation``, ``build_reaction``, ``build_revoke``
and ``build_edit``. What neonize builds only inside its ``send_*`` helpers (a location, a
contact, a reply's and a mention's ``contextInfo``) is written here field by field into its
generated protobuf classes, as those helpers do. ``kit`` carries neonize's classes and
functions (``Message``, ``JID``, ``build_edit``, ``ChatPresence``, ``ChatPresenceMedia``,
``VoteType``; main.py loads them), so this module imports no neonize and tests run it against
the real protobuf classes with a fake client.

Every function here calls the client directly: the host runs each one whole under its lock, so
the calls stay serialized.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from worker.sessionhost import protocol as p

log = logging.getLogger("waziper.host")

# A quoted message's bubble: what a reply shows of the message it answers, by its kind.
_QUOTED_CAPTIONED = {"image": "imageMessage", "video": "videoMessage", "document": "documentMessage"}
_QUOTED_BARE = {"audio": "audioMessage", "sticker": "stickerMessage"}


def to_jid(kit: Any, value: str) -> Any:
    """A JID string (``user[:device]@server``) as neonize's JID protobuf."""
    user, server = value.rsplit("@", 1)
    user, _, device = user.partition(":")
    return kit.JID(User=user, Server=server, Device=int(device or 0))


def non_ad(jid: Any) -> str:
    """A JID without its device, as WhatsApp names a message's sender (``user@server``)."""
    return f"{jid.User}@{jid.Server}"


async def phone_for_lid(client: Any, kit: Any, lid: str) -> str:
    """The phone-number JID WhatsApp has linked to a hidden user id (LID), or the LID itself when
    the session's store knows no such link: WhatsApp then routes the message by the LID."""
    try:
        pn = await client.get_pn_from_lid(to_jid(kit, lid))
    except Exception as exc:
        log.info("no phone number known for %s (%s): sending to the LID", lid, exc)
        return lid
    if not getattr(pn, "User", ""):
        log.info("no phone number known for %s: sending to the LID", lid)
        return lid
    return f"{pn.User}@{pn.Server or 's.whatsapp.net'}"


async def chat_presence(client: Any, kit: Any, chat: str, typing: bool) -> None:
    """Show (or stop showing) "typing…" in ``chat``."""
    state = kit.ChatPresence.CHAT_PRESENCE_COMPOSING if typing else kit.ChatPresence.CHAT_PRESENCE_PAUSED
    await client.send_chat_presence(to_jid(kit, chat), state, kit.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)


class _Me:
    """The linked account's JID, asked of neonize at most once per message and only if needed."""

    def __init__(self, client: Any) -> None:
        self.client, self._jid = client, None

    async def jid(self) -> Any:
        if self._jid is None:
            self._jid = (await self.client.get_me()).JID
        return self._jid


async def build(client: Any, kit: Any, cmd: dict[str, Any], chat: str, media: bytes | None) -> Any:
    """The message a validated ``send`` command asks for, to go to ``chat`` (a full JID).

    A plain text (no reply, no mentions) stays a string: neonize's send_message turns it into
    a conversation message, as it always has here.
    """
    kind, fields, me = cmd["kind"], cmd.get("fields") or {}, _Me(client)
    if kind == "text" and not cmd.get("quoted") and not cmd.get("mentions"):
        return cmd["text"]
    if kind in ("reaction", "edit", "delete"):
        return await _act_on(client, kit, cmd, chat, me)
    if kind == "text":
        message = kit.Message()
        message.extendedTextMessage.text = cmd["text"]
    elif kind == "sticker":
        message = await client.build_sticker_message(media)
    elif kind in p.MEDIA_KINDS:
        message = await build_media(client, kind, media or b"", cmd)
    elif kind == "location":
        message = kit.Message()
        _location(message.locationMessage, fields)
    elif kind == "contact":
        message = kit.Message()
        message.contactMessage.displayName = fields["name"]
        message.contactMessage.vcard = fields["vcard"]
    elif kind == "poll":
        message = await _poll(client, kit, fields)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    await _add_context(kit, message, cmd, me)
    return message


def _location(location: Any, fields: dict[str, Any]) -> None:
    location.degreesLatitude = float(fields["latitude"])
    location.degreesLongitude = float(fields["longitude"])
    if fields.get("name"):
        location.name = fields["name"]
    if fields.get("address"):
        location.address = fields["address"]


class _Count:
    """neonize's build_poll_vote_creation passes ``selectable_count.value`` to whatsmeow's
    BuildPollCreation, which takes any count; its VoteType enum names only 0 and 1."""

    def __init__(self, value: int) -> None:
        self.value = value


async def _poll(client: Any, kit: Any, fields: dict[str, Any]) -> Any:
    options, count = list(fields["options"]), int(fields.get("selectable_count") or 1)
    if count == 1:
        choice: Any = kit.VoteType.SINGLE
    elif count == len(options):
        choice = kit.VoteType.MULTIPLE  # 0: as many as the voter likes, WhatsApp's "multiple answers"
    else:
        choice = _Count(count)
    return await client.build_poll_vote_creation(fields["question"], options, choice)


async def _sender(kit: Any, ref: dict[str, Any], chat: str, me: _Me) -> Any:
    """Who sent the message ``ref`` names: this account, its recorded sender, or the chat's other
    person (in a one-to-one chat)."""
    if ref.get("from_me"):
        return await me.jid()
    return to_jid(kit, p.normalize_recipient(ref.get("sender") or chat))


async def _act_on(client: Any, kit: Any, cmd: dict[str, Any], chat: str, me: _Me) -> Any:
    target = cmd["target"]
    chat_jid = to_jid(kit, chat)
    if cmd["kind"] == "reaction":
        sender = await _sender(kit, target, chat, me)
        return await client.build_reaction(chat_jid, sender, target["id"], cmd["fields"]["emoji"])
    if cmd["kind"] == "delete":
        return await client.build_revoke(chat_jid, await _sender(kit, target, chat, me), target["id"])
    return kit.build_edit(chat_jid, target["id"], kit.Message(conversation=cmd["text"]))


def _content(message: Any) -> Any:
    """The part of ``message`` that carries a contextInfo (imageMessage, pollCreationMessage…)."""
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if kind is not None and "contextInfo" in kind.fields_by_name:
            return value
    return None


async def _add_context(kit: Any, message: Any, cmd: dict[str, Any], me: _Me) -> None:
    """A reply's quote and the mentioned JIDs, in the contextInfo of the message's content."""
    quoted, mentions = cmd.get("quoted"), cmd.get("mentions") or []
    if not quoted and not mentions:
        return
    content = _content(message)
    if content is None:
        raise ValueError(f"a {cmd['kind']} message cannot carry a reply or mentions")
    context = content.contextInfo
    if mentions:
        context.mentionedJID.extend(mentions)
    if quoted:
        # As neonize's _make_quoted_message: the quoted message's id, its sender (without a
        # device) and what its bubble shows.
        sender = await _sender(kit, quoted, quoted["chat"], me)
        context.stanzaID = quoted["id"]
        context.participant = non_ad(sender)
        context.quotedMessage.CopyFrom(quoted_message(kit, quoted))


def quoted_message(kit: Any, quoted: dict[str, Any]) -> Any:
    """What a reply's quote shows of the message it answers: its text or caption, a location's
    place, a contact's card, a poll's question; media without their files."""
    message, kind, text = kit.Message(), quoted.get("kind") or "", quoted.get("text") or ""
    content = quoted.get("content") or {}
    if kind in _QUOTED_CAPTIONED:
        part = getattr(message, _QUOTED_CAPTIONED[kind])
        part.caption = text
    elif kind in _QUOTED_BARE:
        getattr(message, _QUOTED_BARE[kind]).SetInParent()
    elif kind == "location" and content:
        _location(message.locationMessage, content)
    elif kind == "contact" and content:
        message.contactMessage.displayName = content.get("name") or ""
        message.contactMessage.vcard = content.get("vcard") or ""
    elif kind == "poll" and content:
        message.pollCreationMessage.name = content.get("question") or ""
        for option in content.get("options") or []:
            message.pollCreationMessage.options.add(optionName=option)
    else:
        message.conversation = text
    return message


async def build_media(client: Any, kind: str, data: bytes, cmd: dict[str, Any]) -> Any:
    """Upload ``data`` and build the WhatsApp message a media ``send`` asks for."""
    caption = cmd["text"] or None
    if kind == "image":
        return await client.build_image_message(data, caption=caption)
    if kind == "document":
        name = cmd["filename"] or os.path.basename(cmd["media_path"])
        return await client.build_document_message(
            data, caption=caption, title=name, filename=name, mimetype=cmd["mimetype"]
        )
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        raise RuntimeError(f"ffmpeg/ffprobe not installed: neonize needs them to send {kind}")
    if kind == "audio":
        return await client.build_audio_message(data)
    return await client.build_video_message(data, caption=caption)
