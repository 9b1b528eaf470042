"""The audit trail of the daily session: activation (success and failure) and clearing."""

from __future__ import annotations

import logging
from http import HTTPStatus
from unittest import mock

import pytest

from access.audit import audit_record
from access.models import AuditEvent
from sessions_admin.services import breeze_session_regenerate

pytestmark = pytest.mark.django_db

API_SESSION = "/breeze/admin/api-session"


def _activate(api, token: str, key: str):
    return api.post(
        API_SESSION,
        {"api_session": token},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=key,
        REMOTE_ADDR="198.51.100.5",
    )


def test_activation_success_is_audited(api, sim, admin_key):
    token = sim.issue_session()

    _activate(api, token, admin_key)

    event = AuditEvent.objects.get(action="session_activated")
    assert event.outcome == "success"
    assert event.actor == "admin-api from 198.51.100.5"
    assert event.source_ip == "198.51.100.5"
    assert token not in event.details


def test_activation_failure_is_audited(api, sim, admin_key):
    response = _activate(api, "99999999", admin_key)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    event = AuditEvent.objects.get(action="session_activation_failed")
    assert (event.outcome, event.source_ip) == ("failure", "198.51.100.5")
    assert event.details == "session_token_rejected"
    assert "99999999" not in event.details


def test_clear_is_audited(api, sim, admin_key):
    _activate(api, sim.issue_session(), admin_key)

    api.delete(API_SESSION, HTTP_X_PROXY_ADMIN_KEY=admin_key, REMOTE_ADDR="198.51.100.5")

    event = AuditEvent.objects.get(action="session_cleared")
    assert (event.outcome, event.source_ip) == ("success", "198.51.100.5")
    assert event.details == "1 live session(s) cleared"


def test_regenerate_is_audited(live_session):
    breeze_session_regenerate(activated_by="cli:regenerate")

    assert AuditEvent.objects.filter(action="session_regenerated", actor="cli:regenerate").exists()


def test_failing_audit_write_is_logged_not_raised(caplog):
    with (
        mock.patch.object(AuditEvent.objects, "create", side_effect=RuntimeError("db down")),
        caplog.at_level(logging.ERROR, logger="access.audit"),
    ):
        audit_record(action="session_cleared", actor="test")

    assert any(r.getMessage() == "audit record failed" for r in caplog.records)


def test_unparseable_source_ip_is_stored_as_null():
    audit_record(action="session_cleared", actor="test", source_ip="not-an-ip")

    assert AuditEvent.objects.get().source_ip is None
