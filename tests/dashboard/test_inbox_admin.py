"""The admin's list of received messages: readable, filterable, scoped, never edited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from instances.models import Instance
from instances.service import create_instance
from tests.support.inbox import receive

pytestmark = pytest.mark.django_db
URL = "/admin/inbox/inboundmessage/"


@pytest.fixture
def admin_client(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "admin-pass-123")
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_received_messages_and_filters_by_kind(
    admin_client: Client, instance: Instance
) -> None:
    receive(instance, text="halo dari budi")
    receive(instance, kind="image", text="foto pantai")
    page = admin_client.get(URL, {"kind__exact": "image"}).content.decode()
    assert "foto pantai" in page
    assert "halo dari budi" not in page


def test_a_received_message_can_be_read_but_not_changed_or_deleted(
    admin_client: Client, instance: Instance
) -> None:
    message = receive(instance, text="halo")
    assert admin_client.get(f"{URL}{message.pk}/change/").status_code == 200
    assert admin_client.post(f"{URL}{message.pk}/delete/").status_code == 403


def test_staff_see_only_their_own_instances_messages(django_user_model: Any, instance: Instance) -> None:
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_inboundmessage"))
    own = create_instance(staff, name="own", transport="sandbox")
    receive(own, text="for ops")
    receive(instance, text="alice's secret")
    client = Client()
    client.force_login(staff)
    page = client.get(URL).content.decode()
    assert "for ops" in page
    assert "alice&#x27;s secret" not in page
    assert "alice's secret" not in page
