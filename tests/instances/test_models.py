from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError

from instances.models import Instance, is_instance_id, new_instance_id


def test_instance_id_is_13_upper_hex_like_waziper() -> None:
    for _ in range(200):
        assert is_instance_id(new_instance_id())


@pytest.mark.parametrize("value", ["6921B60FBF7D9", "0000000000000"])
def test_is_instance_id_accepts_waziper_ids(value: str) -> None:
    assert is_instance_id(value)


@pytest.mark.parametrize(
    "value", ["6921b60fbf7d9", "6921B60FBF7D", "6921B60FBF7D9X", "6921B60FBF7D'", "", None, 123]
)
def test_is_instance_id_rejects_anything_else(value: Any) -> None:
    assert not is_instance_id(value)


@pytest.mark.django_db
def test_instance_id_is_unique(owner: Any) -> None:
    Instance.objects.create(owner=owner, transport="sandbox", instance_id="6921B60FBF7D9")
    with pytest.raises(IntegrityError):
        Instance.objects.create(owner=owner, transport="sandbox", instance_id="6921B60FBF7D9")


@pytest.mark.django_db
def test_visible_to_scopes_by_owner_and_staff_get_nothing_more_for_being_staff(
    owner: Any, stranger: Any, staff: Any
) -> None:
    mine = Instance.objects.create(owner=owner, transport="sandbox")
    theirs = Instance.objects.create(owner=stranger, transport="sandbox")
    assert list(Instance.objects.visible_to(owner, action="view")) == [mine]
    assert list(Instance.objects.visible_to(stranger, action="view")) == [theirs]
    assert list(Instance.objects.visible_to(staff, action="view")) == []
