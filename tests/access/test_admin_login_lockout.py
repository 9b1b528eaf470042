"""The Django admin login (django-axes): the sixth wrong password from an address is refused."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def _login(client, password: str, ip: str = "203.0.113.9"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "staff", "password": password},
        REMOTE_ADDR=ip,
    )


def test_sixth_bad_admin_login_is_locked_out(client):
    get_user_model().objects.create_user("staff", password="right-password-1", is_staff=True)

    failures = [_login(client, f"wrong-{n}") for n in range(5)]
    sixth = _login(client, "wrong-6")
    right_password = _login(client, "right-password-1")
    elsewhere = _login(client, "right-password-1", ip="198.51.100.9")

    # the form again four times; the fifth failure already answers with the lockout
    assert [r.status_code for r in failures] == [HTTPStatus.OK] * 4 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert sixth.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert right_password.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.FOUND  # logged in, redirected to /admin/


def test_lockout_is_per_username_and_address(client):
    # Behind Cloud Run's front end many people may share one address: one user's wrong
    # passwords must not lock out a colleague there.
    user = get_user_model()
    user.objects.create_user("staff", password="right-password-1", is_staff=True)
    user.objects.create_user("colleague", password="right-password-2", is_staff=True)
    for n in range(5):
        _login(client, f"wrong-{n}")

    colleague = client.post(
        "/admin/login/?next=/admin/",
        {"username": "colleague", "password": "right-password-2"},
        REMOTE_ADDR="203.0.113.9",
    )

    assert colleague.status_code == HTTPStatus.FOUND
