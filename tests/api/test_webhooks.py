"""/webhooks: endpoints, deliveries, tests, retries, replays, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.events import emit_event
from instances.models import Instance
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "https://93.184.215.14/hooks/u1/i2/tok3"
NOT_FOUND = {"status": "error", "message": "Webhook not found."}


def create(client: APIClient, **body: Any) -> Any:
    return client.post("/webhooks", {"url": URL, **body}, format="json")


@pytest.fixture
def endpoint(owner_client: APIClient, instance: Instance) -> dict[str, Any]:
    response = create(owner_client, instance_id=instance.instance_id)
    assert response.status_code == 201, response.content
    return response.json()["data"]


def test_creating_an_endpoint_shows_its_secret_once(owner_client: APIClient, instance: Instance) -> None:
    response = create(owner_client, instance_id=instance.instance_id, events=["message.received"])
    data = response.json()["data"]
    assert data["secret"].startswith("whsec_")
    assert (data["url"], data["instance_id"], data["events"], data["format"], data["enabled"]) == (
        URL,
        instance.instance_id,
        ["message.received"],
        "standard",
        True,
    )
    shown = owner_client.get(f"/webhooks/{data['id']}").json()["data"]
    assert "secret" not in shown


def test_an_endpoint_without_an_instance_covers_all_of_the_owners(owner_client: APIClient) -> None:
    data = create(owner_client, format="waziper").json()["data"]
    assert (data["instance_id"], data["format"]) == (None, "waziper")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:8000/hook"}, "url"),
        ({"url": "http://169.254.169.254/latest"}, "url"),
        ({"url": "ftp://93.184.215.14/x"}, "url"),
        ({"url": 5}, "url"),
        ({"events": ["message.recieved"]}, "events"),
        ({"events": "message.received"}, "events"),
        ({"format": "baileys"}, "format"),
        ({"instance_id": 12}, "instance_id"),
    ],
)
def test_a_bad_endpoint_is_a_400_naming_the_field(
    owner_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = owner_client.post("/webhooks", {"url": URL, **body}, format="json")
    assert response.status_code == 400, response.content
    assert [name.split(".")[0] for name in response.json()["errors"]] == [field]
    assert not WebhookEndpoint.objects.exists()


def test_private_urls_are_allowed_when_the_setting_says_so(owner_client: APIClient, settings: Any) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS = True
    assert create(owner_client, url="http://127.0.0.1:9000/hook").status_code == 201


@auth_matrix("POST", ok=201, action="change")
def test_auth_matrix_of_creating_an_endpoint_for_an_instance(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    body = {"url": URL, "instance_id": instance.instance_id}
    assert_auth_outcome(call_as(request, who, where, "POST", "/webhooks", body=body), expected)
    assert WebhookEndpoint.objects.exists() is (expected == 201)


@pytest.mark.parametrize("who", ["stranger", "staff", "viewer", "operator", "superuser"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/test"),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
        ("POST", "/replay"),
    ],
)
def test_endpoints_are_their_owners_alone(
    request: pytest.FixtureRequest, endpoint: dict[str, Any], who: str, method: str, suffix: str
) -> None:
    response = call_as(request, who, "bearer", method, f"/webhooks/{endpoint['id']}{suffix}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_list_shows_only_the_callers_endpoints(
    owner_client: APIClient, endpoint: dict[str, Any], stranger_token: str
) -> None:
    assert [e["id"] for e in owner_client.get("/webhooks").json()["data"]] == [endpoint["id"]]
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert other.get("/webhooks").json()["data"] == []


def test_an_owner_who_may_no_longer_change_the_instance_is_refused_changes(
    api: APIClient, instance: Instance, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Permission

    from instances.models import AccessToken
    from webhooks import service

    viewer = django_user_model.objects.create_user(username="vera", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_instance"))
    made, _ = service.create_endpoint(viewer, url=URL, instance=instance)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.objects.issue(viewer)[1]}")
    assert api.get(f"/webhooks/{made.pk}").status_code == 200
    response = api.patch(f"/webhooks/{made.pk}", {"enabled": False}, format="json")
    assert response.status_code == 403
    assert "permission" in response.json()["message"]


def test_patch_changes_only_what_it_names(owner_client: APIClient, endpoint: dict[str, Any]) -> None:
    response = owner_client.patch(
        f"/webhooks/{endpoint['id']}", {"enabled": False, "events": ["message.status"]}, format="json"
    )
    data = response.json()["data"]
    assert (data["enabled"], data["events"], data["url"]) == (False, ["message.status"], URL)
    assert data["disabled_reason"] == "disabled by a person"


def test_patch_checks_a_new_url_like_a_new_endpoint(
    owner_client: APIClient, endpoint: dict[str, Any]
) -> None:
    response = owner_client.patch(f"/webhooks/{endpoint['id']}", {"url": "http://10.0.0.1/x"}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()["errors"]


def test_patch_refuses_the_instance_and_unknown_fields_rather_than_ignoring_them(
    owner_client: APIClient, endpoint: dict[str, Any]
) -> None:
    response = owner_client.patch(
        f"/webhooks/{endpoint['id']}", {"instance_id": None, "colour": "red", "enabled": False}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"instance_id", "colour"}
    assert WebhookEndpoint.objects.get().enabled is True


def test_delete_removes_the_endpoint(owner_client: APIClient, endpoint: dict[str, Any]) -> None:
    assert owner_client.delete(f"/webhooks/{endpoint['id']}").json()["id"] == endpoint["id"]
    assert not WebhookEndpoint.objects.exists()


def test_rotating_shows_the_new_secret_and_when_the_old_one_stops(
    owner_client: APIClient, endpoint: dict[str, Any]
) -> None:
    data = owner_client.post(f"/webhooks/{endpoint['id']}/rotate-secret").json()["data"]
    assert data["secret"].startswith("whsec_")
    assert data["secret"] != endpoint["secret"]
    assert data["secret_rotated_until"] is not None


def test_a_test_event_is_queued_as_a_delivery(owner_client: APIClient, endpoint: dict[str, Any]) -> None:
    response = owner_client.post(f"/webhooks/{endpoint['id']}/test")
    assert response.status_code == 202
    assert (response.json()["data"]["event_type"], response.json()["data"]["status"]) == (
        "webhook.test",
        "pending",
    )


def test_deliveries_are_listed_newest_first_with_a_cursor_and_a_status_filter(
    owner_client: APIClient, endpoint: dict[str, Any], instance: Instance
) -> None:
    for n in range(3):
        emit_event(instance, "status", {"status": "connected", "detail": str(n)})
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.order_by("pk").first().pk).update(status="dead")
    url = f"/webhooks/{endpoint['id']}/deliveries"
    first = owner_client.get(url, {"limit": 2}).json()
    ids = sorted(WebhookDelivery.objects.values_list("pk", flat=True), reverse=True)
    assert [d["id"] for d in first["data"]] == ids[:2]
    second = owner_client.get(url, {"limit": 2, "before": first["next"]}).json()
    assert ([d["id"] for d in second["data"]], second["next"]) == (ids[2:], None)
    dead = owner_client.get(url, {"status": "dead"}).json()["data"]
    assert [d["webhook_id"] for d in dead] == [f"evt_{WebhookDelivery.objects.get(status='dead').event_id}"]
    assert owner_client.get(url, {"status": "lost"}).status_code == 400


def test_a_delivery_is_retried_now(
    owner_client: APIClient, endpoint: dict[str, Any], instance: Instance
) -> None:
    emit_event(instance, "status", {"status": "connected", "detail": ""})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=10, next_attempt_at=None)
    response = owner_client.post(f"/webhooks/{endpoint['id']}/deliveries/{delivery.pk}/retry")
    assert response.status_code == 202
    assert (response.json()["data"]["status"], response.json()["data"]["attempts"]) == ("pending", 0)


def test_another_endpoints_delivery_is_not_found(
    owner_client: APIClient, endpoint: dict[str, Any], instance: Instance
) -> None:
    other = create(owner_client, instance_id=instance.instance_id).json()["data"]
    emit_event(instance, "status", {"status": "connected", "detail": ""})
    theirs = WebhookDelivery.objects.get(endpoint_id=other["id"])
    response = owner_client.post(f"/webhooks/{endpoint['id']}/deliveries/{theirs.pk}/retry")
    assert response.status_code == 404
    assert owner_client.post(f"/webhooks/{endpoint['id']}/deliveries/x1/retry").status_code == 404


def test_replay_from_an_event_id(
    owner_client: APIClient, endpoint: dict[str, Any], instance: Instance
) -> None:
    first = emit_event(instance, "status", {"status": "connected", "detail": ""})
    emit_event(create_instance(instance.owner, transport="sandbox"), "status", {"status": "connected"})
    WebhookDelivery.objects.update(status="delivered")
    response = owner_client.post(
        f"/webhooks/{endpoint['id']}/replay", {"from_event_id": first.pk}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["data"] == {"queued": 1, "last_event_id": first.pk, "more": False}


@pytest.mark.parametrize(
    "body", [{}, {"from_event_id": 1, "since": "2026-01-01T00:00:00Z"}, {"since": "yesterday"}, {"limit": 0}]
)
def test_replay_needs_exactly_one_starting_point(
    owner_client: APIClient, endpoint: dict[str, Any], body: dict[str, Any]
) -> None:
    response = owner_client.post(f"/webhooks/{endpoint['id']}/replay", body, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("webhook_id", ["0", "abc", "99999999999999999999", "-1"])
def test_unknown_webhook_ids_are_not_found(owner_client: APIClient, webhook_id: str) -> None:
    response = owner_client.get(f"/webhooks/{webhook_id}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_an_empty_url_in_a_form_patch_is_refused_not_ignored(
    owner_client: APIClient, endpoint: dict[str, Any]
) -> None:
    response = owner_client.patch(
        f"/webhooks/{endpoint['id']}", "url=", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": ["This field may not be blank."]}


@pytest.mark.parametrize("query", ["status=", "before=", "limit="])
def test_an_empty_delivery_filter_is_refused_not_ignored(
    owner_client: APIClient, endpoint: dict[str, Any], query: str
) -> None:
    response = owner_client.get(f"/webhooks/{endpoint['id']}/deliveries?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [query.rstrip("=")]
