"""Waziper's queue figures, from this queue's counts."""

from __future__ import annotations

from typing import Any

import pytest

from queueing.models import QueuedMessage
from queueing.stats import (
    HEALTHY,
    HIGH_BACKLOG,
    LOW_SUCCESS_RATE,
    MANY_RETRIES,
    PROCESSING,
    waziper_figures,
)


def _counts(**given: int) -> dict[str, int]:
    return {status: given.get(status, 0) for status in QueuedMessage.Status.values}


def _figures(retry_waiting: int = 0, retries: int = 0, **counts: int) -> dict[str, Any]:
    return waziper_figures("664461B63FB8A", _counts(**counts), retry_waiting=retry_waiting, retries=retries)


def test_an_empty_queue_is_healthy_at_a_rate_of_zero() -> None:
    assert _figures() == {
        "instanceId": "664461B63FB8A",
        "mainQueue": 0,
        "retryQueue": 0,
        "processing": False,
        "stats": {"queued": 0, "success": 0, "failed": 0, "retry": 0},
        "successRate": 0,
        "recommendations": [HEALTHY],
    }


def test_the_success_rate_is_a_rounded_percentage_of_settled_messages() -> None:
    assert _figures(sent=1, delivered=1, read=0, failed=1)["successRate"] == 67


def test_stats_count_every_message_ever_queued() -> None:
    stats = _figures(queued=2, sending=1, sent=3, read=1, failed=1, cancelled=1, retries=4)["stats"]
    assert stats == {"queued": 9, "success": 4, "failed": 1, "retry": 4}


@pytest.mark.parametrize(
    ("figures", "advice"),
    [
        ({"sent": 2, "failed": 1}, [LOW_SUCCESS_RATE]),
        ({"sent": 7, "failed": 3}, [HEALTHY]),
        ({"queued": 11}, [HIGH_BACKLOG]),
        ({"queued": 10}, [HEALTHY]),
        ({"queued": 6, "retry_waiting": 6}, [MANY_RETRIES]),
        ({"sending": 1}, [PROCESSING]),
        (
            {"queued": 11, "retry_waiting": 6, "sending": 1, "failed": 1},
            [LOW_SUCCESS_RATE, HIGH_BACKLOG, MANY_RETRIES, PROCESSING],
        ),
    ],
)
def test_recommendations_in_wazipers_words_and_order(figures: dict[str, int], advice: list[str]) -> None:
    assert _figures(**figures)["recommendations"] == advice


def test_the_recommendations_are_wazipers_exact_strings() -> None:
    assert LOW_SUCCESS_RATE.startswith("\u26a0\ufe0f ")
    assert PROCESSING.startswith("\u2699\ufe0f ")
    assert HEALTHY == "\u2705 Queue is healthy and operating normally."
