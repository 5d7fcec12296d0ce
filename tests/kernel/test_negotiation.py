"""An API view answers JSON whatever the client's Accept header asks for."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "accept",
    [
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "text/html",
        "application/xml",
        "image/png;q=1.0",
    ],
)
def test_a_view_answers_json_whatever_accept_says(owner_client: APIClient, accept: str) -> None:
    response = owner_client.get("/instances", headers={"Accept": accept})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "success"


def test_the_schema_still_answers_the_format_asked_for(api: APIClient) -> None:
    response = api.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
