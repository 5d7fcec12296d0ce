"""Integrations written against Waziper's public API (its PHP app's Whatsapp_api controller),
pointed at this server: their requests as they send them (the documented examples, a Guzzle
POST with everything in the query, a JSON body, a form) and the bodies they read. Every answer
is HTTP 200, as there."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from inbox.service import store_incoming
from instances.models import Instance
from kernel.clock import FakeClock
from queueing.models import QueuedMessage
from tests.support.php_client import INSTANCE_ID, TOKEN, decoded, http_build_query
from tests.support.webhook_receiver import Receiver
from tests.support.webhooks import run_until_idle
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait, link
from webhooks.deliverer import Deliverer
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db
IDS = {"instance_id": INSTANCE_ID, "access_token": TOKEN}
GROUP = "84987694574-1618740914@g.us"


def get(client: APIClient, endpoint: str, params: dict[str, Any]) -> Any:
    response = client.get(f"/api/{endpoint}?{http_build_query(params)}")
    assert response.status_code == 200
    return decoded(response)


def post_query(client: APIClient, endpoint: str, params: dict[str, Any]) -> Any:
    """Guzzle's `post()` with everything in the query string and an empty body (INTEG-1)."""
    response = client.post(f"/api/{endpoint}?{http_build_query(params)}")
    assert response.status_code == 200
    return decoded(response)


def post_json(client: APIClient, endpoint: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/{endpoint}", body, format="json")
    assert response.status_code == 200
    return decoded(response)


def post_form(client: APIClient, endpoint: str, body: dict[str, Any]) -> Any:
    response = client.post(
        f"/api/{endpoint}", http_build_query(body), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    return decoded(response)


@pytest.fixture
def linked(waziper_instance: Instance) -> Instance:
    link(waziper_instance)
    waziper_instance.refresh_from_db()
    return waziper_instance


# --- create_instance (A1–A3) -----------------------------------------------------------------------


def test_a1_create_instance_gives_one_id_until_it_is_linked(php: APIClient, team_token: str) -> None:
    first = get(php, "create_instance", {"access_token": team_token})
    assert (first["status"], first["message"]) == ("success", "Instance ID generated successfully")
    assert re.fullmatch(r"[0-9A-F]{13}", first["instance_id"])
    assert get(php, "create_instance", {"access_token": team_token})["instance_id"] == first["instance_id"]


def test_a2_create_instance_without_a_token(php: APIClient) -> None:
    assert get(php, "create_instance", {}) == {"status": "error", "message": "Access token is required"}


def test_a3_create_instance_with_an_unknown_token(php: APIClient) -> None:
    assert get(php, "create_instance", {"access_token": "nope"}) == {
        "status": "error",
        "message": "Access token does not exist",
    }


# --- get_qrcode (A4–A7) ----------------------------------------------------------------------------


def test_a4_get_qrcode_passes_the_qr_code_through(
    php: APIClient, waziper_instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    body = get(php, "get_qrcode", IDS)
    assert (body["status"], body["message"]) == ("success", "Success")
    assert body["base64"].startswith("data:image/png;base64,")


def test_a5_get_qrcode_of_a_linked_instance(php: APIClient, linked: Instance) -> None:
    assert get(php, "get_qrcode", IDS) == {"status": "error", "message": "Instance ID has been used"}


def test_a6_get_qrcode_without_an_instance_id(php: APIClient, team_token: str) -> None:
    assert get(php, "get_qrcode", {"access_token": team_token}) == {
        "status": "error",
        "message": "Instance ID is required",
    }


def test_a7_get_qrcode_of_an_unknown_instance(php: APIClient, team_token: str) -> None:
    assert get(php, "get_qrcode", {"instance_id": "6880714A02801", "access_token": team_token}) == {
        "status": "error",
        "message": "Instance ID Invalidated",
    }


# --- set_webhook (A8–A11) ---------------------------------------------------------------------------
HOOK = "https://93.184.215.14/abc"


def saved_webhook(instance: Instance) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(instance=instance)


def test_a8_set_webhook_saves_it_enabled_in_waziper_format(php: APIClient, linked: Instance) -> None:
    body = get(php, "set_webhook", {"webhook_url": HOOK, "enable": "true", **IDS})
    assert (body["status"], body["message"]) == ("success", "Webhook URI Saved")
    endpoint = saved_webhook(linked)
    assert (endpoint.url, endpoint.format, endpoint.enabled) == (HOOK, "waziper", True)


@pytest.mark.parametrize("enable", ["false", "1", "TRUE"])
def test_a9_set_webhook_saves_it_disabled_unless_enable_is_exactly_true(
    php: APIClient, linked: Instance, enable: str
) -> None:
    body = get(php, "set_webhook", {"webhook_url": HOOK, "enable": enable, **IDS})
    assert (body["status"], body["message"]) == ("success", "Webhook URI Saved")
    assert saved_webhook(linked).enabled is False


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"webhook_url": HOOK}, "Enable field is required"),
        ({"enable": "true"}, "Webhook URL is required"),
        ({"webhook_url": "notaurl", "enable": "true"}, "Webhook URL is not a valid URL"),
    ],
)
def test_a10_set_webhook_without_its_fields(
    php: APIClient, linked: Instance, params: dict[str, str], message: str
) -> None:
    body = get(php, "set_webhook", {**params, **IDS})
    assert (body["status"], body["message"]) == ("error", message)
    assert not WebhookEndpoint.objects.exists()


def test_a11_set_webhook_on_an_instance_never_linked(php: APIClient, waziper_instance: Instance) -> None:
    assert get(php, "set_webhook", {"webhook_url": HOOK, "enable": "true", **IDS}) == {
        "status": "error",
        "message": "This instance ID has not been activated yet",
    }


def test_a8_the_saved_webhook_gets_messages_as_a_waziper_receiver_reads_them(
    php: APIClient, linked: Instance, settings: Any
) -> None:
    """What INTEG-2's receiver reads: data.event, data.data.messages[].key.fromMe/remoteJid and
    message.conversation, posted to the URL set_webhook saved."""
    settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS = True
    receiver = Receiver().start()
    clock = FakeClock()
    deliverer = Deliverer("compat-deliverer", clock=clock, rand=lambda: 0.5)
    try:
        get(php, "set_webhook", {"webhook_url": receiver.url("/wa/1/664461B63FB8A"), "enable": "true", **IDS})
        chat = "6281234567890@s.whatsapp.net"
        store_incoming(
            linked.pk,
            {
                "message_id": "3EB0A1",
                "chat": chat,
                "sender": chat,
                "kind": "text",
                "text": "halo",
                "at": clock.now().isoformat(),
            },
            clock.now(),
        )
        run_until_idle(deliverer, clock)
        [got] = receiver.at("/wa/1/664461B63FB8A")
    finally:
        deliverer.shutdown(clock.now())
        receiver.close()
    body = got.json()
    assert body["instance_id"] == INSTANCE_ID
    assert body["data"]["event"] == "messages.upsert"
    [message] = body["data"]["data"]["messages"]
    assert (message["key"]["fromMe"], message["key"]["remoteJid"]) == (False, chat)
    assert message["message"]["conversation"] == "halo"


# --- reboot, reset_instance, reconnect (A12–A14) --------------------------------------------------


def test_a12_reboot_logs_out_then_says_logged_out_before(php: APIClient, linked: Instance) -> None:
    first = get(php, "reboot", IDS)
    assert (first["status"], first["message"]) == ("success", "Success")
    assert get(php, "reboot", IDS) == {
        "status": "error",
        "message": "This account seems to have logged out before.",
    }


def test_a13_reset_instance(php: APIClient, linked: Instance) -> None:
    assert get(php, "reset_instance", IDS) == {
        "status": "success",
        "message": "Reset Instance ID was successful",
    }
    assert not Instance.objects.filter(instance_id=INSTANCE_ID).exists()


def test_a13_reset_instance_with_no_account(php: APIClient, waziper_instance: Instance) -> None:
    assert get(php, "reset_instance", IDS) == {"status": "error", "message": "Account does not exist"}


def test_a14_reconnect_answers_the_servers_instance_body(php: APIClient, linked: Instance) -> None:
    body = get(php, "reconnect", IDS)
    assert (body["status"], body["message"]) == ("success", "Success")
    assert {"id", "name", "avatar"} <= set(body["data"])


def test_a14_reconnect_before_linking_is_not_activated(php: APIClient, waziper_instance: Instance) -> None:
    assert get(php, "reconnect", IDS) == {
        "status": "error",
        "message": "This instance ID has not been activated yet",
    }


# --- get_groups (A15) -------------------------------------------------------------------------


def test_a15_get_groups(
    php: APIClient, owner: Any, team_token: str, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    phone = connected_sandbox(owner, worker, groups=[{"id": GROUP, "name": "Archers", "participants": []}])
    worker.run_while_waiting(fake_wait)
    body = get(php, "get_groups", {"instance_id": phone.instance_id, "access_token": team_token})
    assert body == {
        "status": "success",
        "message": "Success",
        "data": [{"id": GROUP, "name": "Archers", "size": 1}],
    }


def test_a15_get_groups_with_nothing_to_list(php: APIClient, linked: Instance) -> None:
    assert get(php, "get_groups", IDS) == {"status": "success", "message": "Success", "data": []}


# --- send, send_group (A16–A24) -------------------------------------------------------------------


def test_a16_send_as_the_documentation_shows_it(php: APIClient, linked: Instance) -> None:
    body = get(php, "send", {"number": "84933313000", "type": "text", "message": "test message", **IDS})
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().text == "test message"


def test_a17_send_with_a_json_body(php: APIClient, linked: Instance) -> None:
    body = post_json(php, "send", {"number": "84933313000", "type": "text", "message": "hi", **IDS})
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().chat_id == "84933313000"


def test_a18_send_as_guzzle_posts_it_everything_in_the_query(php: APIClient, linked: Instance) -> None:
    body = post_query(php, "send", {"number": "6281234567890", "type": "text", "message": "hi", **IDS})
    assert body["status"] == "success"


def test_a19_send_a_media_message_as_a_form(php: APIClient, linked: Instance) -> None:
    form = {
        "number": "84933313000",
        "type": "media",
        "message": "cap",
        "media_url": "https://i.pravatar.cc/a.jpg",
        "filename": "file_test.jpg",
        **IDS,
    }
    assert post_form(php, "send", form)["status"] == "success"
    message = QueuedMessage.objects.get()
    assert (message.kind, message.text, message.filename) == ("image", "cap", "file_test.jpg")


@pytest.mark.parametrize("number", ["abc", ""])
def test_a20_send_without_a_phone_number(php: APIClient, linked: Instance, number: str) -> None:
    body = post_json(php, "send", {"number": number, "message": "hi", **IDS})
    assert (body["status"], body["message"]) == ("error", "Phone number is required")


def test_a21_send_without_media_or_a_message(php: APIClient, linked: Instance) -> None:
    assert post_json(php, "send", {"number": "84933313000", **IDS}) == {
        "status": "error",
        "message": "Please enter media url or message",
    }


def test_a22_send_to_a_logged_out_account(php: APIClient, waziper_instance: Instance) -> None:
    Instance.objects.filter(pk=waziper_instance.pk).update(status="logged_out")
    assert get(php, "send", {"number": "84933313000", "type": "text", "message": "hi", **IDS}) == {
        "status": "error",
        "message": "This WhatsApp account relogin required",
    }


def test_a23_send_group_as_the_documentation_shows_it(php: APIClient, linked: Instance) -> None:
    body = get(php, "send_group", {"group_id": GROUP, "type": "text", "message": "test message", **IDS})
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().chat_id == GROUP


def test_a24_send_group_with_a_json_body(php: APIClient, linked: Instance) -> None:
    body = post_json(
        php,
        "send_group",
        {
            "group_id": GROUP,
            "type": "media",
            "message": "x",
            "media_url": "https://example.com/a.jpg",
            **IDS,
        },
    )
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().kind == "image"


def test_a25_the_logout_stub_is_not_served(php: APIClient) -> None:
    response = php.get("/api/logout")
    assert response.status_code == 404
    assert decoded(response)["status"] == "error"
