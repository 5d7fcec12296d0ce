from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import AccessToken

pytestmark = pytest.mark.django_db


def test_issue_stores_only_the_sha256_of_the_key(owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner, name="crm")
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.key_hash, token.prefix, token.name}
    assert raw.startswith(token.prefix)
    assert len(token.prefix) == 12


def test_authenticate_finds_the_token_by_its_key(owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    assert AccessToken.objects.authenticate(raw) == token
    assert AccessToken.objects.authenticate(raw + "x") is None
    assert AccessToken.objects.authenticate("") is None


def test_revoked_token_no_longer_authenticates(owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    token.revoke()
    assert AccessToken.objects.authenticate(raw) is None


def test_inactive_users_token_no_longer_authenticates(owner: Any) -> None:
    _, raw = AccessToken.objects.issue(owner)
    owner.is_active = False
    owner.save()
    assert AccessToken.objects.authenticate(raw) is None


def test_last_used_is_written_at_most_once_a_minute(owner: Any, django_assert_num_queries: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    AccessToken.objects.authenticate(raw)
    with django_assert_num_queries(1):  # the lookup only, no write
        AccessToken.objects.authenticate(raw)
    AccessToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):
        AccessToken.objects.authenticate(raw)


def test_a_failing_last_used_write_does_not_fail_the_request(owner: Any, monkeypatch: Any) -> None:
    # The bookkeeping write happens on the first request of each minute; with the disk full or
    # the database locked, a read such as GET /instances must still answer (and an enqueue
    # reach its own 503), not turn into a 500.
    _, raw = AccessToken.objects.issue(owner)

    def full(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(QuerySet, "update", full)
    response = APIClient().get("/instances", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
