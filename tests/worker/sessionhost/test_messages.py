"""Each kind of received WhatsApp message, built with neonize's own protobuf classes, as the
fields of the host's ``incoming`` event. No phone needed: these are the objects neonize hands
the host."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tests.support.neonize_protos import load
from worker.sessionhost import events as hs
from worker.sessionhost import messages as m
from worker.sessionhost import protocol as p

pb, e2e = load()
FRIEND = pb.JID(User="628222", Server="s.whatsapp.net")
HIDDEN = pb.JID(User="190000111222333", Server="lid")
GROUP = pb.JID(User="120363000000000001", Server="g.us")
ME = pb.JID(User="628111", Server="s.whatsapp.net", Device=7)
PHOTO = b"\xff\xd8 a jpeg"


def neonize_text(_message: Any) -> str:
    return "neonize's own text"


def event(message: Any, *, msg_id: str = "M1", source: Any = None, **info: Any) -> Any:
    source = source or pb.MessageSource(Chat=FRIEND, Sender=FRIEND)
    info.setdefault("Timestamp", 1_764_000_000_000)
    info.setdefault("Pushname", "Budi")
    return pb.Message(Info=pb.MessageInfo(ID=msg_id, MessageSource=source, **info), Message=message)


def incoming(message: Any, **kwargs: Any) -> dict[str, Any]:
    translated = hs.translate("Message", event(message, **kwargs), neonize_text)
    assert translated is not None
    kind, fields = translated
    assert kind == p.INCOMING
    return fields


def image(**fields: Any) -> Any:
    defaults = {
        "mimetype": "image/jpeg",
        "caption": "foto",
        "fileLength": len(PHOTO),
        "fileSHA256": hashlib.sha256(PHOTO).digest(),
        "fileEncSHA256": b"\x01" * 32,
        "mediaKey": b"\x02" * 32,
        "directPath": "/v/t62.7118-24/abc?ccb=11-4",
        "URL": "https://mmg.whatsapp.net/v/t62.7118-24/abc",
        "JPEGThumbnail": b"\x00" * 4000,
    }
    return e2e.ImageMessage(**{**defaults, **fields})


# -- text ------------------------------------------------------------------------------------


def test_a_plain_text_carries_its_text_sender_phone_and_time_in_seconds() -> None:
    fields = incoming(e2e.Message(conversation="halo"))
    assert (fields["kind"], fields["text"], fields["sender_phone"]) == ("text", "halo", "628222")
    assert fields["at"] == 1_764_000_000


def test_an_extended_text_reply_names_the_message_it_quotes() -> None:
    reply = e2e.ExtendedTextMessage(
        text="setuju",
        contextInfo=e2e.ContextInfo(
            stanzaID="QUOTED1",
            participant="628111@s.whatsapp.net",
            quotedMessage=e2e.Message(conversation="rapat?"),
        ),
    )
    fields = incoming(e2e.Message(extendedTextMessage=reply))
    assert (fields["kind"], fields["text"], fields["quoted_message_id"]) == ("text", "setuju", "QUOTED1")


def test_the_raw_copy_has_the_baileys_key_message_timestamp_and_push_name() -> None:
    fields = incoming(e2e.Message(conversation="halo"), msg_id="ABC")
    assert fields["raw"] == {
        "key": {"remoteJid": "628222@s.whatsapp.net", "fromMe": False, "id": "ABC"},
        "message": {"conversation": "halo"},
        "messageTimestamp": 1_764_000_000,
        "pushName": "Budi",
    }


def test_a_group_message_names_the_group_and_the_participant() -> None:
    source = pb.MessageSource(Chat=GROUP, Sender=FRIEND, IsGroup=True)
    fields = incoming(e2e.Message(conversation="hai semua"), source=source)
    assert (fields["chat"], fields["sender"], fields["is_group"]) == (
        "120363000000000001@g.us",
        "628222@s.whatsapp.net",
        True,
    )
    assert fields["raw"]["key"]["participant"] == "628222@s.whatsapp.net"


# -- who sent it: hidden numbers --------------------------------------------------------------


def test_a_hidden_sender_gets_the_phone_number_whatsapp_sends_beside_it() -> None:
    source = pb.MessageSource(Chat=HIDDEN, Sender=HIDDEN, SenderAlt=FRIEND)
    fields = incoming(e2e.Message(conversation="halo"), source=source)
    assert (fields["sender"], fields["sender_phone"]) == ("190000111222333@lid", "628222")


def test_a_hidden_sender_without_a_number_beside_it_has_no_phone() -> None:
    source = pb.MessageSource(Chat=HIDDEN, Sender=HIDDEN)
    assert incoming(e2e.Message(conversation="halo"), source=source)["sender_phone"] == ""


def test_a_message_from_another_device_of_the_account_is_from_me() -> None:
    source = pb.MessageSource(Chat=FRIEND, Sender=ME, IsFromMe=True)
    fields = incoming(e2e.Message(conversation="dari hp"), source=source)
    assert (fields["from_me"], fields["sender"], fields["sender_phone"]) == (
        True,
        "628111:7@s.whatsapp.net",
        "628111",
    )


# -- media -----------------------------------------------------------------------------------


def test_an_image_carries_caption_metadata_and_what_a_download_needs() -> None:
    fields = incoming(e2e.Message(imageMessage=image()))
    assert (fields["kind"], fields["text"]) == ("image", "foto")
    assert fields["media"] == {
        "mimetype": "image/jpeg",
        "size": len(PHOTO),
        "filename": "",
        "sha256": hashlib.sha256(PHOTO).hexdigest(),
        "download": {
            "media_type": "image",
            "direct_path": "/v/t62.7118-24/abc?ccb=11-4",
            "url": "https://mmg.whatsapp.net/v/t62.7118-24/abc",
            "media_key": base64.b64encode(b"\x02" * 32).decode(),
            "file_enc_sha256": base64.b64encode(b"\x01" * 32).decode(),
            "file_sha256": base64.b64encode(hashlib.sha256(PHOTO).digest()).decode(),
            "file_length": len(PHOTO),
        },
    }


def test_the_raw_copy_of_media_leaves_the_preview_out_and_keeps_the_keys() -> None:
    raw_image = incoming(e2e.Message(imageMessage=image()))["raw"]["message"]["imageMessage"]
    assert "JPEGThumbnail" not in raw_image
    assert raw_image["mediaKey"] == base64.b64encode(b"\x02" * 32).decode()
    assert raw_image["caption"] == "foto"


@pytest.mark.parametrize(
    ("field", "build", "kind", "text"),
    [
        (
            "videoMessage",
            lambda: e2e.VideoMessage(mimetype="video/mp4", caption="lihat", fileLength=9),
            "video",
            "lihat",
        ),
        ("ptvMessage", lambda: e2e.VideoMessage(mimetype="video/mp4", fileLength=9), "video", ""),
        (
            "audioMessage",
            lambda: e2e.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, fileLength=9),
            "audio",
            "",
        ),
        ("stickerMessage", lambda: e2e.StickerMessage(mimetype="image/webp", fileLength=9), "sticker", ""),
    ],
)
def test_each_media_kind_is_named_with_its_mimetype_and_size(
    field: str, build: Any, kind: str, text: str
) -> None:
    fields = incoming(e2e.Message(**{field: build()}))
    assert (fields["kind"], fields["text"], fields["media"]["size"]) == (kind, text, 9)
    assert fields["media"]["download"]["media_type"] == kind


def test_a_document_keeps_its_file_name_and_caption() -> None:
    doc = e2e.DocumentMessage(
        mimetype="application/pdf",
        fileName="invoice.pdf",
        title="invoice.pdf",
        caption="tagihan",
        fileLength=2048,
    )
    fields = incoming(e2e.Message(documentMessage=doc))
    assert (fields["kind"], fields["text"]) == ("document", "tagihan")
    assert (fields["media"]["filename"], fields["media"]["mimetype"]) == ("invoice.pdf", "application/pdf")


def test_a_document_with_caption_wrapper_is_a_document() -> None:
    doc = e2e.DocumentMessage(mimetype="application/pdf", fileName="a.pdf", caption="cap")
    wrapped = e2e.Message(
        documentWithCaptionMessage=e2e.FutureProofMessage(message=e2e.Message(documentMessage=doc))
    )
    fields = incoming(wrapped)
    assert (fields["kind"], fields["text"], fields["media"]["filename"]) == ("document", "cap", "a.pdf")


# -- wrappers ----------------------------------------------------------------------------------


def test_a_view_once_image_is_an_image_flagged_view_once() -> None:
    wrapped = e2e.Message(viewOnceMessageV2=e2e.FutureProofMessage(message=e2e.Message(imageMessage=image())))
    fields = incoming(wrapped)
    assert (fields["kind"], fields["details"]) == ("image", {"view_once": True})


def test_a_disappearing_message_is_its_content_flagged_ephemeral() -> None:
    wrapped = e2e.Message(
        ephemeralMessage=e2e.FutureProofMessage(message=e2e.Message(conversation="rahasia"))
    )
    fields = incoming(wrapped)
    assert (fields["kind"], fields["text"], fields["details"]) == ("text", "rahasia", {"ephemeral": True})


def test_a_message_inside_a_device_sent_envelope_is_its_content() -> None:
    wrapped = e2e.Message(
        deviceSentMessage=e2e.DeviceSentMessage(
            destinationJID="628222@s.whatsapp.net", message=e2e.Message(conversation="x")
        )
    )
    assert incoming(wrapped)["text"] == "x"


# -- locations, contacts, polls ----------------------------------------------------------------


def test_a_location_carries_coordinates_name_and_address() -> None:
    loc = e2e.LocationMessage(degreesLatitude=-6.2, degreesLongitude=106.8, name="Monas", address="Jakarta")
    fields = incoming(e2e.Message(locationMessage=loc))
    assert (fields["kind"], fields["text"]) == ("location", "Monas")
    assert fields["details"] == {
        "location": {
            "latitude": -6.2,
            "longitude": 106.8,
            "live": False,
            "name": "Monas",
            "address": "Jakarta",
        }
    }


def test_a_live_location_is_a_location_flagged_live() -> None:
    live = e2e.LiveLocationMessage(degreesLatitude=1.5, degreesLongitude=2.5, caption="otw")
    fields = incoming(e2e.Message(liveLocationMessage=live))
    assert (fields["kind"], fields["text"]) == ("location", "otw")
    assert fields["details"]["location"] == {"latitude": 1.5, "longitude": 2.5, "live": True}


def test_a_contact_carries_its_name_and_vcard() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Siti\nTEL;waid=628333:+62 833\nEND:VCARD"
    fields = incoming(e2e.Message(contactMessage=e2e.ContactMessage(displayName="Siti", vcard=vcard)))
    assert (fields["kind"], fields["text"]) == ("contact", "Siti")
    assert fields["details"] == {"contacts": [{"display_name": "Siti", "vcard": vcard}]}


def test_several_contacts_are_one_contact_message_listing_each() -> None:
    array = e2e.ContactsArrayMessage(
        displayName="2 contacts",
        contacts=[e2e.ContactMessage(displayName=name, vcard=f"FN:{name}") for name in ("A", "B")],
    )
    fields = incoming(e2e.Message(contactsArrayMessage=array))
    assert fields["kind"] == "contact"
    assert [c["display_name"] for c in fields["details"]["contacts"]] == ["A", "B"]


@pytest.mark.parametrize("field", ["pollCreationMessage", "pollCreationMessageV3"])
def test_a_poll_carries_its_question_and_options(field: str) -> None:
    poll = e2e.PollCreationMessage(
        name="Makan di mana?",
        options=[e2e.PollCreationMessage.Option(optionName=o) for o in ("Padang", "Sunda")],
        selectableOptionsCount=1,
    )
    fields = incoming(e2e.Message(**{field: poll}))
    assert (fields["kind"], fields["text"]) == ("poll", "Makan di mana?")
    assert fields["details"] == {
        "poll": {"question": "Makan di mana?", "options": ["Padang", "Sunda"], "selectable_count": 1}
    }


# -- reactions, edits, revokes -----------------------------------------------------------------


def test_a_reaction_names_its_target_and_emoji() -> None:
    reaction = e2e.ReactionMessage(key={"remoteJID": "628222@s.whatsapp.net", "ID": "T1"}, text="👍")
    fields = incoming(e2e.Message(reactionMessage=reaction), msg_id="R1")
    assert (fields["kind"], fields["target_id"], fields["text"], fields["message_id"]) == (
        "reaction",
        "T1",
        "👍",
        "R1",
    )


def test_a_revoke_names_the_message_it_deletes() -> None:
    revoke = e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE, key={"ID": "T1", "fromMe": False})
    fields = incoming(e2e.Message(protocolMessage=revoke), msg_id="D1")
    assert (fields["kind"], fields["target_id"], fields["message_id"]) == ("revoke", "T1", "D1")


def test_an_edit_names_its_target_and_carries_the_new_text_and_time() -> None:
    edit = e2e.ProtocolMessage(
        type=e2e.ProtocolMessage.MESSAGE_EDIT,
        key={"ID": "T1"},
        editedMessage=e2e.Message(conversation="halo (diedit)"),
        timestampMS=1_764_000_100_000,
    )
    fields = incoming(e2e.Message(protocolMessage=edit), msg_id="E1")
    assert (fields["kind"], fields["target_id"], fields["text"], fields["at"]) == (
        "edit",
        "T1",
        "halo (diedit)",
        1_764_000_100,
    )


def test_an_edit_of_a_caption_carries_the_new_caption() -> None:
    edit = e2e.ProtocolMessage(
        type=e2e.ProtocolMessage.MESSAGE_EDIT,
        key={"ID": "T1"},
        editedMessage=e2e.Message(imageMessage=e2e.ImageMessage(caption="caption baru")),
    )
    assert incoming(e2e.Message(protocolMessage=edit))["text"] == "caption baru"


# -- what is not a message, and what is one the gateway does not interpret --------------------


@pytest.mark.parametrize(
    "message",
    [
        e2e.Message(protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE)),
        e2e.Message(protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE)),  # no target
        e2e.Message(senderKeyDistributionMessage=e2e.SenderKeyDistributionMessage(groupID="g")),
        e2e.Message(),
    ],
    ids=["app-state-key", "revoke-without-target", "key-distribution", "empty"],
)
def test_protocol_chatter_is_no_message(message: Any) -> None:
    assert hs.translate("Message", event(message), neonize_text) is None


def test_key_distribution_riding_along_with_a_text_is_just_the_text() -> None:
    message = e2e.Message(
        senderKeyDistributionMessage=e2e.SenderKeyDistributionMessage(groupID="g"), conversation="halo"
    )
    assert incoming(message)["kind"] == "text"


def test_a_status_update_of_a_contact_is_no_message_to_the_account() -> None:
    status = pb.JID(User="status", Server="broadcast")
    ev = event(e2e.Message(conversation="my story"), source=pb.MessageSource(Chat=status, Sender=FRIEND))
    assert hs.translate("Message", ev, neonize_text) is None


def test_a_message_of_a_kind_the_gateway_does_not_know_is_other_with_its_raw_copy() -> None:
    invite = e2e.GroupInviteMessage(groupJID="120363@g.us", inviteCode="abc", groupName="Arisan")
    fields = incoming(e2e.Message(groupInviteMessage=invite))
    assert (fields["kind"], fields["text"]) == ("other", "neonize's own text")
    assert fields["raw"]["message"]["groupInviteMessage"]["groupName"] == "Arisan"


def test_message_kind_looks_through_envelopes() -> None:
    wrapped = e2e.Message(
        ephemeralMessage=e2e.FutureProofMessage(message=e2e.Message(stickerMessage=e2e.StickerMessage()))
    )
    assert m.message_kind(wrapped) == "sticker"


# -- the size of one protocol line ----------------------------------------------------------------


def test_a_huge_message_still_fits_one_protocol_line() -> None:
    contacts = [e2e.ContactMessage(displayName=f"C{i}", vcard="V" * 8000) for i in range(200)]
    message = e2e.Message(
        extendedTextMessage=e2e.ExtendedTextMessage(
            text="😀" * 65_536,
            contextInfo=e2e.ContextInfo(
                stanzaID="Q",
                quotedMessage=e2e.Message(contactsArrayMessage=e2e.ContactsArrayMessage(contacts=contacts)),
            ),
        )
    )
    fields = incoming(message)
    line = p.encode(p.event(p.INCOMING, "S1", **fields))
    assert len(line) <= p.MAX_LINE_BYTES
    assert fields["raw"]["truncated"]["limit"] == hs.INCOMING_LINE_BUDGET


def test_the_longest_text_whatsapp_allows_stays_whole_and_its_raw_copy_gives_way() -> None:
    fields = incoming(e2e.Message(conversation="😀" * 65_536))
    assert fields["text"] == "😀" * 65_536
    assert fields["raw"]["key"]["id"] == "M1"
    assert "message" not in fields["raw"]
