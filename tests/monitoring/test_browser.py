"""The staff dashboard in a real browser: Playwright driving Debian's chromium (.ci/run
installs it) against a live server. A member of staff logs in through the admin login form,
sees the session countdown ticking and the charts, and the page refreshes itself without a
single error in the browser console."""

from __future__ import annotations

import re
import shutil

import pytest
import requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no network here but the loopback
    "--disable-component-update",
    "--disable-sync",
]
COUNTDOWN = re.compile(r"^\d+h \d{2}m \d{2}s$")

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (`apt-get install chromium`; .ci/run does it)",
    ),
]


def _note_console(message, problems: list[str]) -> None:
    """Errors and warnings, except the browser's own favicon probe (Django's login page
    declares no icon, so the browser asks for /favicon.ico; the dashboard declares an inline
    one, checked below, so it never does)."""
    if message.type not in ("error", "warning"):
        return
    if (message.location or {}).get("url", "").endswith("/favicon.ico"):
        return
    problems.append(f"console {message.type}: {message.text} at {message.location}")


@pytest.fixture
def staff_login(django_user_model, transactional_db):
    django_user_model.objects.create_user("ops", password="pw-ops-browser-1", is_staff=True)
    return "ops", "pw-ops-browser-1"


def test_staff_see_a_live_dashboard_that_refreshes_without_errors(
    live_server, live_session, staff_login, monkeypatch
):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM is not used under it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    base = live_server.url
    for code in ("RELIND", "RELIND", "TCS"):
        assert requests.post(f"{base}/breeze/quotes", json={"stock_code": code}, timeout=10).ok
    requests.get(f"{base}/no/such/page", timeout=10)
    username, password = staff_login
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: _note_console(m, problems))
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )

            page.goto(f"{base}/admin/login/?next=/admin/dashboard/%3Frefresh%3D3")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("input[type=submit]")
            page.wait_for_url(re.compile(r"/admin/dashboard/"))

            countdown = page.locator("#session-countdown")
            first = countdown.inner_text()
            assert COUNTDOWN.match(first), first
            page.wait_for_function(
                "t => document.querySelector('#session-countdown').textContent !== t",
                arg=first,
                timeout=5000,
            )  # the script ticks it
            assert page.locator("svg.breeze-chart").count() == 4
            assert page.locator("svg.breeze-gauge").count() == 2
            assert page.locator("link[rel=icon]").get_attribute("href") == "data:,"
            assert page.locator("#chart-requests rect").count() >= 1  # the requests above
            assert (
                page.locator("#activate-session")
                .get_attribute("href")
                .endswith("/admin/sessions_admin/breezesession/add/")
            )
            assert page.locator("#breeze-links a", has_text="Dashboard").count() in (0, 1)

            page.evaluate("window.__beforeRefresh = true")
            page.wait_for_function("window.__beforeRefresh === undefined", timeout=15000)
            page.wait_for_load_state("load")
            assert COUNTDOWN.match(page.locator("#session-countdown").inner_text())
            assert page.locator("svg.breeze-chart").count() == 4
            page.wait_for_timeout(1200)  # a tick after the refresh, errors included
        finally:
            browser.close()

    assert not problems, problems
