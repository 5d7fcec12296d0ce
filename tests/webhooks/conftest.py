"""Fixtures of the webhook tests: a real receiver on loopback, and deliverers on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kernel.clock import FakeClock
from tests.support.webhook_receiver import Receiver
from webhooks.deliverer import Deliverer


@pytest.fixture(autouse=True)
def _loopback_receivers(settings: Any) -> None:
    # The receivers these tests post to are on 127.0.0.1.
    settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS = True
    settings.WAZIPER_WEBHOOK_TIMEOUT = 2
    settings.WAZIPER_WEBHOOK_CONNECT_TIMEOUT = 1


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_deliverer(clock: FakeClock) -> Iterator[Callable[..., Deliverer]]:
    made: list[Deliverer] = []

    def make(deliverer_id: str = "test-deliverer", **kwargs: Any) -> Deliverer:
        deliverer = Deliverer(deliverer_id, clock=clock, rand=lambda: 0.5, **kwargs)
        made.append(deliverer)
        return deliverer

    yield make
    for deliverer in made:
        deliverer._closing = True
        deliverer._pool.shutdown(wait=False, cancel_futures=True)
        deliverer.client.close()
