"""The staff dashboard in the Django admin (the browser test is test_browser.py)."""

from __future__ import annotations

import importlib
from http import HTTPStatus

import pytest
from django.urls import NoReverseMatch, clear_url_caches, reverse

from monitoring.dashboard import countdown_text

URL = "/admin/dashboard/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", password="pw-ops-1234", is_staff=True)


def test_it_is_routed_as_the_staff_dashboard():
    assert reverse("staff-dashboard") == URL


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")


def test_users_who_are_not_staff_are_sent_to_the_login(client, django_user_model):
    user = django_user_model.objects.create_user("someone", password="pw-x-1234")
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == HTTPStatus.FOUND


def test_staff_see_the_session_countdown_charts_and_gauges(client, staff, api, live_session):
    api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json")
    client.force_login(staff)

    response = client.get(URL)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert 'id="session-countdown"' in page
    assert 'data-expires="' in page
    assert page.count('class="breeze-chart"') == 4
    assert page.count('class="breeze-gauge"') == 2
    assert 'http-equiv="refresh" content="30"' in page
    assert reverse("admin:sessions_admin_breezesession_add") in page
    assert "<script" in page
    for src in (part.split('"')[1] for part in page.split("<script src=")[1:]):
        assert src.startswith("/static/"), src  # nothing from another origin
    assert 'src="http' not in page  # no script or image from another origin
    assert "cdn" not in page.lower()
    assert reverse("staff-dashboard") in page  # the header's Dashboard link


def test_without_a_session_it_says_so_and_offers_activation(client, staff, db):
    client.force_login(staff)

    page = client.get(URL).content.decode()

    assert "no live session" in page
    assert 'id="activate-session"' in page


def test_the_refresh_interval_is_bounded(client, staff):
    client.force_login(staff)

    assert 'content="2"' in client.get(URL + "?refresh=0").content.decode()
    assert 'content="3600"' in client.get(URL + "?refresh=999999").content.decode()
    assert 'content="30"' in client.get(URL + "?refresh=abc").content.decode()


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "expired"), (5, "0h 00m 05s"), (3 * 3600 + 61, "3h 01m 01s")]
)
def test_countdown_text(seconds, text):
    assert countdown_text(seconds) == text


def test_no_dashboard_where_the_admin_is_not_served(settings):
    import breeze_proxy.urls

    settings.BREEZE_ADMIN_SITE_ENABLED = False
    try:
        importlib.reload(breeze_proxy.urls)
        clear_url_caches()
        with pytest.raises(NoReverseMatch):
            reverse("staff-dashboard")
    finally:
        settings.BREEZE_ADMIN_SITE_ENABLED = True
        importlib.reload(breeze_proxy.urls)
        clear_url_caches()
