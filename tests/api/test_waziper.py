"""api/waziper.py: the shapes of Waziper's answers that several paths share."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from api.waziper import AVATAR_COLOURS, avatar_url, linked_user, phone_of
from instances.models import Instance


@pytest.mark.parametrize(
    ("jid", "phone"),
    [("6281234567890:12@s.whatsapp.net", "6281234567890"), ("6281234567890@s.whatsapp.net", "6281234567890")],
)
def test_the_number_of_a_jid(jid: str, phone: str) -> None:
    assert phone_of(jid) == phone


def test_the_avatar_is_wazipers_ui_avatars_picture_of_the_name() -> None:
    url = urlsplit(avatar_url("Toko & Andi's", "seed"))
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://ui-avatars.com/api/"
    assert query["name"] == ["Toko & Andi's"]
    assert query["background"][0] in AVATAR_COLOURS
    assert (query["color"], query["format"]) == (["fff"], ["png"])


def test_one_seed_keeps_one_colour() -> None:
    assert avatar_url("A", "6281234567890@s.whatsapp.net") == avatar_url("A", "6281234567890@s.whatsapp.net")


def test_no_linked_phone_has_no_user() -> None:
    assert linked_user(Instance(jid="")) == {"id": None, "name": None, "avatar": None}
