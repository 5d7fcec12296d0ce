"""Waziper's PHP client (Whatsapp_helper.php) calling this server as it calls Waziper's Node server:
the exact requests (its headers, its query strings, its form bodies) and every field it reads
from the answers. It never looks at the HTTP status and json_decodes the body, so every answer
here is checked to be JSON first (php_client.decoded), errors included.

Where this server differs on purpose (a token on the breaker and queue paths, real HTTP codes),
the test says so."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from breaker.models import BreakerReset
from instances.models import Instance
from queueing.models import QueuedMessage
from tests.support.php_client import (
    INSTANCE_ID,
    PHP_GET_HEADERS,
    TOKEN,
    decoded,
    php_get,
    php_post,
)
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait, link, trip_breaker

pytestmark = pytest.mark.django_db
IDS = {"instance_id": INSTANCE_ID, "access_token": TOKEN}
GROUP = "84987694574-1618740914@g.us"
JID = "6281234567890:12@s.whatsapp.net"


@pytest.fixture
def linked(waziper_instance: Instance) -> Instance:
    link(waziper_instance, jid=JID)
    Instance.objects.filter(pk=waziper_instance.pk).update(push_name="Toko Andi")
    waziper_instance.refresh_from_db()
    return waziper_instance


# --- GET /instance (S1–S5, S26) -------------------------------------------------------------------


def test_s1_instance_of_a_linked_phone(php: APIClient, linked: Instance) -> None:
    body = decoded(php_get(php, "instance", IDS))
    assert (body["status"], body["message"]) == ("success", "Success")
    assert body["data"]["id"] == JID
    assert body["data"]["name"] == "Toko Andi"
    assert body["data"]["avatar"].startswith("https://")


def test_s2_instance_with_no_phone_linked_asks_for_a_relogin(
    php: APIClient, waziper_instance: Instance
) -> None:
    body = decoded(php_get(php, "instance", IDS))
    assert (body["status"], body["message"], body["relogin"]) == ("error", "Error", True)


def test_s3_an_instance_id_unknown_to_the_token_is_invalidated(php: APIClient, team_token: str) -> None:
    body = decoded(php_get(php, "instance", {"instance_id": "6880714A02801", "access_token": team_token}))
    assert (body["status"], body["message"]) == ("error", "The Instance ID provided has been invalidated")


def test_s4_a_bad_token_fails_authentication(php: APIClient, waziper_instance: Instance) -> None:
    body = decoded(php_get(php, "instance", {"instance_id": INSTANCE_ID, "access_token": "0000000000000"}))
    assert (body["status"], body["message"]) == ("error", "The authentication process has failed")


def test_s5_no_instance_id_must_be_provided(php: APIClient, team_token: str) -> None:
    body = decoded(php_get(php, "instance", {"access_token": team_token}))
    assert (body["status"], body["message"]) == (
        "error",
        "The Instance ID must be provided for the process to be completed",
    )


def test_s26_case_and_a_trailing_slash_do_not_matter(php: APIClient, linked: Instance) -> None:
    body = decoded(php_get(php, "Instance/", IDS))
    assert (body["status"], body["data"]["id"]) == ("success", JID)


def test_the_breaker_refusing_answers_the_seeds_circuit_breaker_body(
    php: APIClient, waziper_instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 2
    trip_breaker(waziper_instance)
    body = decoded(php_get(php, "instance", IDS))
    assert (body["status"], body["message"], body["circuit_breaker"]) == (
        "error",
        "Unable to create session at this time.",
        True,
    )


# --- GET /get_qrcode (S6, S7) ---------------------------------------------------------------------


def test_s6_a_qr_code_the_panel_can_strip_and_decode(
    php: APIClient, waziper_instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    body = decoded(php_get(php, "get_qrcode", IDS))
    assert body["status"] == "success"
    prefix = "data:image/png;base64,"
    assert body["base64"].startswith(prefix)
    assert base64.b64decode(body["base64"].removeprefix(prefix)).startswith(b"\x89PNG\r\n\x1a\n")


def test_s7_a_linked_phone_is_not_logged_out_for_a_qr_code(php: APIClient, linked: Instance) -> None:
    body = decoded(php_get(php, "get_qrcode", IDS))
    assert (body["status"], body["message"]) == ("error", "It seems that you have logged in successfully")
    linked.refresh_from_db()
    assert linked.jid == JID


# --- GET /get_groups (S8) ------------------------------------------------------------------------


def test_s8_get_groups_with_the_fields_the_panel_reads(
    php: APIClient, owner: Any, team_token: str, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    phone = connected_sandbox(
        owner, worker, groups=[{"id": GROUP, "name": "Archers", "participants": ["628200000002"]}]
    )
    worker.run_while_waiting(fake_wait)
    body = decoded(php_get(php, "get_groups", {"instance_id": phone.instance_id, "access_token": team_token}))
    assert body["status"] == "success"
    (group,) = body["data"]
    assert (group["id"], group["name"], group["size"], group["desc"]) == (GROUP, "Archers", 2, "")
    ids = {participant["id"] for participant in group["participants"]}
    assert "628200000002@s.whatsapp.net" in ids
    assert all(participant["admin"] in (None, "admin", "superadmin") for participant in group["participants"])


def test_s8_get_groups_with_no_live_session_is_an_empty_list(
    php: APIClient, waziper_instance: Instance
) -> None:
    body = decoded(php_get(php, "get_groups", IDS))
    assert (body["status"], body["message"], body["data"]) == ("success", "Success", [])


# --- GET /logout (S9) -----------------------------------------------------------------------------


def test_s9_logout_twice(php: APIClient, linked: Instance) -> None:
    first = decoded(php_get(php, "logout", IDS))
    second = decoded(php_get(php, "logout", IDS))
    assert first["status"] == "success"
    assert (second["status"], second["message"]) == ("error", "This account seems to have logged out before.")


# --- POST /send_message, /send-message/<id> (S10–S17) -----------------------------------------------


@pytest.mark.parametrize(
    ("form", "chat_id", "kind", "text", "filename"),
    [
        pytest.param(
            {"chat_id": "6281234567890@c.us", "caption": "Hello world"},
            "6281234567890@s.whatsapp.net",
            "text",
            "Hello world",
            "",
            id="S10-c.us",
        ),
        pytest.param(
            {"chat_id": "6281234567890@s.whatsapp.net", "caption": "Hello world"},
            "6281234567890@s.whatsapp.net",
            "text",
            "Hello world",
            "",
            id="S11-s.whatsapp.net",
        ),
        pytest.param(
            {
                "media_url": "https://example.com/a.pdf",
                "chat_id": "6281234567890@c.us",
                "caption": "Invoice",
                "filename": "invoice.pdf",
            },
            "6281234567890@s.whatsapp.net",
            "document",
            "Invoice",
            "invoice.pdf",
            id="S12-document",
        ),
        pytest.param(
            {"media_url": "https://example.com/v.mp3", "chat_id": "6281234567890@c.us", "caption": "hi"},
            "6281234567890@s.whatsapp.net",
            "audio",
            "",
            "",
            id="S13-audio-caption-dropped",
        ),
        pytest.param(
            {"media_url": "https://example.com/a.jpg", "chat_id": "6281234567890@c.us"},
            "6281234567890@s.whatsapp.net",
            "image",
            "",
            "",
            id="S14-media-without-caption",
        ),
        pytest.param(
            {"chat_id": "84987694574-1618740914@g.us", "caption": "hi"},
            "84987694574-1618740914@g.us",
            "text",
            "hi",
            "",
            id="S15-group",
        ),
        pytest.param(
            {"chat_id": "+62 812-3456-7890@c.us", "caption": "hi"},
            "6281234567890@s.whatsapp.net",
            "text",
            "hi",
            "",
            id="S16-plus-spaces-dashes",
        ),
    ],
)
def test_s10_to_s16_send_message_as_the_php_client_posts_it(
    php: APIClient,
    linked: Instance,
    form: dict[str, str],
    chat_id: str,
    kind: str,
    text: str,
    filename: str,
) -> None:
    body = decoded(php_post(php, "send_message", IDS, form))
    assert body["status"] == "success"
    message = QueuedMessage.objects.get()
    assert (message.chat_id, message.kind, message.text, message.filename) == (chat_id, kind, text, filename)


def test_s17_send_message_with_the_id_in_the_path(php: APIClient, linked: Instance) -> None:
    form = {"chat_id": "6281234567890@c.us", "caption": "Hello world"}
    body = decoded(php_post(php, f"send-message/{INSTANCE_ID}", {"access_token": TOKEN}, form))
    assert body["status"] == "success"
    assert QueuedMessage.objects.get().instance == linked


def test_the_php_clients_form_encoding_reaches_the_queue_intact(php: APIClient, linked: Instance) -> None:
    # urlencode(): a space is `+`, a `+` is `%2B`, `&` and `=` are escaped.
    decoded(
        php_post(php, "send_message", IDS, {"chat_id": "6281234567890@c.us", "caption": "1+1 = 2 & more"})
    )
    assert QueuedMessage.objects.get().text == "1+1 = 2 & more"


def test_a_refused_send_is_still_json_the_client_can_decode(php: APIClient, linked: Instance) -> None:
    body = decoded(php_post(php, "send_message", IDS, {"chat_id": "not a number", "caption": "hi"}))
    assert body["status"] == "error"
    assert "chat_id" in body["errors"]


# --- queue and breaker status, force-retry, reset (S18–S22) ----------------------------------------


def test_s18_queue_status(php: APIClient, linked: Instance) -> None:
    body = decoded(php_get(php, f"queue-status/{INSTANCE_ID}", {"access_token": TOKEN}))
    assert (body["status"], body["message"]) == ("success", "Queue status retrieved")
    data = body["data"]
    assert data["instanceId"] == INSTANCE_ID
    assert isinstance(data["mainQueue"], int)
    assert isinstance(data["retryQueue"], int)
    assert isinstance(data["processing"], bool)
    assert set(data["stats"]) == {"queued", "success", "failed", "retry"}
    assert 0 <= data["successRate"] <= 100
    assert all(isinstance(line, str) for line in data["recommendations"])


def test_s19_circuit_breaker_status_with_a_token(php: APIClient, linked: Instance) -> None:
    # Waziper's server answers this without a token; this one asks for it (README, "Coming from
    # Waziper"). Without one the answer is still JSON the client can read.
    assert decoded(php_get(php, f"circuit-breaker-status/{INSTANCE_ID}", {}))["status"] == "error"
    body = decoded(php_get(php, f"circuit-breaker-status/{INSTANCE_ID}", {"access_token": TOKEN}))
    assert body["status"] == "success"
    data = body["data"]
    assert data["instance_id"] == INSTANCE_ID
    assert isinstance(data["retry_attempts"], int)
    assert isinstance(data["recent_failures"], int)
    assert isinstance(data["circuit_breaker_active"], bool)
    assert isinstance(data["session_exists"], bool)
    assert isinstance(data["connecting"], bool)
    assert isinstance(data["last_failure_timestamps"], list)


def test_s20_force_retry(php: APIClient, waziper_instance: Instance) -> None:
    body = decoded(php_post(php, f"force-retry/{INSTANCE_ID}", {"access_token": TOKEN}, {}))
    assert (body["status"], body["message"]) == ("success", "Retry triggered")
    assert isinstance(body["data"]["success"], bool)
    assert isinstance(body["data"]["message"], str)


def test_s21_force_retry_without_a_token(php: APIClient, waziper_instance: Instance) -> None:
    body = decoded(php_post(php, f"force-retry/{INSTANCE_ID}", {}, {}))
    assert (body["status"], body["message"]) == ("error", "Access token required")
    assert not BreakerReset.objects.exists()


def test_s22_reset_circuit_breaker_answers_compact_json(php: APIClient, waziper_instance: Instance) -> None:
    response = php.post(f"/reset-circuit-breaker/{INSTANCE_ID}?access_token={TOKEN}")
    assert b'"status":"success"' in response.content
    body = decoded(response)
    assert body["message"] == f"Circuit breaker reset successfully for instance: {INSTANCE_ID}"
    assert body["instance_id"] == INSTANCE_ID


# --- public paths (S23–S25) -----------------------------------------------------------------------


def test_s23_generate_instance_id(php: APIClient) -> None:
    body = decoded(php_get(php, "generate-instance-id", {}))
    assert body["status"] == "success"
    assert re.fullmatch(r"[0-9A-F]{13}", body["instance_id"])
    assert body["message"] == "Use this instance_id to create a new WhatsApp session"


def test_s24_health(php: APIClient) -> None:
    body = decoded(php_get(php, "health", {}))
    assert (body["status"], body["message"]) == ("success", "Server is running")
    assert "health_score" in body["data"]
    assert body["timestamp"]


def test_s25_the_root_welcomes(php: APIClient) -> None:
    response = php_get(php, "", {})
    assert response.status_code == 200
    assert decoded(response) == {"status": "success", "message": "Welcome to WAZIPER"}


@pytest.mark.parametrize("path", ["get_qrcode/664461B63FB8A", "restart-instance", "qrcode"])
def test_a_path_waziper_does_not_have_is_a_json_404(php: APIClient, path: str) -> None:
    response = php_get(php, path, IDS)
    assert response.status_code == 404
    assert decoded(response)["status"] == "error"


# --- CORS (S27, S28) ------------------------------------------------------------------------------


def test_s27_a_browsers_preflight_is_answered_without_credentials(php: APIClient) -> None:
    response = php.options(
        "/send_message",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"},
    )
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_s28_a_cross_origin_get_is_allowed_without_credentials(php: APIClient, linked: Instance) -> None:
    response = php.get("/instance", IDS, headers={**PHP_GET_HEADERS, "Origin": "https://x.example"})
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
