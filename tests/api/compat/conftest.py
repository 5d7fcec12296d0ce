"""A Waziper deployment moved here: its team token imported for the owner, its instance id kept."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import AccessToken, Instance
from instances.service import create_instance
from tests.support.php_client import INSTANCE_ID, TOKEN


@pytest.fixture
def team_token(owner: Any) -> str:
    AccessToken.objects.import_key(owner, TOKEN, name="waziper team")
    return TOKEN


@pytest.fixture
def waziper_instance(owner: Any, team_token: str) -> Instance:
    return create_instance(owner, transport="sandbox", instance_id=INSTANCE_ID)


@pytest.fixture
def php() -> APIClient:
    """A client with no credentials of its own: the PHP client puts the token in the URL."""
    return APIClient()
