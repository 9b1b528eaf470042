"""CORS for the deployed frontend, the browsable API and the OpenAPI schema."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db

ALLOWED = "https://app.example.com"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]
    settings.CORS_ALLOW_ALL_ORIGINS = False


def _preflight(client, origin: str):
    return client.options(
        "/api/breeze/quotes",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-proxy-key, x-proxy-admin-key",
    )


def test_preflight_from_allowed_origin_allows_proxy_headers(client, cors):
    response = _preflight(client, ALLOWED)

    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response["Access-Control-Allow-Headers"].lower()
    assert "x-proxy-key" in allowed_headers
    assert "x-proxy-admin-key" in allowed_headers


def test_preflight_from_other_origin_is_refused(client, cors):
    response = _preflight(client, "https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response


def test_debug_allows_any_origin(client, settings):
    settings.CORS_ALLOWED_ORIGINS = []
    settings.CORS_ALLOW_ALL_ORIGINS = True

    response = _preflight(client, "http://localhost:5173")

    assert response["Access-Control-Allow-Origin"] in ("*", "http://localhost:5173")


def test_openapi_schema_describes_every_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == HTTPStatus.OK
    schema = response.json() if response["Content-Type"].endswith("json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in (
        "/breeze/quotes",
        "/breeze/depth",
        "/breeze/historical",
        "/breeze/option-chain",
        "/breeze/admin/api-session",
        "/api/breeze/quotes",
    ):
        assert path in paths, path
    quote_post = paths["/breeze/quotes"]["post"]
    assert "requestBody" in quote_post
    assert {"200", "400", "401", "502"} <= set(quote_post["responses"])


def test_swagger_ui_page(client):
    """Served with the sidecar's assets, from the app (no CDN; test_operator_surfaces.py checks
    every asset and host)."""
    response = client.get("/api/docs/")

    assert response.status_code == HTTPStatus.OK
    assert b'src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"' in (
        response.content
    )
    assert b"cdn.jsdelivr.net" not in response.content


def test_browsable_api_renders_html_form(client):
    response = client.get("/breeze/quotes", HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert b"stock_code" in response.content
