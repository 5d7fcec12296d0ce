"""The admin login locks a username out from an address after WAZIPER_LOGIN_FAILURE_LIMIT wrong
passwords, for WAZIPER_LOGIN_COOLOFF seconds (django-axes, attempts kept in the database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.support.auth_matrix import fast_password_hashing  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-password-42"


@pytest.fixture
def admin(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def log_in(client: Client, password: str, username: str = "boss", address: str = "198.51.100.7") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_logs_in(admin: Any) -> None:
    client = Client()
    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_after_ten_wrong_passwords_even_the_right_one_is_refused(admin: Any) -> None:
    client = Client()
    statuses = [log_in(client, f"guess-{i}").status_code for i in range(10)]
    assert statuses == [200] * 9 + [429]
    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert not logged_in(client)


def test_the_lock_holds_one_username_from_one_address(admin: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_user("colleague", password=PASSWORD, is_staff=True)
    for i in range(10):
        log_in(Client(), f"guess-{i}")
    assert log_in(Client(), PASSWORD, address="198.51.100.8").status_code == 302
    assert log_in(Client(), PASSWORD, username="colleague").status_code == 302


def test_the_lock_lifts_after_the_cool_off(admin: Any, settings: Any) -> None:
    for i in range(10):
        log_in(Client(), f"guess-{i}")
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    with time_machine.travel(later):
        client = Client()
        assert log_in(client, PASSWORD).status_code == 302
        assert logged_in(client)
