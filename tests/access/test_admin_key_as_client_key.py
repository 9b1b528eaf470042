"""The seed frontend keeps one key in one slot: the admin key, sent as X-Proxy-Admin-Key to
activate the session and as X-Proxy-Key on every market call. With keys required it is
accepted there as a principal with every scope and a quota of its own, audited as the admin,
and behind the same lockout as the admin endpoints."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connections
from rest_framework.test import APIClient

from access.models import AuditEvent
from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]

SESSION = "/breeze/admin/session"


def _quote(api, key: str, ip: str = "203.0.113.20", path: str = "/breeze/quotes"):
    return api.post(path, QUOTE, format="json", REMOTE_ADDR=ip, **{KEY_HEADER: key})


@pytest.mark.parametrize("path", ["/breeze/quotes", "/api/breeze/depth", "/breeze/option-chain"])
def test_admin_key_opens_every_market_endpoint(api, live_session, admin_key, path):
    body = (
        {"stock_code": "NIFTY", "expiry_date": "2030-01-29", "right": "call"}
        if path.endswith("option-chain")
        else QUOTE
    )
    response = api.post(path, body, format="json", **{KEY_HEADER: admin_key})

    # The scope check passes (a 404 for a chain nobody lists is Breeze's answer, not a refusal)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.NOT_FOUND), response.content
    assert response["RateLimit-Limit"] == "600"


def test_admin_key_has_its_own_quota(api, live_session, admin_key, settings, make_key):
    settings.BREEZE_ADMIN_CLIENT_QUOTA = 2
    _, other = make_key(quota=5)

    answers = [_quote(api, admin_key) for _ in range(3)]
    client = _quote(api, other)

    assert [a.status_code for a in answers] == [200, 200, HTTPStatus.TOO_MANY_REQUESTS]
    assert answers[-1].json()["code"] == "rate_limited"
    assert client["RateLimit-Limit"] == "5"


def test_admin_key_use_is_audited_once_a_minute(api, live_session, admin_key):
    for _ in range(3):
        _quote(api, admin_key)

    events = AuditEvent.objects.filter(action="admin_key_as_client_key")
    assert events.count() == 1
    assert events.get().source_ip == "203.0.113.20"


def test_guessing_the_admin_key_through_x_proxy_key_is_locked_out(api, live_session, admin_key):
    wrong = [_quote(api, f"not-the-admin-key-{n}") for n in range(6)]
    right = _quote(api, admin_key)
    admin_page = api.get(SESSION, HTTP_X_PROXY_ADMIN_KEY=admin_key, REMOTE_ADDR="203.0.113.20")

    assert [r.status_code for r in wrong[:5]] == [HTTPStatus.UNAUTHORIZED] * 5
    assert {r.json()["code"] for r in wrong[:5]} == {"client_key_malformed"}
    assert wrong[5].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert right.json()["code"] == "admin_locked_out"  # the same lockout, wherever the key goes
    assert admin_page.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert AuditEvent.objects.filter(action="admin_key_failure").count() == 5


def test_admin_key_is_refused_where_none_is_configured(api, live_session, settings):
    settings.BREEZE_PROXY_ADMIN_KEY = ""

    response = _quote(api, "anything-not-a-client-key")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "client_key_malformed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("spread", ["one address", "many addresses"])
def test_parallel_wrong_admin_keys_get_exactly_the_limit_of_answers(
    live_session, admin_key, settings, spread
):
    # Given a limit of 5 per address and 12 overall, and 60 wrong keys sent at once
    settings.BREEZE_ADMIN_LOCKOUT_PER_IP = 5
    settings.BREEZE_ADMIN_LOCKOUT_GLOBAL = 12
    # Windows are fixed: a burst that straddles a window's end meets fresh counters (at most
    # twice the limit, README configuration table). One window for the whole test.
    settings.BREEZE_ADMIN_LOCKOUT_WINDOW_S = 10**9

    def attempt(n: int) -> int:
        try:
            ip = "203.0.113.30" if spread == "one address" else f"2001:db8::{n + 1:x}"
            response = APIClient().get(SESSION, HTTP_X_PROXY_ADMIN_KEY=f"wrong-{n}", REMOTE_ADDR=ip)
            return response.status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(60)))

    # Then exactly the limit of them were judged; every other one was refused
    judged = 5 if spread == "one address" else 12
    assert statuses.count(HTTPStatus.UNAUTHORIZED) == judged
    assert statuses.count(HTTPStatus.TOO_MANY_REQUESTS) == 60 - judged
