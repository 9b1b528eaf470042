"""Every way Breeze fails, mapped to its status and envelope within the timeout."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest

from sessions_admin.models import BreezeSession

pytestmark = pytest.mark.django_db

QUOTE = {"stock_code": "RELIND"}


def _quote(api):
    started = time.monotonic()
    response = api.post("/breeze/quotes", QUOTE, format="json")
    return response, time.monotonic() - started


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"mode": "http_error", "status": 503}, HTTPStatus.BAD_GATEWAY, "upstream_unavailable"),
        ({"mode": "http_error", "status": 500}, HTTPStatus.BAD_GATEWAY, "upstream_unavailable"),
        ({"mode": "non_json"}, HTTPStatus.BAD_GATEWAY, "upstream_bad_response"),
        ({"mode": "drop"}, HTTPStatus.BAD_GATEWAY, "upstream_unavailable"),
        ({"mode": "hang"}, HTTPStatus.GATEWAY_TIMEOUT, "upstream_timeout"),
        ({"mode": "latency", "latency_ms": 4000}, HTTPStatus.GATEWAY_TIMEOUT, "upstream_timeout"),
        ({"mode": "rate_limit"}, HTTPStatus.TOO_MANY_REQUESTS, "upstream_rate_limited"),
        ({"mode": "breeze_error"}, HTTPStatus.BAD_GATEWAY, "upstream_error"),
    ],
    ids=lambda value: value.get("mode") if isinstance(value, dict) else None,
)
def test_fault_maps_to_status_within_timeout(api, live_session, sim, settings, fault, status, code):
    sim.set_fault(fault.pop("mode"), **fault)

    response, elapsed = _quote(api)

    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "message", "details", "code"}
    assert body["code"] == code
    assert elapsed < settings.BREEZE_TIMEOUT_S + 1.0
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        assert int(response["Retry-After"]) >= 1


def test_expired_session_is_401_and_stops_further_calls(api, live_session, sim):
    sim.expire_sessions()

    first, _ = _quote(api)
    calls_after_first = sim.stats()["total_calls"]
    second, _ = _quote(api)

    assert first.status_code == HTTPStatus.UNAUTHORIZED
    assert first.json()["code"] == "session_expired"
    assert second.status_code == HTTPStatus.UNAUTHORIZED
    assert sim.stats()["total_calls"] == calls_after_first, "a dead session was used again"
    assert BreezeSession.objects.get(pk=live_session.pk).status == "rejected"
    assert api.get("/breeze/health").json()["session_active"] is False


def test_connection_refused_is_502_fast(api, live_session, settings):
    settings.BREEZE_API_URL = "http://127.0.0.1:9/breezeapi/api/v1/"  # nothing listens on 9
    from breeze.gateway import client as gateway

    gateway._client_slot = None
    response, elapsed = _quote(api)

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert response.json()["code"] == "upstream_unavailable"
    assert elapsed < 2


def test_activation_while_breeze_down_is_502_and_keeps_nothing(api, sim, admin_key):
    sim.set_fault("http_error", status=503)

    response = api.post(
        "/breeze/admin/api-session",
        {"api_session": sim.issue_session()},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=admin_key,
    )

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert not BreezeSession.objects.filter(status="active").exists()


def test_activation_with_expired_token_is_401(api, sim, admin_key):
    token = sim.issue_session()
    sim.expire_sessions()

    response = api.post(
        "/breeze/admin/api-session",
        {"api_session": token},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=admin_key,
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "session_token_rejected"


def test_no_data_history_is_404(api, live_session):
    body = {
        "stock_code": "RELIND",
        "interval": "1second",
        "from_date": "2015-01-05T09:15:00",
        "to_date": "2015-01-05T09:20:00",
    }

    response = api.post("/breeze/historical", body, format="json")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "no_data"


def test_connections_are_reused(api, live_session, sim):
    codes = ["RELIND", "TCS", "INFTEC", "HDFBAN", "ICIBAN"] * 4
    sim.reset()

    for index, code in enumerate(codes):
        response = api.post(
            "/breeze/historical",
            {"stock_code": code, "from_date": "2025-01-01", "to_date": f"2025-01-{index + 2:02d}"},
            format="json",
        )
        assert response.status_code in (HTTPStatus.OK, HTTPStatus.NOT_FOUND)

    assert sim.stats()["total_calls"] == 20
    assert sim.stats()["connections_opened"] <= 1  # 0 when activation's connection is reused
