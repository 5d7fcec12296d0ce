"""/api/schema/ documents every endpoint in the URLconf; /api/docs/ serves Swagger UI locally."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
# /metrics is Prometheus text for staff scrapers, not part of the JSON API.
NOT_API = ("admin/", "api/schema/", "api/docs/", "static/", "metrics")
PUBLIC = {"/health", "/", "/generate-instance-id"}
# Waziper's public API: a token or none (it answers a missing one itself), HTTP 200 always.
WAZIPER_PUBLIC_API = re.compile(r"^/api/(?!schema/|docs/)")


def _routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out += _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            out.append((route, pattern.callback))
    return out


def api_routes() -> dict[str, set[str]]:
    """OpenAPI path → the HTTP methods its view answers, for every API route in the URLconf."""
    found: dict[str, set[str]] = {}
    for route, callback in _routes(get_resolver().url_patterns):
        if route.startswith(NOT_API) or not hasattr(callback, "cls"):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        methods = {m for m in callback.cls.http_method_names if hasattr(callback.cls, m)}
        found[path] = methods - {"options", "head"}
    return found


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_every_api_route_and_method_is_documented(schema: dict[str, Any]) -> None:
    documented = {path: set(ops) for path, ops in schema["paths"].items()}
    assert api_routes() == documented


def test_the_schema_is_valid_and_generates_without_warnings() -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO(), stderr=StringIO())


def test_every_authenticated_operation_documents_tokens_and_the_error_envelope(
    schema: dict[str, Any],
) -> None:
    for path, operations in schema["paths"].items():
        if path in PUBLIC or WAZIPER_PUBLIC_API.match(path):
            continue
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op["security"] == [{"bearerAuth": []}, {"accessToken": []}], where
            assert "access_token" in {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}, (
                where
            )
            for code in ("400", "401", "429"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", where


def test_the_public_paths_need_no_token(schema: dict[str, Any]) -> None:
    for path in PUBLIC:
        for method, op in schema["paths"][path].items():
            assert op.get("security", [{}]) in ([{}], []), f"{method.upper()} {path}"


def test_wazipers_public_api_documents_http_200_for_success_and_error(schema: dict[str, Any]) -> None:
    paths = [path for path in schema["paths"] if WAZIPER_PUBLIC_API.match(path)]
    assert len(paths) >= 7
    for path in paths:
        for method, op in schema["paths"][path].items():
            where = f"{method.upper()} {path}"
            assert set(op["responses"]) == {"200"}, where
            ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            shapes = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["oneOf"]
            assert {"$ref": "#/components/schemas/Error"} in shapes, where
            assert op["security"] == [{"bearerAuth": []}, {"accessToken": []}, {}], where
            query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            assert {"access_token", "instance_id"} & query, where


def test_instance_id_is_documented_where_it_travels(schema: dict[str, Any]) -> None:
    for path in ("/instance", "/get_qrcode", "/logout"):
        for op in schema["paths"][path].values():
            (param,) = [p for p in op["parameters"] if p["name"] == "instance_id"]
            assert param["in"] == "query"
            assert param["schema"]["pattern"] == "^[0-9A-Fa-f]{13}$"
    for op in schema["paths"]["/reset-circuit-breaker/{instance_id}"].values():
        assert [p["in"] for p in op["parameters"] if p["name"] == "instance_id"] == ["path"]


def test_bodies_may_be_json_or_forms(schema: dict[str, Any]) -> None:
    content = schema["paths"]["/instances"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(content)


def test_the_error_envelope_is_one_reusable_component(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "status"]
    assert {"errors", "retry_after", "circuit_breaker"} <= set(error["properties"])


def test_swagger_ui_loads_from_our_own_static_files(client: Any) -> None:
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert not re.search(r"https?://(cdn|unpkg|fonts)\.", page)
    assets = re.findall(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content) if response.streaming else response.content
