"""Bulk templates: `%name%` placeholders and `{a|b}` spintax, per recipient."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queueing.templating import (
    MAX_SPIN_DEPTH,
    Budget,
    OverBudget,
    RenderError,
    TooLong,
    fill,
    parse,
    render,
    spin,
)


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
    assert isinstance(out, str)
    assert len(out) <= len(text)


def test_a_placeholder_next_to_spintax_is_filled_after_spinning() -> None:
    assert render("%na{m|m}e%", {"name": "Ann"}, lambda: 0.0) == "Ann"


def test_nesting_deeper_than_the_limit_stays_text_and_only_its_inner_groups_spin() -> None:
    deep = "{" * (MAX_SPIN_DEPTH + 1) + "a" + "|b}" * (MAX_SPIN_DEPTH + 1)
    assert spin(deep, lambda: 0.0) == "{a|b}"


def _spin_the_text_innermost_first(text: str, rand) -> str:
    """The specification: spin the innermost groups of the text, then again, up to the depth."""
    innermost = re.compile(r"\{([^{}|]*(?:\|[^{}|]*)+)\}")
    for _ in range(MAX_SPIN_DEPTH):

        def choose(match: re.Match[str]) -> str:
            options = match.group(1).split("|")
            return options[min(int(rand() * len(options)), len(options) - 1)]

        text, count = innermost.subn(choose, text)
        if count == 0:
            break
    return text


@given(st.text(alphabet="{}|ab% \n", max_size=80), st.floats(min_value=0, max_value=0.999999))
def test_spinning_the_parsed_tree_matches_spinning_the_text_innermost_first(text: str, r: float) -> None:
    assert spin(text, lambda: r) == _spin_the_text_innermost_first(text, lambda: r)


def test_rendering_stops_as_soon_as_the_output_would_pass_the_limit() -> None:
    # 21,845 placeholders of 100 KiB each were 2.2 GB of text, built in full before its length
    # was checked. Now the first piece that would pass the limit stops the rendering unbuilt.
    budget = Budget()
    with pytest.raises(TooLong):
        render("%a%" * 21_845, {"a": "x" * 100 * 1024}, lambda: 0.0, limit=65_536, budget=budget)
    assert budget.chars_used <= 65_536
    assert budget.steps_used <= 2  # the first placeholder fits nothing: the second is never reached


def test_one_budget_bounds_the_work_of_every_rendering_of_a_request() -> None:
    budget = Budget(steps=10_000)
    template = parse("{a|b}" * 1_000, budget)
    with pytest.raises(OverBudget):
        for _ in range(100):
            render(template, {}, lambda: 0.0, budget=budget)
    assert budget.steps_used <= 10_000


def test_a_parsed_template_walks_only_the_options_it_picks() -> None:
    # Spinning the text again for each recipient cost a pass over all of it per nesting level;
    # the tree is walked along the picked options only.
    nested = "x"
    for _ in range(MAX_SPIN_DEPTH - 1):
        nested = "{a|" + nested + "}"
    budget = Budget()
    template = parse(nested * 100, budget)
    budget.steps_used = 0
    assert render(template, {}, lambda: 0.0, budget=budget) == "a" * 100
    assert budget.steps_used == 200  # per copy: the group, then its first option


def test_spin_values_and_placeholders_in_values_are_never_rendered_again() -> None:
    assert render("%a%", {"a": "%b% {x|y}", "b": "no"}, lambda: 0.0) == "%b% {x|y}"


templates = st.lists(st.sampled_from(["{", "}", "|", "%a%", "%b%", "%", "a", "b", " "]), max_size=200).map(
    "".join
)
values = st.dictionaries(
    st.sampled_from(["a", "b", "c"]), st.text(alphabet="xy{|}%", max_size=300), max_size=3
)


@given(
    templates,
    values,
    st.floats(min_value=0, max_value=0.999999),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=2_000),
)
def test_rendering_never_passes_its_limit_or_its_budget(
    template: str, params: dict[str, str], r: float, limit: int, steps: int, chars: int
) -> None:
    budget = Budget(steps=steps, chars=chars)
    try:
        out = render(template, params, lambda: r, limit=limit, budget=budget)
    except RenderError:
        out = ""
    assert len(out) <= limit
    assert budget.steps_used <= steps
    assert budget.chars_used <= chars


@given(templates, values, st.floats(min_value=0, max_value=0.999999))
def test_within_its_limits_rendering_is_spinning_then_filling(template, params, r) -> None:
    unlimited = Budget(steps=10**9, chars=10**9)
    spun = _spin_the_text_innermost_first(template, lambda: r)
    expected = re.sub(r"%([A-Za-z_][A-Za-z0-9_]{0,63})%", lambda m: params.get(m.group(1), m.group(0)), spun)
    assert render(template, params, lambda: r, limit=10**9, budget=unlimited) == expected
