"""kernel.text: text from outside made storable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from kernel.text import refuse_unstorable, storable


def test_nul_characters_are_dropped() -> None:
    assert storable("a\x00b") == "ab"


def test_a_lone_surrogate_is_replaced_and_the_rest_kept() -> None:
    assert storable("x\ud800y") == "x?y"


def test_ordinary_text_is_unchanged() -> None:
    assert storable("Budi 🙂 ñ") == "Budi 🙂 ñ"


def test_refuse_unstorable_names_a_nul_character() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        refuse_unstorable("a\x00b")


def test_refuse_unstorable_names_a_lone_surrogate() -> None:
    with pytest.raises(ValidationError, match="Unicode"):
        refuse_unstorable("x\ud800y")


def test_refuse_unstorable_passes_ordinary_text_unchanged() -> None:
    assert refuse_unstorable("Budi 🙂") == "Budi 🙂"
