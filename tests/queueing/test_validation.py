"""What a message must satisfy to be queued: a table of cases, and hypothesis for recipients and texts."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from queueing.validation import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    clean_message,
    normalize_chat_id,
    validate_idempotency_key,
)

VALID_PHONE = re.compile(r"^\+?[0-9]{8,15}$")


def errors_of(**kwargs) -> dict[str, list[str]]:
    kwargs.setdefault("chat_id", "6281234567890")
    try:
        clean_message(**kwargs)
    except ValidationError as exc:
        return exc.message_dict
    return {}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"text": "hi"}, set()),
        ({"chat_id": "", "text": "hi"}, {"chat_id"}),
        ({"chat_id": "12345", "text": "hi"}, {"chat_id"}),
        ({"chat_id": "62/812/3456", "text": "hi"}, {"chat_id"}),
        ({"text": ""}, {"caption"}),
        ({"text": "   \n"}, {"caption"}),
        ({"text": "x" * (TEXT_LIMIT + 1)}, {"caption"}),
        ({"text": "x" * TEXT_LIMIT}, set()),
        ({"text": "nul\x00byte"}, {"caption"}),
        ({"text": "lone \ud800 surrogate"}, {"caption"}),
        ({"kind": "gif", "text": "hi"}, {"type"}),
        ({"kind": "sticker", "text": "hi"}, {"media_url", "caption"}),
        ({"kind": "image"}, {"media_url"}),
        ({"kind": "image", "media_url": "ftp://example.com/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://127.0.0.1/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://[::1]/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://169.254.169.254/latest/"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://[64:ff9b::a9fe:a9fe]/latest/"}, {"media_url"}),  # NAT64
        ({"kind": "image", "media_url": "http://10.1.2.3/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://[::ffff:0:7f00:1]/a.png"}, {"media_url"}),  # SIIT
        ({"kind": "image", "media_url": "http://192.0.0.8/a.png"}, {"media_url"}),  # IETF assignments
        ({"kind": "image", "media_url": "http://localhost:8000/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://93.184.215.14:99999/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://93.184.215.14:0/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://[::1/a.png"}, {"media_url"}),  # urlsplit: ValueError
        ({"kind": "media", "media_url": "http://[::1/a.png"}, {"media_url"}),  # kind from the URL
        ({"media_url": "http://[::1/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://[93.184.215.14]/a.png"}, {"media_url"}),
        ({"kind": "image", "media_url": "http://93.184.215.14/a.png"}, set()),
        ({"kind": "image", "media_url": "https://93.184.215.14/a.png", "text": "c" * CAPTION_LIMIT}, set()),
        (
            {"kind": "image", "media_url": "https://93.184.215.14/a.png", "text": "c" * (CAPTION_LIMIT + 1)},
            {"caption"},
        ),
        ({"kind": "text", "text": "hi", "media_url": "https://93.184.215.14/a.png"}, {"media_url"}),
        (
            {"kind": "document", "media_url": "https://93.184.215.14/x", "filename": "../etc/passwd"},
            {"filename"},
        ),
        ({"text": "hi", "priority": 101}, {"priority"}),
        ({"chat_id": "bad", "kind": "video", "text": "c" * 2000}, {"chat_id", "media_url", "caption"}),
    ],
)
def test_each_invalid_field_is_named(fields, bad) -> None:
    assert set(errors_of(**fields)) == bad


def test_the_text_error_is_named_after_the_field_the_client_used() -> None:
    assert set(errors_of(text="", text_field="message")) == {"message"}


def test_private_media_urls_pass_when_the_operator_allows_them() -> None:
    assert errors_of(kind="image", media_url="http://127.0.0.1:9/a.png", allow_private=True) == {}


@pytest.mark.parametrize(
    ("url", "filename", "kind"),
    [
        ("https://93.184.215.14/cat.JPG", "", "image"),
        ("https://93.184.215.14/clip.mp4", "", "video"),
        ("https://93.184.215.14/voice.mp3", "", "audio"),
        ("https://93.184.215.14/invoice.pdf", "", "document"),
        ("https://93.184.215.14/download?id=1", "", "document"),
        ("https://93.184.215.14/download?id=1", "photo.png", "image"),
    ],
)
def test_waziper_media_type_picks_the_kind_from_the_extension(url, filename, kind) -> None:
    draft = clean_message(chat_id="6281234567890", kind="media", media_url=url, filename=filename)
    assert draft.kind == kind


def test_no_type_means_text_or_media_by_the_presence_of_a_url() -> None:
    assert clean_message(chat_id="6281234567890", text="hi").kind == "text"
    assert clean_message(chat_id="6281234567890", media_url="https://93.184.215.14/a.png").kind == "image"


@given(st.from_regex(VALID_PHONE, fullmatch=True))
def test_every_phone_number_of_8_to_15_digits_is_accepted_without_its_plus(phone: str) -> None:
    assert normalize_chat_id(phone) == phone.lstrip("+")


@given(st.text(max_size=40))
def test_anything_else_is_refused_or_is_a_jid(value: str) -> None:
    try:
        out = normalize_chat_id(value)
    except ValidationError:
        return
    is_phone = VALID_PHONE.match(re.sub(r"[\s-]", "", value))
    assert is_phone or out.endswith(("@s.whatsapp.net", "@g.us", "@lid"))


@given(st.from_regex(r"[0-9]{8,15}", fullmatch=True), st.sampled_from(["s.whatsapp.net", "S.WhatsApp.NET"]))
def test_user_jids_are_accepted_and_lower_cased(user: str, domain: str) -> None:
    assert normalize_chat_id(f"{user}@{domain}") == f"{user}@s.whatsapp.net"


@given(st.from_regex(r"[0-9]{8,15}", fullmatch=True), st.sampled_from(["c.us", "C.US"]))
def test_c_us_jids_are_the_same_users_chat(user: str, domain: str) -> None:
    assert normalize_chat_id(f"{user}@{domain}") == f"{user}@s.whatsapp.net"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+62 812-3456-7890", "6281234567890"),
        (" 6281234567890", "6281234567890"),  # a form's unencoded + arrives as a space
        ("62-812-3456-7890", "6281234567890"),
        ("+62 812-3456-7890@c.us", "6281234567890@s.whatsapp.net"),
        ("+6281234567890@s.whatsapp.net", "6281234567890@s.whatsapp.net"),
    ],
)
def test_plus_spaces_and_dashes_in_a_number_are_dropped(value: str, expected: str) -> None:
    assert normalize_chat_id(value) == expected


def test_an_audio_message_drops_its_caption_rather_than_being_refused() -> None:
    draft = clean_message(
        chat_id="6281234567890@c.us", media_url="https://93.184.215.14/v.mp3", text="hi", text_field="caption"
    )
    assert (draft.kind, draft.text) == ("audio", "")


@pytest.mark.parametrize("jid", ["120363025246125486@g.us", "6281234567890-1580000000@g.us"])
def test_group_jids_are_accepted(jid: str) -> None:
    assert normalize_chat_id(jid) == jid


@pytest.mark.parametrize(
    "value",
    ["٦٢٨١٢٣٤٥٦٧٨٩٠", "abc@g.us", "+", "++6281234567890", "62812@c.us", "6281234567890@c.us.evil", "a@c.us"],
)
def test_lookalikes_are_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        normalize_chat_id(value)


@given(st.text(min_size=1, max_size=300))
def test_texts_are_accepted_exactly_when_they_have_visible_content(text: str) -> None:
    ok = bool(text.strip()) and "\x00" not in text
    assert (errors_of(text=text) == {}) is ok


@given(st.text(max_size=CAPTION_LIMIT + 50))
def test_captions_are_capped_at_whatsapps_limit(text: str) -> None:
    errs = errors_of(kind="image", media_url="https://93.184.215.14/a.png", text=text)
    assert ("caption" in errs) is (len(text) > CAPTION_LIMIT or "\x00" in text)


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "tab\t", "ünï"])
def test_bad_idempotency_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        validate_idempotency_key(key)


# --- the kinds beyond text and media ------------------------------------------------------------

VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Ann Lee\nTEL;type=CELL:+628123456789\nEND:VCARD"
A_UUID = "6c7b6b5e-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"kind": "location", "latitude": -6.2, "longitude": 106.8}, set()),
        ({"kind": "location", "latitude": "-6.2", "longitude": "106.8"}, set()),  # a form's strings
        ({"kind": "location", "latitude": 90, "longitude": -180}, set()),
        ({"kind": "location", "latitude": 90.01, "longitude": 0}, {"latitude"}),
        ({"kind": "location", "latitude": 0, "longitude": 180.5}, {"longitude"}),
        ({"kind": "location", "latitude": -91, "longitude": -181}, {"latitude", "longitude"}),
        ({"kind": "location", "latitude": float("nan"), "longitude": 0}, {"latitude"}),
        ({"kind": "location", "latitude": True, "longitude": 0}, {"latitude"}),
        ({"kind": "location", "longitude": 0}, {"latitude"}),
        ({"kind": "location", "latitude": 0, "longitude": 0, "location_name": "a\nb"}, {"location_name"}),
        ({"kind": "location", "latitude": 0, "longitude": 0, "text": "look"}, {"caption"}),
        ({"kind": "contact", "contact_name": "Ann", "contact_phone": "+628123456789"}, set()),
        ({"kind": "contact", "vcard": VCARD}, set()),
        ({"kind": "contact", "contact_name": "Ann"}, {"contact_phone"}),
        ({"kind": "contact", "contact_phone": "628123456789"}, {"contact_name"}),
        ({"kind": "contact", "contact_name": "Ann", "contact_phone": "12"}, {"contact_phone"}),
        (
            {"kind": "contact", "contact_name": "Ann\nEND:VCARD", "contact_phone": "628123456789"},
            {"contact_name"},
        ),
        ({"kind": "contact", "vcard": "FN:Ann"}, {"vcard"}),
        ({"kind": "contact", "vcard": VCARD + "\n" + VCARD}, {"vcard"}),
        (
            {"kind": "contact", "vcard": VCARD.replace("END:VCARD", "X:" + "y" * 20_000 + "\nEND:VCARD")},
            {"vcard"},
        ),
        ({"kind": "contact", "vcard": VCARD.replace("Ann", "A\x07nn")}, {"vcard"}),
        ({"kind": "contact", "vcard": VCARD, "contact_phone": "628123456789"}, {"contact_phone"}),
        ({"kind": "poll", "question": "Lunch?", "options": ["rice", "noodles"]}, set()),
        ({"kind": "poll", "question": "Lunch?", "options": ["rice"]}, {"options"}),
        ({"kind": "poll", "question": "Lunch?", "options": [str(i) for i in range(13)]}, {"options"}),
        ({"kind": "poll", "question": "Lunch?", "options": ["rice", "rice"]}, {"options"}),
        ({"kind": "poll", "question": "Lunch?", "options": ["rice", " "]}, {"options.1"}),
        ({"kind": "poll", "question": "", "options": ["rice", "noodles"]}, {"question"}),
        ({"kind": "poll", "question": "Q", "options": ["a", "b"], "selectable_count": 2}, set()),
        (
            {"kind": "poll", "question": "Q", "options": ["a", "b"], "selectable_count": 3},
            {"selectable_count"},
        ),
        (
            {"kind": "poll", "question": "Q", "options": ["a", "b"], "selectable_count": 0},
            {"selectable_count"},
        ),
        ({"kind": "poll", "question": "Q", "options": "a,b"}, {"options"}),
        ({"kind": "sticker", "media_url": "https://93.184.215.14/s.webp"}, set()),
        ({"kind": "sticker", "media_url": "https://93.184.215.14/s.webp", "text": "hi"}, {"caption"}),
        ({"kind": "reaction", "target_message_id": A_UUID, "emoji": "👍"}, set()),
        ({"kind": "reaction", "target_message_id": "3EB0C4F1A2B3C4D5", "emoji": ""}, set()),
        ({"kind": "reaction", "target_message_id": A_UUID}, {"emoji"}),
        ({"kind": "reaction", "target_message_id": A_UUID, "emoji": "👍 👍"}, {"emoji"}),
        ({"kind": "reaction", "emoji": "👍"}, {"target_message_id"}),
        ({"kind": "reaction", "target_message_id": "not an id!", "emoji": "👍"}, {"target_message_id"}),
        ({"kind": "edit", "target_message_id": A_UUID, "text": "fixed"}, set()),
        ({"kind": "edit", "target_message_id": A_UUID}, {"caption"}),
        ({"kind": "delete", "target_message_id": A_UUID}, set()),
        ({"kind": "delete", "target_message_id": A_UUID, "text": "bye"}, {"caption"}),
        ({"kind": "delete", "target_message_id": A_UUID, "typing_s": 2}, {"typing_s"}),
        (
            {"kind": "edit", "target_message_id": A_UUID, "text": "x", "quoted_message_id": A_UUID},
            {"quoted_message_id"},
        ),
        ({"text": "hi", "latitude": 1}, {"latitude"}),  # a field the kind does not take
        ({"text": "hi", "target_message_id": A_UUID}, {"target_message_id"}),
        ({"text": "hi", "quoted_message_id": A_UUID}, set()),
        ({"text": "hi", "quoted_message_id": "3EB0C4F1A2B3C4D5"}, set()),
        ({"text": "hi", "quoted_message_id": "../../etc"}, {"quoted_message_id"}),
        ({"text": "hi @628111111111", "mentions": ["628111111111", "+628222222222"]}, set()),
        ({"text": "hi", "mentions": "628111111111, 628222222222"}, set()),
        ({"text": "hi", "mentions": ["120363025246125486@g.us"]}, {"mentions"}),
        ({"text": "hi", "mentions": ["nobody"]}, {"mentions"}),
        ({"kind": "location", "latitude": 0, "longitude": 0, "mentions": ["628111111111"]}, {"mentions"}),
        ({"text": "hi", "typing_s": 10}, set()),
        ({"text": "hi", "typing_s": 10.5}, {"typing_s"}),
        ({"text": "hi", "typing_s": -1}, {"typing_s"}),
    ],
)
def test_each_kinds_invalid_field_is_named(fields, bad) -> None:
    assert set(errors_of(**fields)) == bad


def test_a_location_keeps_its_coordinates_name_and_address() -> None:
    draft = clean_message(
        chat_id="6281234567890",
        kind="location",
        latitude="-6.1754",
        longitude=106.8272,
        location_name=" Monas ",
        location_address="Gambir, Jakarta",
    )
    assert draft.payload == {
        "latitude": -6.1754,
        "longitude": 106.8272,
        "name": "Monas",
        "address": "Gambir, Jakarta",
    }


def test_a_contact_by_name_and_phone_gets_the_vcard_whatsapp_sends() -> None:
    draft = clean_message(
        chat_id="6281234567890", kind="contact", contact_name="Ann Lee", contact_phone="+628123456789"
    )
    assert draft.payload["vcard"] == (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ann Lee\nitem1.TEL;waid=628123456789:+628123456789\n"
        "item1.X-ABLabel:Mobile\nEND:VCARD"
    )


def test_a_contact_by_vcard_is_named_after_its_fn() -> None:
    draft = clean_message(chat_id="6281234567890", kind="contact", vcard=VCARD.replace("\n", "\r\n"))
    assert draft.payload == {"name": "Ann Lee", "vcard": VCARD}


def test_mentions_become_user_jids_once_each() -> None:
    draft = clean_message(
        chat_id="120363025246125486@g.us",
        text="hi @628111111111",
        mentions=["628111111111", "+628111111111", "123456789012345@lid"],
    )
    assert draft.mentions == ("628111111111@s.whatsapp.net", "123456789012345@lid")


@pytest.mark.parametrize("jid", ["123456789012345@lid", "123456789012345@LID"])
def test_lid_chat_ids_are_accepted(jid: str) -> None:
    assert normalize_chat_id(jid) == "123456789012345@lid"


def test_a_lid_is_a_chat_for_every_kind() -> None:
    draft = clean_message(chat_id="123456789012345@lid", kind="location", latitude=1, longitude=2)
    assert draft.chat_id == "123456789012345@lid"
