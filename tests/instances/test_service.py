"""instances.service.create_instance: the per-owner instance limit (WAZIPER_MAX_INSTANCES_PER_OWNER)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from instances.models import Instance
from instances.service import (
    InstanceIdTaken,
    InstanceLimitReached,
    create_instance,
    create_on_first_use,
    unlinked_or_new_instance,
)
from tests.support.queue import race

pytestmark = pytest.mark.django_db


def test_an_owner_may_have_exactly_the_limit(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 3
    for _ in range(3):
        create_instance(owner, transport="sandbox")
    assert Instance.objects.filter(owner=owner).count() == 3


def test_one_past_the_limit_is_refused_naming_it(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 3
    for _ in range(3):
        create_instance(owner, transport="sandbox")
    with pytest.raises(InstanceLimitReached, match="WAZIPER_MAX_INSTANCES_PER_OWNER=3"):
        create_instance(owner, transport="sandbox")
    assert Instance.objects.filter(owner=owner).count() == 3


def test_the_limit_is_per_owner(owner: Any, stranger: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    create_instance(owner, transport="sandbox")
    create_instance(stranger, transport="sandbox")
    assert Instance.objects.count() == 2


def test_superusers_have_no_limit(django_user_model: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    root = django_user_model.objects.create_user(username="root", is_staff=True, is_superuser=True)
    for _ in range(3):
        create_instance(root, transport="sandbox")
    assert Instance.objects.filter(owner=root).count() == 3


def test_a_limit_of_zero_means_none(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 0
    for _ in range(3):
        create_instance(owner, transport="sandbox")
    assert Instance.objects.filter(owner=owner).count() == 3


def test_the_default_limit_is_fifty(owner: Any) -> None:
    from django.conf import settings

    assert settings.WAZIPER_MAX_INSTANCES_PER_OWNER == 50


@pytest.mark.dbengines
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_pass_the_limit(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 3
    create_instance(owner, transport="sandbox")

    def one() -> str:
        try:
            create_instance(owner, transport="sandbox")
        except InstanceLimitReached:
            return "refused"
        return "created"

    outcomes = race(one, [()] * 8)
    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 6
    assert Instance.objects.filter(owner=owner).count() == 3
    connection.close()


def test_a_chosen_instance_id_is_kept_upper_case(owner: Any) -> None:
    assert (
        create_instance(owner, transport="sandbox", instance_id=" 664461b63fb8a ").instance_id
        == "664461B63FB8A"
    )


@pytest.mark.parametrize("bad", ["", "664461B63FB8", "664461B63FB8AB", "664461B63FB8G", "QR_TEST_1700000"])
def test_a_chosen_instance_id_must_be_13_hex_characters(owner: Any, bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        create_instance(owner, transport="sandbox", instance_id=bad)
    assert "instance_id" in caught.value.message_dict


def test_a_chosen_instance_id_in_use_by_anyone_is_taken(owner: Any, stranger: Any) -> None:
    create_instance(stranger, transport="sandbox", instance_id="664461B63FB8A")
    with pytest.raises(InstanceIdTaken):
        create_instance(owner, transport="sandbox", instance_id="664461b63fb8a")


def test_first_use_creates_the_named_instance_for_its_owner(owner: Any) -> None:
    instance = create_on_first_use(owner, "664461B63FB8A")
    assert (instance.instance_id, instance.owner_id) == ("664461B63FB8A", owner.pk)


def test_first_use_keeps_to_the_instance_limit(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    create_instance(owner, transport="sandbox")
    with pytest.raises(InstanceLimitReached):
        create_on_first_use(owner, "664461B63FB8A")


def test_first_use_of_someone_elses_id_is_refused(owner: Any, stranger: Any) -> None:
    create_instance(stranger, transport="sandbox", instance_id="664461B63FB8A")
    with pytest.raises(InstanceIdTaken):
        create_on_first_use(owner, "664461B63FB8A")


@pytest.mark.dbengines
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_uses_of_one_id_make_one_instance(owner: Any) -> None:
    created = race(lambda: create_on_first_use(owner, "664461B63FB8A").pk, [()] * 6)
    assert len(set(created)) == 1
    assert Instance.objects.filter(instance_id="664461B63FB8A").count() == 1
    connection.close()


def test_the_public_create_instance_gives_the_unlinked_instance_again(owner: Any) -> None:
    first, created = unlinked_or_new_instance(owner)
    again, created_again = unlinked_or_new_instance(owner)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk


def test_the_public_create_instance_makes_a_new_one_once_the_last_is_linked(owner: Any) -> None:
    first, _ = unlinked_or_new_instance(owner)
    Instance.objects.filter(pk=first.pk).update(status="connected", jid="6281234567890@s.whatsapp.net")
    second, created = unlinked_or_new_instance(owner)
    assert created is True
    assert second.pk != first.pk


def test_the_public_create_instance_never_gives_someone_elses(owner: Any, stranger: Any) -> None:
    theirs = create_instance(stranger, transport="sandbox")
    mine, _ = unlinked_or_new_instance(owner)
    assert mine.pk != theirs.pk
