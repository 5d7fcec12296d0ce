from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from instances.models import AccessToken

pytestmark = pytest.mark.django_db


def test_issue_stores_only_the_sha256_of_the_key(owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner, name="crm")
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.key_hash, token.prefix, token.name}
    assert raw.startswith(token.prefix) and len(token.prefix) == 12


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
