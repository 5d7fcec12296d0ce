"""The WhatsApp message each kind of send becomes, built against neonize's real protobuf classes
and pure builders; the client calls that go to Go (uploads, whatsmeow's builders) are a fake
that answers as whatsmeow does and records what it was asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.neonize_kit import kit as load_kit
from tests.support.neonize_kit import message_to_dict
from worker.sessionhost import builders
from worker.sessionhost import protocol as p

pytestmark = pytest.mark.asyncio
KIT = load_kit()
ME = KIT.pb.JID(User="628111000111", Server="s.whatsapp.net", Device=7)
CHAT = "6281234567890@s.whatsapp.net"
GROUP = "120363025246125486@g.us"


class FakeClient:
    """The client methods builders call. The ones whatsmeow implements answer with the message
    whatsmeow would build; every call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    async def get_me(self) -> Any:
        self._record("get_me")
        return SimpleNamespace(JID=ME, PushName="Shop")

    async def build_reaction(self, chat: Any, sender: Any, message_id: str, reaction: str) -> Any:
        self._record("build_reaction", chat, sender, message_id, reaction)
        key = KIT.e2e.Message().reactionMessage.key  # whatsmeow's BuildMessageKey, in short
        key.remoteJID, key.ID, key.fromMe = f"{chat.User}@{chat.Server}", message_id, sender.User == ME.User
        return KIT.Message(reactionMessage=KIT.e2e.ReactionMessage(key=key, text=reaction))

    async def build_revoke(self, chat: Any, sender: Any, message_id: str) -> Any:
        self._record("build_revoke", chat, sender, message_id)
        # neonize's own: builder.build_revoke with the account's JID.
        from neonize.builder import build_revoke

        return build_revoke(chat, sender, message_id, (await self.get_me()).JID)

    async def build_poll_vote_creation(self, name: str, options: list[str], selectable: Any) -> Any:
        self._record("build_poll_vote_creation", name, options, selectable.value)
        message = KIT.Message()
        message.pollCreationMessage.name = name
        for option in options:
            message.pollCreationMessage.options.add(optionName=option)
        message.pollCreationMessage.selectableOptionsCount = selectable.value
        message.messageContextInfo.messageSecret = b"s" * 32
        return message

    async def build_sticker_message(self, data: bytes) -> Any:
        self._record("build_sticker_message", data)
        return KIT.Message(stickerMessage=KIT.e2e.StickerMessage(mimetype="image/webp", fileLength=len(data)))

    async def build_image_message(self, data: bytes, caption: str | None = None) -> Any:
        self._record("build_image_message", data, caption)
        return KIT.Message(imageMessage=KIT.e2e.ImageMessage(caption=caption or "", mimetype="image/png"))

    async def get_pn_from_lid(self, jid: Any) -> Any:
        self._record("get_pn_from_lid", jid)
        return (
            KIT.pb.JID(User="6281234567890", Server="s.whatsapp.net")
            if jid.User == "99" * 8
            else KIT.pb.JID()
        )

    async def send_chat_presence(self, jid: Any, state: Any, media: Any) -> None:
        self._record("send_chat_presence", jid, state, media)


def send_cmd(kind: str = "text", **fields: Any) -> dict[str, Any]:
    return p.validate_command(
        {"cmd": "send", "session": "S", "ref": "m1", "to": CHAT, "kind": kind, **fields}
    )


async def build(cmd: dict[str, Any], chat: str = CHAT, media: bytes | None = None) -> tuple[Any, FakeClient]:
    client = FakeClient()
    return await builders.build(client, KIT, cmd, chat, media), client


OURS = {"id": "3EB0AAAA1111", "chat": CHAT, "from_me": True, "sender": ""}
THEIRS = {"id": "3A55BBBB2222", "chat": CHAT, "from_me": False, "sender": CHAT}


async def test_a_plain_text_stays_a_string_for_neonizes_send_message() -> None:
    message, client = await build(send_cmd(text="halo"))
    assert message == "halo"
    assert client.calls == []


async def test_a_location_is_a_location_message_with_its_place() -> None:
    fields = {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas", "address": "Gambir, Jakarta"}
    message, _ = await build(send_cmd("location", fields=fields))
    assert message_to_dict(message) == {
        "locationMessage": {
            "degreesLatitude": -6.1754,
            "degreesLongitude": 106.8272,
            "name": "Monas",
            "address": "Gambir, Jakarta",
        }
    }


async def test_a_contact_is_a_contact_message_carrying_the_vcard() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nitem1.TEL;waid=628123456789:+628123456789\nEND:VCARD"
    message, _ = await build(send_cmd("contact", fields={"name": "Ann", "vcard": vcard}))
    assert message_to_dict(message) == {"contactMessage": {"displayName": "Ann", "vcard": vcard}}


@pytest.mark.parametrize(("count", "passed"), [(1, 1), (3, 0), (2, 2)])
async def test_a_poll_goes_through_neonizes_poll_builder_with_whatsapps_count(
    count: int, passed: int
) -> None:
    fields = {"question": "Lunch?", "options": ["rice", "noodles", "soup"], "selectable_count": count}
    message, client = await build(send_cmd("poll", fields=fields))
    # 1: one answer; all of them: 0, WhatsApp's "as many as you like"; anything between as is.
    assert client.calls == [("build_poll_vote_creation", ("Lunch?", ["rice", "noodles", "soup"], passed))]
    assert [o.optionName for o in message.pollCreationMessage.options] == ["rice", "noodles", "soup"]


async def test_a_reply_to_a_poll_keeps_the_polls_secret_and_quotes_in_the_poll() -> None:
    fields = {"question": "Lunch?", "options": ["rice", "noodles"], "selectable_count": 1}
    message, _ = await build(send_cmd("poll", fields=fields, quoted={**OURS, "kind": "text", "text": "hi"}))
    assert message.messageContextInfo.messageSecret == b"s" * 32
    assert message.pollCreationMessage.contextInfo.stanzaID == "3EB0AAAA1111"


async def test_a_sticker_goes_through_neonizes_sticker_builder() -> None:
    message, client = await build(send_cmd("sticker", media_path="/tmp/s.webp"), media=b"RIFF....WEBP")
    assert client.calls == [("build_sticker_message", (b"RIFF....WEBP",))]
    assert message.stickerMessage.mimetype == "image/webp"


async def test_a_reply_to_our_own_text_quotes_its_id_our_number_and_its_text() -> None:
    quoted = {**OURS, "kind": "text", "text": "Your order shipped"}
    message, _ = await build(send_cmd(text="Thanks!", quoted=quoted))
    assert message_to_dict(message) == {
        "extendedTextMessage": {
            "text": "Thanks!",
            "contextInfo": {
                "stanzaID": "3EB0AAAA1111",
                "participant": "628111000111@s.whatsapp.net",  # our JID without the device
                "quotedMessage": {"conversation": "Your order shipped"},
            },
        }
    }


async def test_a_reply_to_the_other_persons_message_names_them_as_its_sender() -> None:
    message, client = await build(send_cmd(text="Noted", quoted=THEIRS))
    context = message.extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("3A55BBBB2222", CHAT)
    assert ("get_me", ()) not in client.calls


@pytest.mark.parametrize(
    ("kind", "content", "shown"),
    [
        ("image", {}, {"imageMessage": {"caption": "a cat"}}),
        (
            "location",
            {"latitude": 1.5, "longitude": 2.5},
            {"locationMessage": {"degreesLatitude": 1.5, "degreesLongitude": 2.5}},
        ),
        (
            "poll",
            {"question": "Q?", "options": ["a", "b"]},
            {"pollCreationMessage": {"name": "Q?", "options": [{"optionName": "a"}, {"optionName": "b"}]}},
        ),
    ],
)
async def test_a_quote_shows_what_the_quoted_kind_shows(kind: str, content: dict, shown: dict) -> None:
    quoted = {**OURS, "kind": kind, "text": "a cat", "content": content}
    assert message_to_dict(builders.quoted_message(KIT, quoted)) == shown


async def test_mentions_go_into_the_texts_context_info() -> None:
    mentions = ["628222000222@s.whatsapp.net", "123456789012345@lid"]
    message, _ = await build(send_cmd(text="Hi @628222000222", mentions=mentions), chat=GROUP)
    assert list(message.extendedTextMessage.contextInfo.mentionedJID) == mentions
    assert message.extendedTextMessage.text == "Hi @628222000222"


async def test_mentions_in_a_caption_go_into_the_images_context_info() -> None:
    cmd = send_cmd(
        "image", media_path="/tmp/a.png", text="look @628222000222", mentions=["628222000222@s.whatsapp.net"]
    )
    message, client = await build(cmd, chat=GROUP, media=b"png")
    assert client.calls == [("build_image_message", (b"png", "look @628222000222"))]
    assert list(message.imageMessage.contextInfo.mentionedJID) == ["628222000222@s.whatsapp.net"]


async def test_a_reaction_to_our_message_names_us_as_its_sender() -> None:
    message, client = await build(send_cmd("reaction", fields={"emoji": "👍"}, target=OURS))
    name, (chat, sender, message_id, emoji) = client.calls[-1]
    assert (name, chat.User, sender.User, message_id, emoji) == (
        "build_reaction",
        "6281234567890",
        "628111000111",
        "3EB0AAAA1111",
        "👍",
    )
    assert message.reactionMessage.key.fromMe is True


async def test_an_empty_reaction_takes_the_reaction_away() -> None:
    message, client = await build(send_cmd("reaction", fields={"emoji": ""}, target=THEIRS))
    assert client.calls[-1][1][3] == ""
    assert message.reactionMessage.key.fromMe is False


async def test_an_edit_is_neonizes_edit_of_our_message_with_the_new_text() -> None:
    message, _ = await build(send_cmd("edit", text="Fixed typo", target=OURS))
    edit = message.editedMessage.message.protocolMessage
    assert edit.type == KIT.e2e.ProtocolMessage.MESSAGE_EDIT
    assert (edit.key.ID, edit.key.remoteJID, edit.key.fromMe) == ("3EB0AAAA1111", CHAT, True)
    assert edit.editedMessage.conversation == "Fixed typo"


async def test_a_delete_is_neonizes_revoke_for_everyone_of_our_message() -> None:
    message, client = await build(send_cmd("delete", target=OURS))
    revoke = message.protocolMessage
    assert revoke.type == KIT.e2e.ProtocolMessage.REVOKE
    assert (revoke.key.ID, revoke.key.remoteJID, revoke.key.fromMe) == ("3EB0AAAA1111", CHAT, True)
    assert "build_revoke" in [name for name, _ in client.calls]


async def test_a_lid_with_a_known_phone_number_becomes_that_number() -> None:
    client = FakeClient()
    assert await builders.phone_for_lid(client, KIT, f"{'99' * 8}@lid") == CHAT


async def test_a_lid_without_a_known_phone_number_stays_a_lid() -> None:
    client = FakeClient()
    assert await builders.phone_for_lid(client, KIT, "123456789012345@lid") == "123456789012345@lid"


async def test_typing_is_composing_then_paused_text_presence() -> None:
    client = FakeClient()
    await builders.chat_presence(client, KIT, CHAT, True)
    await builders.chat_presence(client, KIT, CHAT, False)
    states = [(call[1][0].User, call[1][1], call[1][2]) for call in client.calls]
    text = KIT.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
    assert states == [
        ("6281234567890", KIT.ChatPresence.CHAT_PRESENCE_COMPOSING, text),
        ("6281234567890", KIT.ChatPresence.CHAT_PRESENCE_PAUSED, text),
    ]
