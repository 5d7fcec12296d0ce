"""Received messages' API ids: a prefix no queued message's UUID can have."""

from __future__ import annotations

import uuid

import pytest

from inbox.models import pk_from_api_id


def test_an_inbound_id_is_the_prefix_and_the_row_number() -> None:
    assert pk_from_api_id("in_42") == 42


@pytest.mark.parametrize(
    "value", [str(uuid.uuid4()), "in_", "in_-1", "in_4x", "in_١٢", "in_" + "9" * 19, "IN_1", "42"]
)
def test_anything_else_is_not_an_inbound_id(value: str) -> None:
    assert pk_from_api_id(value) is None
