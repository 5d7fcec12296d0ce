"""Pure queue decisions with a fixed clock and fixed randomness."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queueing import policy
from tests.support.queue import T0

LOW = lambda: 0.0  # noqa: E731
HIGH = lambda: 0.999999  # noqa: E731


def test_spacing_is_uniform_between_min_and_max() -> None:
    spacing = policy.Spacing(2, 5)
    assert policy.send_delay(spacing, LOW) == 2
    assert policy.send_delay(spacing, lambda: 0.5) == 3.5
    assert policy.send_delay(spacing, HIGH) == pytest.approx(5, abs=1e-5)


def test_zero_spacing_sends_back_to_back() -> None:
    assert policy.next_send_at(T0, policy.Spacing(0, 0), T0, HIGH) == T0


def test_first_send_of_an_instance_is_not_delayed() -> None:
    assert policy.next_send_at(None, policy.Spacing(2, 5), T0, HIGH) == T0


def test_next_send_counts_from_the_last_hand_off() -> None:
    last = T0 - timedelta(seconds=1)
    assert policy.next_send_at(last, policy.Spacing(2, 4), T0, lambda: 0.5) == last + timedelta(seconds=3)


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ((None, None), (2, 5)),
        ((0, 0), (0, 0)),
        ((7, None), (7, 7)),  # a lone minimum above the default maximum widens the maximum
        ((None, 1), (1, 1)),  # a lone maximum below the default minimum lowers the minimum
        ((1, 3), (1, 3)),
    ],
)
def test_instance_spacing_overrides_settings(own, expected) -> None:
    spacing = policy.spacing_for(*own, 2, 5)
    assert (spacing.min_s, spacing.max_s) == expected


def test_invalid_spacing_is_refused() -> None:
    with pytest.raises(ValueError):
        policy.Spacing(3, 2)


def test_backoff_doubles_with_equal_jitter_and_caps() -> None:
    assert policy.retry_delay(1, LOW, base_s=5, cap_s=300) == 2.5
    assert policy.retry_delay(1, HIGH, base_s=5, cap_s=300) == pytest.approx(5, abs=1e-4)
    assert policy.retry_delay(3, LOW, base_s=5, cap_s=300) == 10
    assert policy.retry_delay(20, HIGH, base_s=5, cap_s=300) == pytest.approx(300, abs=1e-3)


def test_backoff_stays_at_the_cap_however_many_attempts_were_allowed() -> None:
    # WAZIPER_SEND_MAX_ATTEMPTS has no upper bound; the settings' durations are floats.
    assert policy.retry_delay(5000, LOW, base_s=5.0, cap_s=300.0) == 150


def decide(**kw):
    args = dict(attempts=1, max_attempts=5, retryable=True, dead_socket=False, now=T0, rand=LOW)
    args.update(kw)
    return policy.after_send_failure(**args, base_s=5, cap_s=300)


def test_transient_failure_retries_after_backoff() -> None:
    d = decide(attempts=2)
    assert d.retry
    assert d.counts_attempt
    assert d.not_before == T0 + timedelta(seconds=5)


def test_transient_failure_gives_up_at_exactly_max_attempts() -> None:
    assert decide(attempts=4).retry
    d = decide(attempts=5)
    assert not d.retry
    assert "after 5 attempts" in d.reason


def test_permanent_failure_fails_at_once() -> None:
    d = decide(attempts=1, retryable=False)
    assert not d.retry
    assert d.reason == "permanent error"


def test_dead_socket_waits_for_reconnect_without_using_an_attempt() -> None:
    d = decide(attempts=5, dead_socket=True, retryable=False)
    assert d.retry
    assert not d.counts_attempt
    assert d.not_before == T0


# --- WhatsApp's windows for edits and deletes, and typing -------------------------------------


def test_an_edit_may_go_out_up_to_15_minutes_after_the_send() -> None:
    assert policy.window_closed("edit", T0, T0 + timedelta(minutes=15)) is None


def test_an_edit_past_15_minutes_is_refused_with_whatsapps_window_in_words() -> None:
    reason = policy.window_closed("edit", T0, T0 + timedelta(minutes=15, seconds=1))
    assert reason == (
        "WhatsApp's window has passed: a message can be edited only within 15 minutes of its send."
    )


def test_a_delete_may_go_out_for_two_days() -> None:
    assert policy.window_closed("delete", T0, T0 + timedelta(days=2)) is None


def test_a_delete_past_two_days_is_refused() -> None:
    reason = policy.window_closed("delete", T0, T0 + timedelta(days=2, seconds=1))
    assert reason is not None
    assert "deleted for everyone only within 2 days" in reason


@pytest.mark.parametrize("kind", ["reaction", "text"])
def test_other_kinds_have_no_window(kind: str) -> None:
    assert policy.window_closed(kind, T0, T0 + timedelta(days=365)) is None


def test_a_message_not_sent_by_us_has_no_deadline() -> None:
    assert policy.action_deadline("edit", None) is None


def test_the_deadline_is_the_send_plus_the_window() -> None:
    assert policy.action_deadline("edit", T0) == T0 + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("low", "high", "rand", "seconds"),
    [
        (None, None, HIGH, 0.0),
        (2.0, 4.0, LOW, 2.0),
        (2.0, 4.0, lambda: 0.5, 3.0),
        (3.0, None, HIGH, 3.0),
        (None, 5.0, LOW, 5.0),
    ],
)
def test_the_instances_typing_time_is_uniform_in_its_range(low, high, rand, seconds) -> None:
    assert policy.typing_for(low, high, rand) == pytest.approx(seconds)
