"""Waziper's public API under /api/ (api/views/waziper_public.py): its checks in its order and
words, parameters from anywhere, HTTP 200 on every answer. The PHP-exact replays are in
tests/api/compat/."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import AccessToken, Instance
from instances.service import create_instance, request_running
from queueing.models import QueuedMessage
from tests.support.auth_matrix import staff_with
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait, hold, link
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def call(api: APIClient, endpoint: str, **params: Any) -> Any:
    return api.get(f"/api/{endpoint}", params)


@pytest.fixture
def linked(instance: Instance) -> Instance:
    link(instance)
    instance.refresh_from_db()
    return instance


# --- transport ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["create_instance", "get_qrcode", "reboot", "send", "send_group"])
def test_a_refusal_is_http_200_with_status_error(api: APIClient, endpoint: str) -> None:
    response = call(api, endpoint)
    assert response.status_code == 200
    assert response.json() == {"status": "error", "message": "Access token is required"}


def test_a_malformed_body_is_http_200_with_status_error(api: APIClient, owner_token: str) -> None:
    response = api.post(f"/api/send?access_token={owner_token}", "{not json", content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "error"


def test_a_wrong_method_is_http_200_with_status_error(api: APIClient) -> None:
    response = api.put("/api/send")
    assert response.status_code == 200
    assert response.json()["status"] == "error"


def test_throttled_bad_tokens_are_http_200_with_retry_after(api: APIClient, settings: Any) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "1/min"
    assert call(api, "create_instance", access_token="nope")["Content-Type"] == "application/json"
    response = call(api, "create_instance", access_token="nope")
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert "Too many failed authentications" in response.json()["message"]
    assert int(response["Retry-After"]) > 0


# --- the token ----------------------------------------------------------------------------------


def test_an_unknown_token_does_not_exist(api: APIClient) -> None:
    assert call(api, "create_instance", access_token="nope").json() == {
        "status": "error",
        "message": "Access token does not exist",
    }


def test_a_revoked_token_does_not_exist(api: APIClient, owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    token.revoke()
    assert call(api, "create_instance", access_token=raw).json()["message"] == "Access token does not exist"


def test_a_bearer_header_works_too(owner_client: APIClient) -> None:
    assert call(owner_client, "create_instance").json()["status"] == "success"


# --- parameters ---------------------------------------------------------------------------------


def test_a_body_value_wins_over_the_query(api: APIClient, owner_token: str, linked: Instance) -> None:
    response = api.post(
        f"/api/send?access_token={owner_token}&instance_id={linked.instance_id}&number=1",
        {"number": "6281234567890", "message": "hi"},
    )
    assert response.json()["status"] == "success"
    assert QueuedMessage.objects.get().chat_id == "6281234567890"


def test_a_json_number_is_taken_as_its_digits(api: APIClient, owner_token: str, linked: Instance) -> None:
    body = {
        "number": 6281234567890,
        "message": "hi",
        "instance_id": linked.instance_id,
        "access_token": owner_token,
    }
    assert api.post("/api/send", body, format="json").json()["status"] == "success"
    assert QueuedMessage.objects.get().chat_id == "6281234567890"


def test_a_json_value_that_is_not_text_is_named(api: APIClient, owner_token: str, linked: Instance) -> None:
    body = {"number": ["1"], "message": "hi", "instance_id": linked.instance_id, "access_token": owner_token}
    response = api.post("/api/send", body, format="json")
    assert response.status_code == 200
    assert response.json()["errors"] == {"number": ["Must be text."]}


# --- the instance -------------------------------------------------------------------------------


def test_someone_elses_instance_is_invalidated(api: APIClient, stranger_token: str, linked: Instance) -> None:
    response = call(api, "reconnect", access_token=stranger_token, instance_id=linked.instance_id)
    assert response.json() == {"status": "error", "message": "Instance ID Invalidated"}


def test_a_viewer_may_not_send(api: APIClient, linked: Instance) -> None:
    raw = AccessToken.objects.issue(staff_with("viewer", "view_instance"))[1]
    response = call(
        api, "send", access_token=raw, instance_id=linked.instance_id, number="6281234567890", message="x"
    )
    assert response.status_code == 200
    assert "permission" in response.json()["message"]
    assert not QueuedMessage.objects.exists()


# --- create_instance ----------------------------------------------------------------------------


def test_create_instance_gives_the_same_id_until_it_is_linked(api: APIClient, owner_token: str) -> None:
    first = call(api, "create_instance", access_token=owner_token).json()
    second = call(api, "create_instance", access_token=owner_token).json()
    assert first == second
    assert first["message"] == "Instance ID generated successfully"
    Instance.objects.filter(instance_id=first["instance_id"]).update(jid="6281234567890@s.whatsapp.net")
    assert (
        call(api, "create_instance", access_token=owner_token).json()["instance_id"] != first["instance_id"]
    )


def test_create_instance_past_the_limit_says_so_in_wazipers_words(
    api: APIClient, owner_token: str, linked: Instance, settings: Any
) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    assert call(api, "create_instance", access_token=owner_token).json() == {
        "status": "error",
        "message": "You can only add up to 1 profiles",
    }


# --- get_qrcode, reboot, reconnect, reset_instance ----------------------------------------------


def test_get_qrcode_passes_the_servers_qr_code_through(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    body = call(owner_client, "get_qrcode", instance_id=instance.instance_id, wait="5").json()
    assert (body["status"], body["message"]) == ("success", "Success")
    assert body["base64"].startswith("data:image/png;base64,")


def test_get_qrcode_with_a_bad_wait_names_it(owner_client: APIClient, instance: Instance) -> None:
    body = call(owner_client, "get_qrcode", instance_id=instance.instance_id, wait="soon").json()
    assert "wait" in body["errors"]


def test_reboot_logs_the_phone_out_then_says_logged_out_before(
    owner_client: APIClient, linked: Instance
) -> None:
    assert call(owner_client, "reboot", instance_id=linked.instance_id).json()["message"] == "Success"
    assert call(owner_client, "reboot", instance_id=linked.instance_id).json() == {
        "status": "error",
        "message": "This account seems to have logged out before.",
    }


def test_reconnect_after_a_logout_asks_for_a_relogin(owner_client: APIClient, linked: Instance) -> None:
    call(owner_client, "reboot", instance_id=linked.instance_id)
    body = call(owner_client, "reconnect", instance_id=linked.instance_id).json()
    assert (body["status"], body["message"], body["relogin"]) == ("error", "Error", True)


def test_reset_instance_logs_out_and_deletes_the_instance(owner_client: APIClient, linked: Instance) -> None:
    body = call(owner_client, "reset_instance", instance_id=linked.instance_id).json()
    assert body == {"status": "success", "message": "Reset Instance ID was successful"}
    assert not Instance.objects.filter(pk=linked.pk).exists()
    assert (
        call(owner_client, "reconnect", instance_id=linked.instance_id).json()["message"]
        == "Instance ID Invalidated"
    )


@pytest.mark.parametrize("instance_id", [None, "0000000000000"])
def test_reset_instance_without_a_linked_account_says_it_does_not_exist(
    owner_client: APIClient, instance: Instance, instance_id: str | None
) -> None:
    body = call(owner_client, "reset_instance", instance_id=instance_id or instance.instance_id).json()
    assert body == {"status": "error", "message": "Account does not exist"}
    assert Instance.objects.filter(pk=instance.pk).exists()


def test_reset_instance_keeps_the_instance_when_the_worker_does_not_confirm(
    owner_client: APIClient, linked: Instance, fake_wait: FakeWait
) -> None:
    hold(linked)  # a live worker holds it and never takes the logout command
    body = call(owner_client, "reset_instance", instance_id=linked.instance_id).json()
    assert body == {"status": "error", "message": "Cannot connect to WhatsApp server. Please try again later"}
    assert Instance.objects.filter(pk=linked.pk).exists()


def test_reset_instance_needs_the_delete_permission(api: APIClient, linked: Instance) -> None:
    raw = AccessToken.objects.issue(staff_with("operator", "change_instance"))[1]
    body = call(api, "reset_instance", access_token=raw, instance_id=linked.instance_id).json()
    assert "permission" in body["message"]
    assert Instance.objects.filter(pk=linked.pk).exists()


# --- set_webhook --------------------------------------------------------------------------------
HOOK = "https://93.184.215.14/hook"


def set_webhook(api: APIClient, instance: Instance, token: str, **params: Any) -> Any:
    params = {"webhook_url": HOOK, "enable": "true", **params}
    return call(api, "set_webhook", access_token=token, instance_id=instance.instance_id, **params).json()


def test_set_webhook_again_changes_the_same_webhook_and_shows_the_secret_once(
    api: APIClient, owner_token: str, linked: Instance
) -> None:
    first = set_webhook(api, linked, owner_token)
    second = set_webhook(api, linked, owner_token, webhook_url="https://93.184.215.14/other", enable="false")
    assert first["data"]["secret"].startswith("whsec_")
    assert "secret" not in second["data"]
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.pk, endpoint.url, endpoint.enabled) == (
        first["data"]["webhook_id"],
        "https://93.184.215.14/other",
        False,
    )


def test_set_webhook_takes_a_form_or_json_body(api: APIClient, owner_token: str, linked: Instance) -> None:
    query = f"/api/set_webhook?access_token={owner_token}&instance_id={linked.instance_id}"
    assert api.post(query, {"webhook_url": HOOK, "enable": "true"}).json()["message"] == "Webhook URI Saved"
    api.post(query, {"webhook_url": HOOK, "enable": "false"}, format="json")
    assert WebhookEndpoint.objects.get().enabled is False


def test_set_webhook_refuses_a_private_address_naming_the_field(
    api: APIClient, owner_token: str, linked: Instance
) -> None:
    body = set_webhook(api, linked, owner_token, webhook_url="http://127.0.0.1:8000/hook")
    assert body["message"] == "Webhook URL is not a valid URL"
    assert "loopback" in body["errors"]["webhook_url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_set_webhook_needs_the_right_to_change_the_instance(api: APIClient, linked: Instance) -> None:
    raw = AccessToken.objects.issue(staff_with("viewer", "view_instance"))[1]
    assert "permission" in set_webhook(api, linked, raw)["message"]
    assert not WebhookEndpoint.objects.exists()


def test_set_webhook_on_someone_elses_instance_is_invalidated(
    api: APIClient, stranger_token: str, linked: Instance
) -> None:
    assert set_webhook(api, linked, stranger_token)["message"] == "Instance ID Invalidated"


def test_reset_instance_deletes_its_webhook(api: APIClient, owner_token: str, linked: Instance) -> None:
    set_webhook(api, linked, owner_token)
    call(api, "reset_instance", access_token=owner_token, instance_id=linked.instance_id)
    assert not WebhookEndpoint.objects.exists()


# --- send, send_group ---------------------------------------------------------------------------


def _send(client: APIClient, instance: Instance, endpoint: str = "send", **params: Any) -> Any:
    return call(client, endpoint, instance_id=instance.instance_id, **params).json()


def test_send_to_a_logged_out_phone_asks_for_a_relogin(owner_client: APIClient, instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(status="logged_out")
    body = _send(owner_client, instance, number="6281234567890", message="hi")
    assert body == {"status": "error", "message": "This WhatsApp account relogin required"}


@pytest.mark.parametrize("number", ["", "abc", "123", "6281234567890@s.whatsapp.net"])
def test_send_needs_a_phone_number(owner_client: APIClient, linked: Instance, number: str) -> None:
    body = _send(owner_client, linked, number=number, message="hi")
    assert body["message"] == "Phone number is required"
    assert "number" in body["errors"]


def test_send_needs_media_or_a_message(owner_client: APIClient, linked: Instance) -> None:
    body = _send(owner_client, linked, number="6281234567890", type="text")
    assert body == {"status": "error", "message": "Please enter media url or message"}


def test_send_ignores_type_as_waziper_does(owner_client: APIClient, linked: Instance) -> None:
    body = _send(
        owner_client, linked, number="6281234567890", type="type", media_url="https://93.184.215.14/a.jpg"
    )
    assert body["status"] == "success"
    message = QueuedMessage.objects.get()
    assert (message.kind, message.text) == ("image", "")


def test_send_names_a_bad_media_url(owner_client: APIClient, linked: Instance) -> None:
    body = _send(owner_client, linked, number="6281234567890", media_url="ftp://example.com/a.pdf")
    assert body["status"] == "error"
    assert "media_url" in body["errors"]


def test_send_honours_an_idempotency_key(owner_client: APIClient, linked: Instance) -> None:
    params = {"instance_id": linked.instance_id, "number": "6281234567890", "message": "hi"}
    first = owner_client.get("/api/send", params, headers={"Idempotency-Key": "k1"}).json()
    again = owner_client.get("/api/send", params, headers={"Idempotency-Key": "k1"}).json()
    assert again["data"]["message_id"] == first["data"]["message_id"]
    assert QueuedMessage.objects.count() == 1


def test_send_with_wait_answers_the_message_key_once_sent(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0
    phone = create_instance(owner, transport="sandbox", sandbox={"linked": True})
    request_running(phone)
    worker.tick()
    worker.run_while_waiting(fake_wait)
    body = _send(owner_client, phone, number="6281234567890", message="hi", wait="5")
    assert body["status"] == "success"
    assert body["message"]["key"]["id"] == QueuedMessage.objects.get().wa_message_id


@pytest.mark.parametrize("group_id", ["", "6281234567890", "abc@g.us"])
def test_send_group_needs_a_groups_jid(owner_client: APIClient, linked: Instance, group_id: str) -> None:
    body = _send(owner_client, linked, "send_group", group_id=group_id, message="hi")
    assert body["status"] == "error"
    assert "group_id" in body["errors"]
    assert not QueuedMessage.objects.exists()


def test_send_group_queues_to_the_group(owner_client: APIClient, linked: Instance) -> None:
    body = _send(owner_client, linked, "send_group", group_id="84987694574-1618740914@g.us", message="hi")
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().chat_id == "84987694574-1618740914@g.us"


# --- get_groups ---------------------------------------------------------------------------------


def test_get_groups_answers_id_name_and_size(
    owner_client: APIClient, owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    groups = [{"id": "120363000000000001@g.us", "name": "Staff", "participants": ["628200000002"]}]
    phone = connected_sandbox(owner, worker, groups=groups)
    worker.run_while_waiting(fake_wait)
    body = call(owner_client, "get_groups", instance_id=phone.instance_id).json()
    assert body == {
        "status": "success",
        "message": "Success",
        "data": [{"id": "120363000000000001@g.us", "name": "Staff", "size": 2}],
    }


def test_get_groups_is_an_empty_success_when_the_session_cannot_answer(
    owner_client: APIClient, linked: Instance
) -> None:
    body = call(owner_client, "get_groups", instance_id=linked.instance_id).json()
    assert body == {"status": "success", "message": "Success", "data": []}


def test_get_groups_before_linking_is_not_activated(owner_client: APIClient, instance: Instance) -> None:
    body = call(owner_client, "get_groups", instance_id=instance.instance_id).json()
    assert body["message"] == "This instance ID has not been activated yet"
