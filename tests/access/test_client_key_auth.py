"""X-Proxy-Key on the market endpoints: every way to be refused, and the way in."""

from __future__ import annotations

from http import HTTPStatus
from unittest.mock import patch

import pytest

from access import errors
from access.services import client_key_revoke
from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]

PATHS = ["/breeze/quotes", "/api/breeze/quotes"]
ENVELOPE = {"error", "message", "details", "code"}


def _quote(api, path="/breeze/quotes", **headers):
    return api.post(path, QUOTE, format="json", **headers)


def _assert_refused(response, status: HTTPStatus, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code


@pytest.mark.parametrize("path", PATHS)
def test_good_key_gets_quote_with_rate_limit_headers(api, live_session, make_key, path):
    _, raw = make_key(quota=600)

    response = _quote(api, path, **{KEY_HEADER: raw})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["Success"]
    assert response["RateLimit-Limit"] == "600"
    assert response["RateLimit-Remaining"] == "599"
    assert 1 <= int(response["RateLimit-Reset"]) <= 60
    assert raw not in response.content.decode()


@pytest.mark.parametrize("path", PATHS)
def test_missing_key_is_401_client_key_required(api, live_session, path):
    response = _quote(api, path)

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_required")
    assert response["WWW-Authenticate"].startswith("X-Proxy-Key")


@pytest.mark.parametrize(
    "raw",
    ["not-a-key", "bzp_short", "bzp_" + "a" * 44, "xyz_" + "a" * 43, "bzp_" + "a" * 42 + "!"],
    ids=["garbage", "short", "long", "wrong-prefix", "bad-char"],
)
def test_malformed_key_is_401_client_key_malformed(api, live_session, raw):
    response = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_malformed")
    assert response["WWW-Authenticate"].startswith("X-Proxy-Key")


def test_unknown_key_is_401_client_key_invalid(api, live_session, make_key):
    make_key()

    response = _quote(api, **{KEY_HEADER: "bzp_" + "A" * 43})

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_invalid")
    assert response["WWW-Authenticate"].startswith("X-Proxy-Key")


def test_revoked_key_is_401_even_right_after_a_cached_success(
    api, live_session, make_key, django_capture_on_commit_callbacks
):
    key, raw = make_key()
    assert _quote(api, **{KEY_HEADER: raw}).status_code == HTTPStatus.OK  # lookup now cached

    with django_capture_on_commit_callbacks(execute=True):  # the revocation commits
        client_key_revoke(key=key, revoked_by="test")
    response = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_revoked")
    assert response["WWW-Authenticate"].startswith("X-Proxy-Key")


def test_deactivated_key_is_401_client_key_revoked(api, live_session, make_key):
    key, raw = make_key()
    key.is_active = False
    key.save()

    response = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_revoked")


def test_key_without_scope_is_403_scope_denied(api, live_session, make_key):
    _, raw = make_key(scopes=("historical",))

    response = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(response, HTTPStatus.FORBIDDEN, "scope_denied")
    assert response.json()["details"] == {"required_scope": "quotes"}


def test_each_endpoint_asks_for_its_own_scope(api, live_session, make_key):
    _, raw = make_key(scopes=("quotes",))

    depth = api.post("/breeze/depth", QUOTE, format="json", **{KEY_HEADER: raw})
    quote = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(depth, HTTPStatus.FORBIDDEN, "scope_denied")
    assert quote.status_code == HTTPStatus.OK


def test_origin_outside_allow_list_is_403(api, live_session, make_key):
    _, raw = make_key(origins=("https://app.example.com",))

    refused = _quote(api, HTTP_ORIGIN="https://evil.example.com", **{KEY_HEADER: raw})
    allowed = _quote(api, HTTP_ORIGIN="https://APP.example.com/", **{KEY_HEADER: raw})

    _assert_refused(refused, HTTPStatus.FORBIDDEN, "origin_not_allowed")
    assert allowed.status_code == HTTPStatus.OK


def test_browser_key_without_origin_is_403(api, live_session, make_key):
    # A key with an origin list is a browser key, effectively public: a request that carries
    # it without saying which page sent it (curl, a script) is refused.
    _, raw = make_key(origins=("https://app.example.com",))

    response = _quote(api, **{KEY_HEADER: raw})

    _assert_refused(response, HTTPStatus.FORBIDDEN, "origin_not_allowed")


def test_key_without_origin_list_allows_any_origin(api, live_session, make_key):
    _, raw = make_key()

    response = _quote(api, HTTP_ORIGIN="https://anywhere.example.com", **{KEY_HEADER: raw})

    assert response.status_code == HTTPStatus.OK


def test_refusal_in_browsable_api_is_still_401_not_500(api, live_session):
    response = api.post("/breeze/quotes", QUOTE, format="json", HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_health_stays_open_without_key(api, live_session):
    response = api.get("/breeze/health")

    assert response.status_code == HTTPStatus.OK


def test_keys_optional_limits_keyless_callers_per_address(api, live_session, settings):
    settings.BREEZE_REQUIRE_CLIENT_KEY = False
    settings.BREEZE_OPEN_QUOTA = 2

    answers = [_quote(api, REMOTE_ADDR="192.0.2.10") for _ in range(3)]
    elsewhere = _quote(api, REMOTE_ADDR="192.0.2.11")

    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert answers[0]["RateLimit-Limit"] == "2"
    _assert_refused(answers[2], HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert elsewhere.status_code == HTTPStatus.OK


def test_keys_optional_still_checks_a_key_that_is_sent(api, live_session, settings):
    settings.BREEZE_REQUIRE_CLIENT_KEY = False

    response = _quote(api, **{KEY_HEADER: "bzp_" + "B" * 43})

    _assert_refused(response, HTTPStatus.UNAUTHORIZED, "client_key_invalid")


def test_scope_refusal_in_browsable_api_is_still_403_not_500(api, live_session, make_key):
    _, raw = make_key(scopes=("depth",))

    response = api.post(
        "/breeze/quotes", QUOTE, format="json", HTTP_ACCEPT="text/html", **{KEY_HEADER: raw}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db(transaction=True)
def test_revocation_wins_over_a_lookup_that_started_before_it(live_session, make_key):
    """The race: a request reads the key's row (still valid), the key is revoked and the
    revocation commits, and only then does that request write what it read to the store. The
    stale copy must not be served afterwards."""
    import threading

    from access import gate, selectors
    from access.models import ClientKey

    key, raw = make_key()
    read_done, revoked = threading.Event(), threading.Event()
    real_filter = ClientKey.objects.filter

    def slow_filter(*args, **kwargs):
        rows = list(real_filter(*args, **kwargs))  # the row as it was before the revocation
        read_done.set()
        revoked.wait(5)  # ... and the store is written only after the revocation committed

        class Rows(list):
            def first(self):
                return self[0] if self else None

        return Rows(rows)

    def lookup():
        from django.db import connections

        try:
            with patch.object(ClientKey.objects, "filter", slow_filter):
                selectors.client_key_get_by_digest(key.key_digest)
        finally:
            connections.close_all()  # this thread's own connection

    racer = threading.Thread(target=lookup)
    racer.start()
    read_done.wait(5)
    client_key_revoke(key=key, revoked_by="test")  # autocommit: on_commit runs now
    revoked.set()
    racer.join(5)

    with pytest.raises(errors.ClientKeyRevoked):
        gate.admit(raw, source_ip="192.0.2.1", origin=None, scope="quotes")
