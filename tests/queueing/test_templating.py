"""Bulk templates: `%name%` placeholders and `{a|b}` spintax, per recipient."""

from __future__ import annotations

import random
import time

from hypothesis import given
from hypothesis import strategies as st

from queueing.templating import fill, render, spin


def test_placeholders_are_filled_from_params() -> None:
    assert fill("Hi %name%, order %order_id%", {"name": "Ann", "order_id": "42"}) == "Hi Ann, order 42"


def test_unknown_placeholders_and_lone_percents_stay_as_written() -> None:
    assert fill("50% off, %missing%, 100%", {"name": "x"}) == "50% off, %missing%, 100%"


def test_spintax_picks_one_option_with_the_given_randomness() -> None:
    assert spin("{Hi|Hello|Hey} there", lambda: 0.0) == "Hi there"
    assert spin("{Hi|Hello|Hey} there", lambda: 0.99) == "Hey there"


def test_nested_spintax_is_spun_innermost_first() -> None:
    assert spin("{a|{b|c}}", lambda: 0.99) == "c"


def test_braces_without_a_pipe_are_not_spintax() -> None:
    assert spin("JSON {ok} and {}", lambda: 0.5) == "JSON {ok} and {}"


def test_an_unclosed_group_of_many_pipes_costs_linear_time() -> None:
    # The old pattern backtracked quadratically here (~20 s for 50,000 pipes), holding the GIL
    # and so the whole web process, from one authenticated /send_bulk.
    started = time.perf_counter()
    assert spin("{" + "|" * 50_000, lambda: 0.0) == "{" + "|" * 50_000
    assert time.perf_counter() - started < 2.0


def test_param_values_are_never_spun() -> None:
    assert render("Hi %name%", {"name": "{x|y}"}, lambda: 0.0) == "Hi {x|y}"


def test_different_recipients_get_different_spins() -> None:
    rng = random.Random(1)
    outputs = {render("{a|b|c|d}", {}, rng.random) for _ in range(50)}
    assert outputs == {"a", "b", "c", "d"}


@given(st.text(max_size=200), st.floats(min_value=0, max_value=0.999999))
def test_spin_never_fails_and_leaves_no_pipes_inside_spun_groups(text: str, r: float) -> None:
    out = spin(text, lambda: r)
    assert isinstance(out, str) and len(out) <= len(text)
