"""kernel.text: text from outside made storable."""

from __future__ import annotations

from kernel.text import storable


def test_nul_characters_are_dropped() -> None:
    assert storable("a\x00b") == "ab"


def test_a_lone_surrogate_is_replaced_and_the_rest_kept() -> None:
    assert storable("x\ud800y") == "x?y"


def test_ordinary_text_is_unchanged() -> None:
    assert storable("Budi 🙂 ñ") == "Budi 🙂 ñ"
