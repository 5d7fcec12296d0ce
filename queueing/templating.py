"""Waziper-style message templates for bulk sends: `%name%` placeholders and `{a|b}` spintax.

Spintax is spun first, then placeholders are filled, so a recipient's own values (which may hold
braces or pipes) are never spun. A placeholder with no value for this recipient stays as written:
texts such as "50% off, 100%" must survive untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Rand = Callable[[], float]

PLACEHOLDER_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]{0,63})%")
# An innermost group: braces holding at least one `|` and no other braces. The runs between
# pipes exclude `|` so there is one way to match: `[^{}]*\|[^{}]*` backtracked quadratically on
# an unclosed `{|||…` (seconds for 16,000 pipes, with the GIL held all along).
_SPIN_RE = re.compile(r"\{([^{}|]*(?:\|[^{}|]*)+)\}")
# Nesting deeper than this is not spintax a person wrote; stop rather than loop on crafted input.
MAX_SPIN_ROUNDS = 50


def spin(text: str, rand: Rand) -> str:
    """Replace each `{a|b|c}` by one option chosen with `rand`, innermost groups first."""
    for _ in range(MAX_SPIN_ROUNDS):

        def choose(match: re.Match[str]) -> str:
            options = match.group(1).split("|")
            return options[min(int(rand() * len(options)), len(options) - 1)]

        spun, count = _SPIN_RE.subn(choose, text)
        if count == 0:
            return spun
        text = spun
    return text


def fill(text: str, params: Mapping[str, object]) -> str:
    """Replace `%key%` with `params[key]`; unknown keys stay as written."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(params[key]) if key in params else match.group(0)

    return PLACEHOLDER_RE.sub(value, text)


def render(template: str, params: Mapping[str, object], rand: Rand) -> str:
    return fill(spin(template, rand), params)
