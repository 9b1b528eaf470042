"""POST /breeze/admin/api-session: activating the daily token, end to end through the SDK."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from sessions_admin.models import BreezeSession

pytestmark = pytest.mark.django_db

PATHS = ["/breeze/admin/api-session", "/api/breeze/admin/api-session"]


def _activate(api, token: str, key: str | None):
    headers = {"HTTP_X_PROXY_ADMIN_KEY": key} if key is not None else {}
    return api.post(PATHS[0], {"api_session": token}, format="json", **headers)


@pytest.mark.parametrize("path", PATHS)
def test_activate_with_good_token_makes_session_live(api, sim, admin_key, path):
    token = sim.issue_session()

    response = api.post(
        path, {"api_session": token}, format="json", HTTP_X_PROXY_ADMIN_KEY=admin_key
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Daily session activated"
    assert body["session"]["session_active"] is True
    assert token not in response.content.decode()
    assert sim.stats()["customerdetails_calls"] == 1


def test_session_expires_at_next_midnight_ist(api, sim, admin_key):
    _activate(api, sim.issue_session(), admin_key)

    session = BreezeSession.objects.get(status="active")
    local = session.expires_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert 0 < (session.expires_at - session.activated_at).total_seconds() <= 86400


def test_bad_token_is_401_and_recorded(api, sim, admin_key):
    response = _activate(api, "99999999", admin_key)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "session_token_rejected"
    assert set(response.json()) == {"error", "message", "details", "code"}
    failed = BreezeSession.objects.get(status="failed")
    assert "Invalid session." in failed.last_error


@pytest.mark.parametrize("key", [None, "", "wrong-key"], ids=["missing", "empty", "wrong"])
def test_missing_or_wrong_admin_key_is_401_and_breeze_not_called(api, sim, key):
    response = _activate(api, sim.issue_session(), key)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("X-Proxy-Admin-Key")
    assert response.json()["code"] in {"authentication_required", "authentication_failed"}
    assert sim.stats()["customerdetails_calls"] == 0


def test_no_admin_key_configured_refuses(api, sim, settings):
    settings.BREEZE_PROXY_ADMIN_KEY = ""

    response = _activate(api, sim.issue_session(), "anything")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["code"] == "admin_key_not_configured"
    assert sim.stats()["customerdetails_calls"] == 0


def test_failed_activation_keeps_previous_session(api, sim, admin_key):
    good = sim.issue_session()
    _activate(api, good, admin_key)
    before = BreezeSession.objects.get(status="active")

    response = _activate(api, "11112222", admin_key)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    after = BreezeSession.objects.get(status="active")
    assert after.pk == before.pk
    quote = api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json")
    assert quote.status_code == HTTPStatus.OK


def test_new_activation_replaces_old_one(api, sim, admin_key):
    _activate(api, sim.issue_session(), admin_key)
    _activate(api, sim.issue_session(), admin_key)

    assert BreezeSession.objects.filter(status="active").count() == 1
    assert BreezeSession.objects.filter(status="replaced").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"api_session": ""},
        {"api_session": "has space"},
        {"api_session": "x" * 300},
        {"api_session": 12},
        {"api_session": "12345678", "extra": 1},
        ["12345678"],
    ],
    ids=["missing", "empty", "space", "too-long", "number", "unknown-field", "list"],
)
def test_bad_body_is_400_without_upstream_call(api, sim, admin_key, body):
    response = api.post(PATHS[0], body, format="json", HTTP_X_PROXY_ADMIN_KEY=admin_key)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert set(response.json()) == {"error", "message", "details", "code"}
    assert sim.stats()["customerdetails_calls"] == 0


def test_token_is_encrypted_at_rest(api, sim, admin_key):
    token = sim.issue_session()
    _activate(api, token, admin_key)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_session, session_key FROM sessions_admin_breezesession")
        stored = cursor.fetchall()
    assert stored
    for api_session, session_key in stored:
        assert token not in api_session
        assert api_session.startswith("gAAAA")  # a Fernet token
        assert session_key.startswith("gAAAA")


def test_session_status_and_clear(api, sim, admin_key):
    _activate(api, sim.issue_session(), admin_key)

    status = api.get("/breeze/admin/session", HTTP_X_PROXY_ADMIN_KEY=admin_key)
    cleared = api.delete(PATHS[0], HTTP_X_PROXY_ADMIN_KEY=admin_key)
    quote = api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json")

    assert status.json()["session_active"] is True
    assert status.json()["seconds_left"] > 0
    assert cleared.json()["session_active"] is False
    assert quote.status_code == HTTPStatus.UNAUTHORIZED
    assert quote.json()["code"] == "session_missing"
