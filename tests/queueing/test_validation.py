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
        ({"kind": "sticker", "text": "hi"}, {"type"}),
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
    assert VALID_PHONE.match(re.sub(r"[\s-]", "", value)) or out.endswith(("@s.whatsapp.net", "@g.us"))


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
