"""Production hardening: `check --deploy`, security headers, no secret in any answer."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "BREEZE_API_KEY": "prod-like-key",
        "BREEZE_API_SECRET": "prod-like-secret",
        "BREEZE_PROXY_ADMIN_KEY": secrets.token_urlsafe(24),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "proxy.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "BREEZE_API_KEY": "k",
        "BREEZE_API_SECRET": "s",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


@pytest.mark.parametrize("path", ["/", "/breeze/health", "/breeze/quotes", "/api/schema/"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "X-Request-ID" in response


def test_error_pages_never_show_debug_details(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/json"
    assert b"Traceback" not in response.content


def test_schema_and_admin_pages_hold_no_secret(client, settings, live_session, django_user_model):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(staff)
    pages = [
        client.get("/api/schema/"),
        client.get("/api/docs/"),
        client.get("/admin/sessions_admin/breezesession/"),
        client.get(f"/admin/sessions_admin/breezesession/{live_session.pk}/change/"),
    ]

    text = b"".join(page.content for page in pages).decode()
    for secret in (
        settings.BREEZE_API_SECRET,
        settings.BREEZE_PROXY_ADMIN_KEY,
        live_session.api_session,
        live_session.session_key,
    ):
        assert secret not in text


def test_leak_sweep_detects_a_secret_in_a_response_or_log():
    from tests import leakcheck

    leakcheck.remember_secret("canary-secret-4711")
    leakcheck._responses.append('{"X-Debug": "canary-secret-4711"}\n{}')
    leakcheck._log_lines.append("session key 99887766 used")
    leakcheck.remember_secret("99887766", logs_only=True)
    try:
        leaks = leakcheck.find_leaks()
    finally:
        leakcheck._responses.pop()
        leakcheck._log_lines.pop()
        leakcheck._secrets.discard("canary-secret-4711")
        leakcheck._log_only_secrets.discard("99887766")

    assert any(leak.startswith("cana") for leak in leaks)
    assert any("session key 99" in leak for leak in leaks)
    assert leakcheck.find_leaks() == []
