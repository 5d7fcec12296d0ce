"""The directory's cache: what is fresh, what a store replaces, what a change forgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from directory import cache
from directory.models import GroupListing, GroupSnapshot, NumberCheck
from instances.models import Instance

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
A, B, C = "120363000000000001@g.us", "120363000000000002@g.us", "120363000000000003@g.us"


def group(jid: str, name: str, size: int = 2) -> dict[str, Any]:
    return {"id": jid, "name": name, "size": size, "participants": []}


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_stored_list_is_served_by_name_while_fresh(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "zebra"), group(B, "apple")], NOW)
    cached = cache.cached_groups(instance, later(299), 300)
    assert cached is not None
    assert [g["id"] for g in cached.data] == [B, A]
    assert cached.fetched_at == NOW


@pytest.mark.parametrize("age", [300, -1])
def test_a_list_too_old_or_from_the_future_is_not_served(instance: Instance, age: float) -> None:
    cache.store_groups(instance, [group(A, "a")], NOW)
    assert cache.cached_groups(instance, later(age), 300) is None


def test_no_list_was_ever_read_is_not_an_empty_list(instance: Instance) -> None:
    assert cache.cached_groups(instance, NOW, 300) is None


def test_an_empty_list_is_a_fresh_answer(instance: Instance) -> None:
    cache.store_groups(instance, [], NOW)
    assert cache.cached_groups(instance, NOW, 300) == cache.Cached([], NOW)


def test_a_new_list_forgets_groups_no_longer_in_it_and_updates_the_others(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "a"), group(B, "b")], NOW)
    cache.store_groups(instance, [group(B, "b", size=5), group(C, "c")], later(10))
    assert sorted(GroupSnapshot.objects.values_list("jid", flat=True)) == [B, C]
    assert cache.cached_group(instance, B, later(10), 300) == cache.Cached(group(B, "b", size=5), later(10))


def test_a_changed_group_is_asked_again_and_so_is_the_list(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "a"), group(B, "b")], NOW)
    cache.forget_group(instance, A)
    assert cache.cached_group(instance, A, NOW, 300) is None
    assert cache.cached_groups(instance, NOW, 300) is None


def test_a_group_left_leaves_the_list_fresh_without_it(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "a"), group(B, "b")], NOW)
    cache.forget_group(instance, A, left=True)
    cached = cache.cached_groups(instance, NOW, 300)
    assert cached is not None
    assert [g["id"] for g in cached.data] == [B]


def test_one_group_stored_joins_a_fresh_list(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "a")], NOW)
    cache.store_group(instance, group(C, "c"), later(5))
    cached = cache.cached_groups(instance, later(5), 300)
    assert cached is not None
    assert [g["id"] for g in cached.data] == [A, C]


def test_caches_are_per_instance(instance: Instance, owner: Any) -> None:
    other = Instance.objects.create(owner=owner, transport="sandbox")
    cache.store_groups(instance, [group(A, "a")], NOW)
    cache.store_numbers(instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": "x"}], NOW)
    assert cache.cached_groups(other, NOW, 300) is None
    assert cache.cached_numbers(other, ["628200000002"], NOW, 300) == {}


def test_number_answers_are_served_while_fresh_and_replaced_by_newer_ones(instance: Instance) -> None:
    cache.store_numbers(
        instance,
        [
            {"phone": "628200000002", "on_whatsapp": True, "jid": "628200000002@s.whatsapp.net"},
            {"phone": "628200000003", "on_whatsapp": False, "jid": None},
        ],
        NOW,
    )
    cache.store_numbers(instance, [{"phone": "628200000003", "on_whatsapp": True, "jid": "j"}], later(50))
    found = cache.cached_numbers(instance, ["628200000002", "628200000003", "628200000004"], later(100), 100)
    assert found == {"628200000003": cache.Number("628200000003", True, "j", later(50))}
    assert NumberCheck.objects.count() == 2


def test_a_number_cache_of_zero_seconds_is_off(instance: Instance) -> None:
    cache.store_numbers(instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": "j"}], NOW)
    assert cache.cached_numbers(instance, ["628200000002"], NOW, 0) == {}


def test_more_numbers_than_one_statement_takes_are_looked_up_in_chunks(instance: Instance) -> None:
    phones = [f"6282{i:08d}" for i in range(1200)]
    cache.store_numbers(instance, [{"phone": p, "on_whatsapp": True, "jid": None} for p in phones], NOW)
    assert len(cache.cached_numbers(instance, phones, NOW, 60)) == 1200


def test_prune_drops_answers_too_old_to_be_used(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "a")], NOW)
    cache.store_numbers(instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": None}], NOW)
    cache.store_numbers(instance, [{"phone": "628200000003", "on_whatsapp": True, "jid": None}], later(90))
    assert cache.prune(later(100), groups_max_age_s=300, numbers_max_age_s=60) == 1
    assert cache.prune(later(400), groups_max_age_s=300, numbers_max_age_s=600) == 2
    assert not GroupListing.objects.exists()
    assert list(NumberCheck.objects.values_list("phone", flat=True)) == ["628200000003"]


def test_an_update_changes_a_cached_groups_fields_and_keeps_its_age(instance: Instance) -> None:
    cache.store_groups(instance, [group(A, "apple")], NOW)
    assert cache.update_group(instance, A, {"name": "banana", "locked": True}) is True
    hit = cache.cached_group(instance, A, later(1), 300)
    assert (hit.data["name"], hit.data["locked"], hit.fetched_at) == ("banana", True, NOW)
    assert GroupSnapshot.objects.get(jid=A).name == "banana"


def test_an_update_of_a_group_not_cached_caches_nothing(instance: Instance) -> None:
    assert cache.update_group(instance, A, {"name": "banana"}) is False
    assert not GroupSnapshot.objects.exists()
