"""Every error is `{"status": "error", "message": …}` with the real HTTP code."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_400_names_each_bad_field(owner_client: APIClient) -> None:
    response = owner_client.post(
        "/instances", {"transport": "telegram", "proxy_url": "ftp://x:1"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert set(body["errors"]) == {"transport", "proxy_url"}
    assert "transport" in body["message"]
    assert "scheme" in body["errors"]["proxy_url"][0]


def test_400_for_malformed_json(owner_client: APIClient) -> None:
    response = owner_client.post("/instances", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "JSON parse error" in response.json()["message"]


@pytest.mark.parametrize("path", ["/instances", "/send_message?instance_id=0000000000000"])
@pytest.mark.parametrize("with_token", [True, False], ids=["bearer", "token-in-body"])
def test_400_for_json_nested_too_deeply(
    api: APIClient, owner_token: str, path: str, with_token: bool
) -> None:
    # Python's json module raises RecursionError, not ValueError, past ~1,000 levels; the body
    # is parsed while authenticating when the token may be in it, so this reaches every POST.
    if with_token:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    response = api.post(path, "[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "JSON parse error" in response.json()["message"]


def test_404_for_unknown_path_is_json(api: APIClient) -> None:
    response = api.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Not found."}


@pytest.mark.parametrize("odd", ["'; DROP TABLE x;--", "%00", "6921B60FBF7D9X", "a" * 300, "😀"])
def test_odd_instance_ids_are_404_never_500(owner_client: APIClient, odd: str) -> None:
    response = owner_client.get(f"/instances/{odd}")
    assert response.status_code == 404


def test_405_for_wrong_method(owner_client: APIClient) -> None:
    response = owner_client.put("/instances", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"status": "error", "message": 'Method "PUT" not allowed.'}


def test_413_for_oversized_body(owner_client: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = owner_client.post("/instances", {"name": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["status"] == "error"


def test_429_with_retry_after(api: APIClient, owner_token: str, settings: Any) -> None:
    settings.WAZIPER_THROTTLE_RATE = "2/min"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    assert [api.get("/instances").status_code for _ in range(2)] == [200, 200]
    response = api.get("/instances")
    assert response.status_code == 429
    assert response.json()["status"] == "error"
    assert int(response["Retry-After"]) > 0
    assert response.json()["retry_after"] == int(response["Retry-After"])


@pytest.mark.urls("tests.waziper_site.boom_urls")
def test_500_hides_internals_and_logs_the_traceback(api: APIClient, caplog: Any) -> None:
    response = api.get("/boom")
    assert response.status_code == 500
    assert response.json()["status"] == "error"
    assert "secret internal detail" not in response.content.decode()
    assert "secret internal detail" in caplog.text


@pytest.mark.urls("tests.waziper_site.boom_urls")
def test_503_with_retry_after_when_the_database_is_unavailable(api: APIClient) -> None:
    response = api.get("/locked")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "status": "error",
        "message": "The database is busy or unavailable; please retry shortly.",
        "retry_after": 5,
    }


@pytest.mark.django_db
def test_a_multipart_body_with_no_readable_part_is_a_400(owner_client: Any, instance: Any) -> None:
    boundary = "2377f6249fcd11dec1de41090b9e0f92"
    response = owner_client.generic(
        "POST",
        f"/logout?instance_id={instance.instance_id}",
        f"--{boundary}\r\n39669--{boundary}--\r\n",
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Malformed multipart body: no part could be read."


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path", ["/no/such/thing", "/get_qrcode/0A1B2C3D4E5F6", "/api/nothing"])
def test_404_is_json_when_the_client_asks_for_html(api: APIClient, path: str) -> None:
    response = api.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "error"


def test_405_is_json_when_the_client_asks_for_html(owner_client: APIClient) -> None:
    response = owner_client.put("/instances", {}, format="json", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 405
    assert response.json()["status"] == "error"


def test_the_admin_still_answers_a_browser_with_an_html_404(api: APIClient, staff: Any) -> None:
    api.force_login(staff)
    response = api.get("/admin/no/such/page/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
