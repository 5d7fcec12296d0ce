"""The one visibility rule: owners, model permissions (user or group), superusers; 404 vs 403."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from instances import visibility
from instances.models import Instance
from instances.service import create_instance
from queueing.models import QueuedMessage
from tests.support.auth_matrix import staff_with
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db

# Who may do what to someone else's instance.
RULE = {
    "stranger": {"view": False, "change": False, "delete": False},
    "staff": {"view": False, "change": False, "delete": False},
    "viewer": {"view": True, "change": False, "delete": False},
    "operator": {"view": True, "change": True, "delete": False},  # change includes view
    "deleter": {"view": False, "change": False, "delete": True},
    "superuser": {"view": True, "change": True, "delete": True},
}
PERMISSIONS = {"viewer": ["view_instance"], "operator": ["change_instance"], "deleter": ["delete_instance"]}


def _person(request: pytest.FixtureRequest, who: str) -> Any:
    if who in PERMISSIONS:
        return staff_with(who, *PERMISSIONS[who])
    if who == "superuser":
        return request.getfixturevalue("admin_user")
    return request.getfixturevalue(who)


@pytest.mark.parametrize("who", list(RULE))
@pytest.mark.parametrize("action", ["view", "change", "delete"])
def test_someone_elses_instance_follows_the_model_permission_for_the_action(
    request: pytest.FixtureRequest, who: str, action: str, instance: Instance
) -> None:
    person = _person(request, who)
    expected = RULE[who][action]
    assert instance.allows(person, action) is expected
    assert Instance.objects.visible_to(person, action=action).filter(pk=instance.pk).exists() is expected


@pytest.mark.parametrize("action", ["view", "change", "delete"])
def test_owners_may_do_anything_to_their_own_without_any_permission(owner: Any, action: str) -> None:
    mine = create_instance(owner, name="mine", transport="sandbox")
    assert mine.allows(owner, action)
    assert list(Instance.objects.visible_to(owner, action=action)) == [mine]


def test_a_permission_given_through_a_group_counts(instance: Instance, staff: Any) -> None:
    group = Group.objects.create(name="support")
    group.permissions.add(Permission.objects.get(codename="view_instance"))
    staff.groups.add(group)
    assert instance.allows(staff, "view")


def test_an_inactive_superuser_sees_nothing(instance: Instance, django_user_model: Any) -> None:
    ghost = django_user_model.objects.create_superuser(username="ghost", is_active=False)
    assert not Instance.objects.visible_to(ghost, action="view").exists()


def test_an_unknown_action_is_a_programming_error(instance: Instance, admin_user: Any) -> None:
    with pytest.raises(ValueError):
        Instance.objects.visible_to(admin_user, action="steal")  # type: ignore[arg-type]


def test_one_who_may_not_view_is_told_the_instance_does_not_exist(instance: Instance, staff: Any) -> None:
    with pytest.raises(visibility.InstanceNotFound):
        visibility.find_instance(staff, instance.instance_id, "change")


def test_one_who_may_view_but_not_change_is_told_which_permission_is_missing(instance: Instance) -> None:
    viewer = staff_with("viewer", "view_instance")
    with pytest.raises(visibility.ActionNotAllowed, match=r"instances\.change_instance"):
        visibility.find_instance(viewer, instance.instance_id, "change")


def test_scope_keeps_rows_of_visible_instances_only(instance: Instance, stranger: Any, staff: Any) -> None:
    theirs = create_instance(stranger, name="theirs", transport="sandbox")
    queue_message(instance)
    queue_message(theirs)
    rows = visibility.scope(QueuedMessage.objects.all(), stranger, "view")
    assert [row.instance_id for row in rows] == [theirs.pk]
    assert not visibility.scope(QueuedMessage.objects.all(), staff, "view").exists()
    assert (
        visibility.scope(QueuedMessage.objects.all(), staff_with("viewer", "view_instance"), "view").count()
        == 2
    )
