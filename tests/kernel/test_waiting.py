"""kernel/waiting.poll: how often it looks, on a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kernel import waiting
from tests.support.worker_sim import FakeWait


@pytest.fixture
def wait(monkeypatch: Any) -> FakeWait:
    fake = FakeWait()
    monkeypatch.setattr(waiting, "clock", fake.clock)
    monkeypatch.setattr(waiting, "sleep", fake.sleep)
    return fake


def looks_at(wait: FakeWait, timeout: float, **kwargs: Any) -> list[float]:
    times: list[float] = []

    def check() -> None:
        times.append(round(wait.now, 4))

    assert waiting.poll(check, timeout, **kwargs) is None
    return times


def test_without_a_first_interval_it_looks_once_per_interval(wait: FakeWait) -> None:
    assert looks_at(wait, 0.35, interval=0.1) == [0, 0.1, 0.2, 0.3, 0.35]


def test_with_a_first_interval_it_looks_soon_then_less_and_less_often(wait: FakeWait) -> None:
    times = looks_at(wait, 0.5, interval=0.1, first_interval=0.01)
    assert times[:6] == [0, 0.01, 0.025, 0.0475, 0.0813, 0.1319]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == pytest.approx(0.1)


def test_an_answer_a_few_milliseconds_away_is_seen_within_a_few_more(wait: FakeWait) -> None:
    found = waiting.poll(
        lambda: "answer" if wait.now >= 0.03 else None, 5, interval=0.1, first_interval=0.005
    )
    assert found == "answer"
    assert wait.now < 0.05  # a whole interval (0.1 s) without the first interval


def test_timeout_zero_looks_once(wait: FakeWait) -> None:
    assert looks_at(wait, 0, interval=0.1, first_interval=0.005) == [0]
