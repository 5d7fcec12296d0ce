"""Waziper's paths match whatever their letter case and trailing slash, as Express matches them;
the admin and the OpenAPI schema are left alone."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance
from waziper_site.paths import waziper_form

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/Instance", "/instance/", "/INSTANCE/", "/Instance/"])
def test_case_and_trailing_slash_do_not_matter(
    owner_client: APIClient, instance: Instance, path: str
) -> None:
    response = owner_client.get(path, {"instance_id": instance.instance_id})
    assert response.status_code == 200
    assert response.json()["data"]["instance_id"] == instance.instance_id


def test_a_path_parameter_route_matches_with_a_trailing_slash(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.get(f"/Queue-Status/{instance.instance_id}/")
    assert response.status_code == 200


def test_a_post_keeps_its_body_through_a_trailing_slash(owner_client: APIClient, instance: Instance) -> None:
    response = owner_client.post(
        f"/send_message/?instance_id={instance.instance_id}", {"chat_id": "6281234567890", "message": "hi"}
    )
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "queued"


@pytest.mark.parametrize("path", ["/admin/Login/", "/ADMIN/login/", "/api/Schema/", "/API/SCHEMA/", "/"])
def test_the_admin_the_schema_and_the_root_are_left_alone(path: str) -> None:
    assert waziper_form(path) is None


def test_the_admin_login_still_answers(api: APIClient) -> None:
    assert api.get("/admin/login/").status_code == 200


def test_the_schema_still_answers(api: APIClient) -> None:
    assert api.get("/api/schema/").status_code == 200


def test_an_unknown_path_stays_unknown(api: APIClient) -> None:
    assert api.get("/No/Such/Path/").status_code == 404


def test_a_path_that_matches_as_sent_is_not_rewritten(settings: Any) -> None:
    assert waziper_form("/instances/664461B63FB8A") is None


def test_ids_in_capitals_are_not_a_reason_to_look_again() -> None:
    assert waziper_form("/queue-status/664461B63FB8A") is None
    assert waziper_form("/messages/3F2504E0-4F89-11D3-9A0C-0305E82C3301") is None


def test_a_route_word_in_capitals_before_an_id_is_found(settings: Any) -> None:
    assert waziper_form("/Queue-Status/664461B63FB8A") == "/queue-status/664461b63fb8a"
