"""The Django admin: a new key is shown once and never again; the audit trail is read-only."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model

from access.keys import key_digest
from access.models import AuditEvent, ClientKey
from access.services import client_key_create
from tests import leakcheck

pytestmark = pytest.mark.django_db

ADD = "/admin/access/clientkey/add/"
CHANGELIST = "/admin/access/clientkey/"
KEY = re.compile(r"bzp_[A-Za-z0-9_-]{43}")


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("root", password="x-pass-123456")
    client.force_login(staff)
    return client


def test_adding_a_key_shows_it_once(staff_client):
    # Given a staff member adding a key
    response = staff_client.post(
        ADD,
        {
            "name": "dashboard",
            "scopes": ["quotes", "depth"],
            "allowed_origins": "https://app.example.com",
            "per_minute_quota": "300",
        },
        follow=True,
    )

    # Then the next page shows the key once, and it works as the key of the new row
    assert response.status_code == HTTPStatus.OK
    shown = KEY.findall(response.content.decode())
    assert len(shown) == 1
    raw = shown[0]
    leakcheck.remember_secret(raw, logs_only=True)
    key = ClientKey.objects.get(name="dashboard")
    assert key.key_digest == key_digest(raw)
    assert (key.scope_list, key.per_minute_quota) == (["quotes", "depth"], 300)
    assert key.created_by == "staff:root"

    # And never again: not in the list, not on its own page
    listing = staff_client.get(CHANGELIST).content.decode()
    detail = staff_client.get(f"{CHANGELIST}{key.pk}/change/").content.decode()
    assert raw not in listing
    assert raw not in detail
    assert key.prefix in listing
    assert key.key_digest not in listing
    assert key.key_digest not in detail


def test_revoke_action(staff_client):
    key, raw = client_key_create(name="old", scopes=["quotes"], created_by="test")
    leakcheck.remember_secret(raw)

    response = staff_client.post(
        CHANGELIST, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )

    assert response.status_code == HTTPStatus.OK
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="client_key_revoked", actor="staff:root").exists()


def test_audit_trail_is_read_only(staff_client):
    AuditEvent.objects.create(action="session_cleared", actor="test")
    event = AuditEvent.objects.get()

    listing = staff_client.get("/admin/access/auditevent/?action=session_cleared")
    add = staff_client.get("/admin/access/auditevent/add/")
    delete = staff_client.post(f"/admin/access/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert listing.status_code == HTTPStatus.OK
    assert add.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert AuditEvent.objects.filter(pk=event.pk).exists()
