"""Throttle buckets kept in the database: shared by every connection (so every web process),
never spending one token twice, and the failed-authentication lock per client address."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from instances import throttling
from instances.models import AccessToken, ThrottleBucket
from kernel.throttles import Rate

pytestmark = pytest.mark.dbengines
TEN_A_MINUTE = Rate(10, 60.0)


def in_threads(count: int, work: Any) -> list[Any]:
    """Run `work(i)` in `count` threads at once, each on its own database connection."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_the_count_lives_in_the_database_so_separate_connections_share_it() -> None:
    now = timezone.now()
    first = in_threads(1, lambda _: [throttling.spend("k", TEN_A_MINUTE, now) for _ in range(6)])[0]
    second = in_threads(1, lambda _: [throttling.spend("k", TEN_A_MINUTE, now) for _ in range(6)])[0]
    assert first == [0.0] * 6
    assert second[:4] == [0.0] * 4
    assert second[4] == pytest.approx(6.0)
    assert ThrottleBucket.objects.get(key="k").tokens == pytest.approx(0.0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_connections_never_spend_one_token_twice() -> None:
    now = timezone.now()
    outcomes = in_threads(4, lambda _: [throttling.spend("burst", TEN_A_MINUTE, now) for _ in range(5)])
    allowed = sum(wait == 0.0 for per_thread in outcomes for wait in per_thread)
    assert allowed == 10


@pytest.mark.django_db
def test_tokens_come_back_with_time() -> None:
    now = timezone.now()
    for _ in range(10):
        throttling.spend("k", TEN_A_MINUTE, now)
    assert throttling.spend("k", TEN_A_MINUTE, now) > 0
    assert throttling.spend("k", TEN_A_MINUTE, now + timedelta(seconds=6)) == 0.0


@pytest.fixture
def three_failures(settings: Any) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"


@pytest.mark.django_db
@pytest.mark.usefixtures("three_failures")
def test_an_address_that_failed_too_often_is_refused_even_with_a_good_token(owner_token: str) -> None:
    for _ in range(3):
        assert throttling.authenticate_token("wzp_bad", "198.51.100.7") is None
    with pytest.raises(throttling.AuthenticationThrottled) as refused:
        throttling.authenticate_token(owner_token, "198.51.100.7")
    assert 0 < refused.value.wait <= 20
    assert throttling.authenticate_token(owner_token, "198.51.100.8") is not None


@pytest.mark.django_db
@pytest.mark.usefixtures("three_failures")
def test_good_tokens_never_lock_an_address(owner_token: str) -> None:
    for _ in range(10):
        assert throttling.authenticate_token(owner_token, "198.51.100.7") is not None
    assert not ThrottleBucket.objects.filter(key__startswith="auth-failures:").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("three_failures")
def test_a_recheck_of_an_open_socket_is_not_throttled(owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    token.revoke()
    for _ in range(5):
        assert throttling.authenticate_token(raw, None) is None


@pytest.mark.django_db
def test_idle_buckets_are_pruned(settings: Any) -> None:
    settings.WAZIPER_THROTTLE_RATE = "600/min"
    settings.WAZIPER_AUTH_FAILURE_RATE = "20/h"
    now = timezone.now()
    throttling.spend("old", TEN_A_MINUTE, now - timedelta(hours=2))
    throttling.spend("recent", TEN_A_MINUTE, now - timedelta(minutes=30))
    throttling.prune_buckets(now)
    kept = set(ThrottleBucket.objects.filter(key__in=["old", "recent"]).values_list("key", flat=True))
    assert kept == {"recent"}
