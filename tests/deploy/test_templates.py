"""The project's templates/ folder: Django finds it, and the admin and the browsable API render
the project's templates from it (the image test checks the same through gunicorn)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
HTTPS = {"secure": True}  # as Cloud Run's front end forwards it (X-Forwarded-Proto: https)


def template_origins(response) -> set[Path]:
    return {Path(t.origin.name) for t in response.templates if t.origin and t.origin.name}


def test_settings_look_in_the_project_templates_folder() -> None:
    dirs = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    assert Path(settings.BASE_DIR) / "templates" in dirs
    assert TEMPLATES.is_dir()


def test_the_admin_login_page_is_branded(client: Client) -> None:
    response = client.get("/admin/login/", **HTTPS)

    assert response.status_code == 200
    assert TEMPLATES / "admin" / "base_site.html" in template_origins(response)
    content = response.content.decode()
    assert "<title>Log in | Breeze Proxy</title>" in content
    assert '<div id="site-name"><a href="/admin/">Breeze Proxy</a></div>' in content
    assert "Django administration" not in content
    assert 'id="breeze-links"' not in content  # the link area is for signed-in staff only


@pytest.mark.django_db
def test_signed_in_staff_see_the_link_area(admin_client: Client) -> None:
    response = admin_client.get("/admin/", **HTTPS)

    assert response.status_code == 200
    assert TEMPLATES / "admin" / "breeze_links.html" in template_origins(response)
    content = response.content.decode()
    assert '<nav id="breeze-links"' in content
    assert 'href="/breeze/health">Session health</a>' in content
    assert 'href="/api/docs/">API docs</a>' in content
    assert "<title>Site administration | Breeze Proxy</title>" in content


@pytest.mark.django_db
def test_the_browsable_api_is_branded(client: Client) -> None:
    response = client.get("/breeze/health", HTTP_ACCEPT="text/html", **HTTPS)

    assert response.status_code == 200
    assert TEMPLATES / "rest_framework" / "api.html" in template_origins(response)
    content = response.content.decode()
    assert "Breeze Proxy</title>" in content
    assert "Django REST framework" not in content


def test_the_root_stays_json(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"
