"""kernel.step_failure: how long a main loop waits after a failed step."""

from __future__ import annotations

from kernel.step_failure import MAX_PAUSE_S, pause_s


def test_the_pause_doubles_with_each_failure_in_a_row() -> None:
    assert [pause_s(n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]


def test_the_pause_stops_growing_at_its_cap() -> None:
    assert pause_s(6) == MAX_PAUSE_S
    assert pause_s(60) == MAX_PAUSE_S
