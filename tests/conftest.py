"""Shared fixtures: three users as in healthchecks' tests (owner, stranger, staff) and their tokens."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from instances.models import AccessToken, Instance
from instances.service import create_instance
from kernel import waiting
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait


@pytest.fixture(autouse=True)
def _isolate(settings: Any, tmp_path: Any) -> None:
    # Throttling has its own tests; elsewhere it must never interfere. Each test gets its own
    # session store directory.
    settings.WAZIPER_THROTTLE_RATE = "1000000/min"
    settings.WAZIPER_AUTH_FAILURE_RATE = "1000000/min"
    settings.WAZIPER_HEALTH_CACHE_S = 0
    settings.WAZIPER_SESSIONS_DIR = str(tmp_path / "sessions")
    cache.clear()


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="alice")  # no password: hashing one costs ~0.3 s


@pytest.fixture
def stranger(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="mallory")


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="root", is_staff=True)


def _token(user: Any) -> str:
    return AccessToken.objects.issue(user, name="test")[1]


@pytest.fixture
def owner_token(owner: Any) -> str:
    return _token(owner)


@pytest.fixture
def stranger_token(stranger: Any) -> str:
    return _token(stranger)


@pytest.fixture
def staff_token(staff: Any) -> str:
    return _token(staff)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def owner_client(owner_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    return client


@pytest.fixture
def instance(owner: Any) -> Instance:
    return create_instance(owner, name="shop", transport="sandbox")


@pytest.fixture
def fake_wait(monkeypatch: Any) -> FakeWait:
    """Views that wait for the worker wait on a fake clock (no real sleeps in these tests)."""
    wait = FakeWait()
    monkeypatch.setattr(waiting, "clock", wait.clock)
    monkeypatch.setattr(waiting, "sleep", wait.sleep)
    return wait


@pytest.fixture
def worker() -> SteppedWorker:
    """A real worker (sandbox transport) on a fake clock, stepped by the test."""
    return SteppedWorker()
