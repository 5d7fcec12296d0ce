"""The admin lists only what the visibility rule allows, and its bulk actions act only on the
instances the person may change; Django's permission checks still decide the pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from breaker import service as breaker_service
from instances.models import Instance
from instances.service import create_instance
from queueing.models import QueuedMessage
from tests.support.auth_matrix import staff_with
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db
MESSAGES = "/admin/queueing/queuedmessage/"


def grant(user: Any, *codenames: str) -> Any:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def theirs(stranger: Any) -> Instance:
    return create_instance(stranger, name="theirs", transport="sandbox")


def test_staff_without_permissions_get_no_instance_pages_even_for_their_own(staff: Any) -> None:
    own = create_instance(staff, name="own", transport="sandbox")
    client = logged_in(staff)
    assert client.get("/admin/instances/instance/").status_code == 403
    assert client.get(f"/admin/instances/instance/{own.pk}/change/").status_code == 403


def test_the_message_permission_alone_lists_only_the_messages_of_ones_own_instances(
    staff: Any, theirs: Instance
) -> None:
    own = create_instance(staff, name="own", transport="sandbox")
    queue_message(own, chat_id="6281111111111")
    hidden = queue_message(theirs, chat_id="6282222222222", text="the tenant's secret")
    client = logged_in(grant(staff, "view_queuedmessage"))
    page = client.get(MESSAGES).content.decode()
    assert "6281111111111" in page
    assert "6282222222222" not in page
    assert client.get(f"{MESSAGES}{hidden.pk}/change/").status_code == 302  # "does not exist"


def test_the_instance_view_permission_lists_every_tenants_messages(theirs: Instance) -> None:
    queue_message(theirs, chat_id="6282222222222")
    viewer = grant(staff_with("viewer", "view_instance"), "view_queuedmessage")
    assert "6282222222222" in logged_in(viewer).get(MESSAGES).content.decode()


def test_a_bulk_cancel_touches_only_the_instances_one_may_change(theirs: Instance) -> None:
    viewer = grant(staff_with("viewer", "view_instance"), "view_queuedmessage", "change_queuedmessage")
    message = queue_message(theirs)
    logged_in(viewer).post(MESSAGES, {"action": "cancel_messages", "_selected_action": [message.pk]})
    assert QueuedMessage.objects.get(pk=message.pk).status == "queued"


def test_a_bulk_breaker_reset_touches_only_the_instances_one_may_change(theirs: Instance) -> None:
    breaker_service.record_failure(theirs, "connect_failed", "dial refused", now=timezone.now())
    state = theirs.breaker
    resetter = grant(staff_with("viewer", "view_instance"), "view_breakerstate", "change_breakerstate")
    logged_in(resetter).post(
        "/admin/breaker/breakerstate/", {"action": "reset_breakers", "_selected_action": [state.pk]}
    )
    assert not theirs.breaker_resets.exists()


def test_a_superuser_lists_everything(admin_client: Client, theirs: Instance) -> None:
    queue_message(theirs, chat_id="6282222222222")
    assert "6282222222222" in admin_client.get(MESSAGES).content.decode()
    assert "theirs" in admin_client.get("/admin/instances/instance/").content.decode()
