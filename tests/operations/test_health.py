from __future__ import annotations

from operations.health import health_score


def test_all_connected_with_live_worker_is_100() -> None:
    assert health_score(running=10, running_not_connected=0, open_breakers=0, worker_alive=True) == 100


def test_no_instances_is_healthy_if_the_worker_lives() -> None:
    assert health_score(running=0, running_not_connected=0, open_breakers=0, worker_alive=True) == 100
    assert health_score(running=0, running_not_connected=0, open_breakers=0, worker_alive=False) == 70


def test_not_connected_costs_up_to_40() -> None:
    assert health_score(running=4, running_not_connected=2, open_breakers=0, worker_alive=True) == 80
    assert health_score(running=4, running_not_connected=4, open_breakers=0, worker_alive=True) == 60


def test_open_breakers_cost_their_share_not_an_absolute_amount() -> None:
    # The seed's formula (−15 per open breaker) would give 0 here; seventy bad phones in a
    # thousand are a 5 % problem, not an outage.
    assert health_score(running=1000, running_not_connected=70, open_breakers=70, worker_alive=True) == 95


def test_everything_broken_clamps_at_0() -> None:
    assert health_score(running=3, running_not_connected=3, open_breakers=3, worker_alive=False) == 0
