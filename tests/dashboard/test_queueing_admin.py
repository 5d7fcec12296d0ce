"""The admin's queue list: filters, cancel and requeue actions, and no deleting."""

from __future__ import annotations

import pytest
from django.test import Client

from instances.models import Instance
from queueing.models import QueuedMessage
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db
URL = "/admin/queueing/queuedmessage/"


@pytest.fixture
def admin_client(django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "admin-pass-123")
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, messages: list[QueuedMessage]):
    return client.post(URL, {"action": action, "_selected_action": [m.pk for m in messages]}, follow=True)


def test_the_list_filters_by_status(admin_client: Client, instance: Instance) -> None:
    queue_message(instance, chat_id="6281111111111")
    queue_message(instance, chat_id="6282222222222", status="failed")
    page = admin_client.get(URL, {"status__exact": "failed"}).content.decode()
    assert "6282222222222" in page
    assert "6281111111111" not in page


def test_cancel_action_cancels_only_queued_messages(admin_client: Client, instance: Instance) -> None:
    queued, sent = queue_message(instance), queue_message(instance, status="sent")
    response = act(admin_client, "cancel_messages", [queued, sent])
    assert "Cancelled 1 message(s); 1 were not queued" in response.content.decode()
    assert QueuedMessage.objects.get(pk=queued.pk).status == "cancelled"
    assert QueuedMessage.objects.get(pk=sent.pk).status == "sent"


def test_requeue_action_gives_failed_and_uncertain_messages_fresh_attempts(
    admin_client: Client, instance: Instance
) -> None:
    failed = queue_message(instance, status="failed", attempts=5)
    uncertain = queue_message(instance, status="uncertain", attempts=1, claimed_by="w1")
    read = queue_message(instance, status="read")
    act(admin_client, "requeue_messages", [failed, uncertain, read])
    assert {m.pk: (m.status, m.attempts) for m in QueuedMessage.objects.all()} == {
        failed.pk: ("queued", 0),
        uncertain.pk: ("queued", 0),
        read.pk: ("read", 0),
    }


def test_messages_cannot_be_deleted_or_added_in_the_admin(admin_client: Client, instance: Instance) -> None:
    message = queue_message(instance)
    assert admin_client.get(f"{URL}{message.pk}/delete/").status_code == 403
    assert admin_client.get(f"{URL}add/").status_code == 403
    assert "delete_selected" not in admin_client.get(URL).content.decode()


def test_a_messages_page_shows_its_kinds_fields_in_words(admin_client: Client, instance: Instance) -> None:
    message = queue_message(
        instance,
        kind="location",
        text="",
        payload={"latitude": -6.1754, "longitude": 106.8272, "name": "Monas", "address": "Gambir"},
        typing_s=2.0,
    )
    page = admin_client.get(f"{URL}{message.pk}/change/").content.decode()
    assert "at -6.1754, 106.8272; Monas; Gambir; typing 2s first" in page


def test_a_reactions_page_names_the_message_it_reacts_to(admin_client: Client, instance: Instance) -> None:
    target = {"message_id": "6c7b6b5e-0000-4000-8000-000000000000", "wa_message_id": "3EB0AAAA1111"}
    message = queue_message(instance, kind="reaction", text="", payload={"emoji": "👍", "target": target})
    page = admin_client.get(f"{URL}{message.pk}/change/").content.decode()
    assert "reaction 👍; on 6c7b6b5e-0000-4000-8000-000000000000" in page
