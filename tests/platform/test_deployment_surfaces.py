"""What a Cloud Run deployment relies on: probes that pass whatever Host they name, a public
service without the Django admin (and optionally without the admin API), the caller's address
behind one or two proxies, and database options that survive the connection pool."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import clear_url_caches

from common.network import client_ip

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db

PROBE_HOST = "169.254.8.1:8080"  # a container address, not one of the service's names


@pytest.fixture
def production_hosts(settings):
    settings.ALLOWED_HOSTS = ["proxy.example.com"]
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.parametrize("path", ["/", "/breeze/health", "/api/breeze/health"])
def test_probes_pass_whatever_host_they_name(client, production_hosts, path):
    response = client.get(path, HTTP_HOST=PROBE_HOST)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "ok"
    assert response["X-Content-Type-Options"] == "nosniff"  # still after SecurityMiddleware


def test_every_other_path_still_validates_the_host(client, production_hosts):
    response = client.get(
        "/breeze/instruments?q=REL", HTTP_HOST=PROBE_HOST, HTTP_X_FORWARDED_PROTO="https"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "bad_request"


def test_probes_over_plain_http_are_not_redirected_but_the_api_is(client, production_hosts):
    host = {"HTTP_HOST": "proxy.example.com"}

    assert client.get("/breeze/health", **host).status_code == HTTPStatus.OK
    redirected = client.get("/breeze/instruments?q=REL", **host)
    assert redirected.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert redirected["Location"].startswith("https://proxy.example.com/")


@pytest.fixture
def routes(settings):
    """Rebuild the URL configuration under changed flags, and restore it afterwards."""
    import breeze_proxy.urls
    import sessions_admin.urls
    from breeze_proxy import views

    def rebuild(**flags: bool) -> None:
        for name, value in flags.items():
            setattr(settings, name, value)
        importlib.reload(sessions_admin.urls)
        importlib.reload(breeze_proxy.urls)
        clear_url_caches()
        views._body.cache_clear()

    yield rebuild
    rebuild(BREEZE_ADMIN_SITE_ENABLED=True, BREEZE_ADMIN_API_ENABLED=True)


def test_a_public_service_has_no_django_admin(client, routes, admin_key):
    routes(BREEZE_ADMIN_SITE_ENABLED=False)

    assert client.get("/admin/login/").status_code == HTTPStatus.NOT_FOUND
    assert "/admin/" not in client.get("/").json()["note"]
    # The frontend's daily activation still works on the public URL
    status = client.get("/breeze/admin/session", HTTP_X_PROXY_ADMIN_KEY=admin_key)
    assert status.status_code == HTTPStatus.OK


def test_the_admin_api_can_be_left_out_of_a_public_service(client, routes, admin_key):
    routes(BREEZE_ADMIN_SITE_ENABLED=False, BREEZE_ADMIN_API_ENABLED=False)

    for path in ("/breeze/admin/api-session", "/api/breeze/admin/api-session"):
        response = client.post(
            path, {"api_session": "x"}, content_type="application/json",
            HTTP_X_PROXY_ADMIN_KEY=admin_key,
        )  # fmt: skip
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json()["code"] == "not_found"
    endpoints = client.get("/").json()["endpoints"]
    assert not [line for line in endpoints if "/admin/" in line]
    assert "GET /breeze/health" in endpoints


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the first hop is the caller's text
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),  # load balancer, Cloud Run
        (2, "203.0.113.7", "192.0.2.50"),  # fewer hops: did not come through both proxies
        (1, "not-an-address", "192.0.2.50"),
        (1, "", "192.0.2.50"),
    ],
)
def test_the_caller_is_the_address_the_trusted_proxies_saw(settings, hops, forwarded, expected):
    settings.BREEZE_TRUST_X_FORWARDED_FOR = True
    settings.BREEZE_TRUSTED_PROXY_HOPS = hops
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_forwarded_for_is_ignored_unless_trusted(settings):
    settings.BREEZE_TRUST_X_FORWARDED_FOR = False
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_ip(request) == "192.0.2.50"


def test_database_url_options_are_kept_with_the_pool():
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "DATABASE_URL": "postgres://u@db.internal:5432/proxy?sslmode=require&connect_timeout=5",
        "DB_POOL": "true",
        "DB_POOL_MAX_SIZE": "7",
    }
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip

    options = json.loads(done.stdout.strip().splitlines()[-1])
    assert options["sslmode"] == "require"
    assert str(options["connect_timeout"]) == "5"
    assert options["pool"]["max_size"] == 7


def test_answers_given_before_the_admin_middleware_carry_the_security_headers(client, sim):
    # The front door answers market requests (here: a refusal) before Django's later middleware
    response = client.post("/breeze/quotes", {"stock_code": "TCS"}, content_type="application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
