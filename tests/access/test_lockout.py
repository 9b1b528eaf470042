"""X-Proxy-Admin-Key lockout: five wrong keys lock an address out, even from the right key."""

from __future__ import annotations

import logging
from http import HTTPStatus

import pytest

from access.models import AuditEvent

pytestmark = pytest.mark.django_db

SESSION = "/breeze/admin/session"


def _status(api, key: str, ip: str = "203.0.113.7", **extra):
    return api.get(SESSION, HTTP_X_PROXY_ADMIN_KEY=key, REMOTE_ADDR=ip, **extra)


def _security_events(caplog, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


def test_sixth_attempt_after_five_wrong_keys_is_locked_out_even_with_right_key(
    api, admin_key, caplog
):
    # Given five wrong admin keys from one address
    with caplog.at_level(logging.WARNING, logger="access.security"):
        wrong = [_status(api, f"wrong-{n}") for n in range(5)]

        # When that address then sends the right key
        locked = _status(api, admin_key)

    # Then it is refused before the key is compared
    assert [r.status_code for r in wrong] == [HTTPStatus.UNAUTHORIZED] * 5
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert locked.json()["code"] == "admin_locked_out"
    assert set(locked.json()) == {"error", "message", "details", "code"}
    assert 1 <= int(locked["Retry-After"]) <= 15 * 60
    failures = _security_events(caplog, "admin_key_failure")
    lockouts = _security_events(caplog, "admin_lockout")
    assert len(failures) == 5
    assert {r.source_ip for r in failures} == {"203.0.113.7"}
    assert len(lockouts) == 2  # when the lockout started, and the refused attempt
    assert all(r.getMessage() == "security event" for r in failures + lockouts)
    assert not any(admin_key in str(r.__dict__) for r in caplog.records)
    assert AuditEvent.objects.filter(action="admin_key_failure", outcome="failure").count() == 5
    lockout = AuditEvent.objects.get(action="admin_lockout")
    assert (lockout.source_ip, lockout.outcome) == ("203.0.113.7", "refused")


def test_other_address_with_right_key_still_gets_in(api, admin_key):
    for n in range(5):
        _status(api, f"wrong-{n}")

    response = _status(api, admin_key, ip="198.51.100.20")

    assert response.status_code == HTTPStatus.OK


def test_right_key_before_the_limit_resets_the_count(api, admin_key):
    for n in range(4):
        _status(api, f"wrong-{n}")
    assert _status(api, admin_key).status_code == HTTPStatus.OK

    after = [_status(api, f"again-{n}").status_code for n in range(4)]

    assert after == [HTTPStatus.UNAUTHORIZED] * 4


def test_global_limit_refuses_every_address(api, admin_key, settings):
    # Given failures from many addresses (one each) that together reach the global limit
    settings.BREEZE_ADMIN_LOCKOUT_GLOBAL = 6
    guesses = [_status(api, "wrong", ip=f"2001:db8::{n + 1:x}").status_code for n in range(8)]

    # When an address that failed once, and a clean one, send the right key
    failed_before = _status(api, admin_key, ip="2001:db8::1")
    clean = _status(api, admin_key, ip="192.0.2.200")

    # Then exactly six guesses were judged, and nobody gets in until the window ends (staff
    # use the Django admin or the command meanwhile)
    assert guesses == [HTTPStatus.UNAUTHORIZED] * 6 + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    assert failed_before.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert failed_before.json()["code"] == "admin_locked_out"
    assert clean.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_forwarded_for_is_ignored_unless_trusted(api, admin_key, settings):
    for n in range(5):
        _status(api, f"wrong-{n}", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert _status(api, admin_key, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == (
        HTTPStatus.TOO_MANY_REQUESTS
    )

    settings.BREEZE_TRUST_X_FORWARDED_FOR = True
    # The last hop is the address Cloud Run saw; the caller controls only the earlier ones.
    trusted = _status(api, admin_key, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.9.9.9")

    assert trusted.status_code == HTTPStatus.OK


def test_missing_key_is_not_counted_as_a_failure(api, admin_key):
    for _ in range(6):
        api.get(SESSION, REMOTE_ADDR="203.0.113.7")

    assert _status(api, admin_key).status_code == HTTPStatus.OK
