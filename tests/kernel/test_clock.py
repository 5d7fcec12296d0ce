"""kernel.clock: the fake clock and which periodic steps are due."""

from __future__ import annotations

from kernel.clock import FakeClock, Periodic


def test_a_step_is_due_at_first_then_once_per_interval() -> None:
    clock, periodic = FakeClock(), Periodic()
    assert periodic.due("beat", clock.now(), 10) is True
    assert periodic.due("beat", clock.advance(9.9), 10) is False
    assert periodic.due("beat", clock.advance(0.1), 10) is True


def test_steps_are_counted_apart() -> None:
    clock, periodic = FakeClock(), Periodic()
    periodic.due("beat", clock.now(), 10)
    assert periodic.due("cleanup", clock.now(), 10) is True


def test_a_clock_stepped_back_makes_the_step_due_at_once() -> None:
    clock, periodic = FakeClock(), Periodic()
    periodic.due("beat", clock.now(), 10)
    assert periodic.due("beat", clock.advance(-3600), 10) is True
