"""The session's life: midnight IST expiry, the management command, the admin page."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_admin import selectors, services
from sessions_admin.models import BreezeSession

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def test_session_activated_before_midnight_is_dead_after_it(sim):
    late_evening = datetime(2026, 3, 10, 23, 59, 0, tzinfo=IST)
    services.breeze_session_activate(
        api_session=sim.issue_session(), activated_by="test", now=late_evening
    )

    just_before = datetime(2026, 3, 10, 23, 59, 59, tzinfo=IST)
    just_after = datetime(2026, 3, 11, 0, 0, 1, tzinfo=IST)
    assert selectors.breeze_session_get_active(now=just_before) is not None
    assert selectors.breeze_session_get_active(now=just_after) is None
    assert selectors.breeze_session_status(now=just_after)["session_active"] is False


def test_next_midnight_ist_from_utc_evening():
    # 19:00 UTC is 00:30 IST the next day: the session ends at the following midnight.
    now = datetime(2026, 3, 10, 19, 0, tzinfo=ZoneInfo("UTC"))
    assert services.next_ist_midnight(now) == datetime(2026, 3, 12, 0, 0, tzinfo=IST)


def test_command_set_reads_token_file_and_status_hides_it(sim, tmp_path, capsys):
    token = sim.issue_session()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")

    call_command("breeze_session", "set", "--token-file", str(token_file))
    out = capsys.readouterr().out

    assert "activated" in out
    assert token not in out
    assert BreezeSession.objects.filter(status="active").count() == 1


def test_command_set_refuses_bad_token(sim, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("00000000")

    with pytest.raises(CommandError, match="rejected"):
        call_command("breeze_session", "set", "--token-file", str(token_file))


def test_command_does_not_accept_token_in_argv():
    with pytest.raises(CommandError):
        call_command("breeze_session", "set", "12345678")


def test_command_clear_and_regenerate(sim, live_session, capsys):
    call_command("breeze_session", "regenerate")
    assert BreezeSession.objects.filter(status="active").count() == 1
    assert BreezeSession.objects.get(status="active").pk != live_session.pk

    capsys.readouterr()
    call_command("breeze_session", "clear")
    printed = capsys.readouterr()
    assert "Cleared 1" in printed.err
    assert json.loads(printed.out)["session_active"] is False  # stdout: the state, nothing else
    assert selectors.breeze_session_get_active() is None


@pytest.mark.django_db(transaction=True)
def test_command_set_reads_token_from_stdin(sim, tmp_path):
    """A real process: the token arrives on stdin and never in argv or the output."""
    import os

    from django.conf import settings

    token = sim.issue_session()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BREEZE_SIM_URL": sim.url,
        "BREEZE_TIMEOUT_S": "5",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        env=env,
        check=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "breeze_session", "set"],
        input=token + "\n",
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert token not in done.stdout + done.stderr
    assert '"session_active": true' in done.stdout


def test_admin_page_activates_and_never_shows_token(client, sim, django_user_model):
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)
    token = sim.issue_session()

    page = client.get("/admin/sessions_admin/breezesession/add/")
    posted = client.post("/admin/sessions_admin/breezesession/add/", {"api_session_token": token})
    listing = client.get("/admin/sessions_admin/breezesession/")

    assert page.status_code == HTTPStatus.OK
    assert posted.status_code == HTTPStatus.FOUND
    session = BreezeSession.objects.get(status="active")
    assert session.activated_by == "staff:staff"
    assert token not in listing.content.decode()
    detail = client.get(f"/admin/sessions_admin/breezesession/{session.pk}/change/")
    assert token not in detail.content.decode()
    assert "Time left" in detail.content.decode()


def test_admin_page_failed_activation_shows_error_keeps_session(
    client, sim, live_session, django_user_model
):
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)

    client.post(
        "/admin/sessions_admin/breezesession/add/", {"api_session_token": "55554444"}, follow=True
    )

    assert BreezeSession.objects.get(status="active").pk == live_session.pk
    assert BreezeSession.objects.filter(status="failed").exists()


def test_encryption_key_rotation(sim, settings, capsys):
    from cryptography.fernet import Fernet
    from django.db import connection

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.BREEZE_SESSION_ENCRYPTION_KEYS = [old]
    session = services.breeze_session_activate(api_session=sim.issue_session(), activated_by="t")
    token = session.api_session

    settings.BREEZE_SESSION_ENCRYPTION_KEYS = [new, old]  # new key first, old kept for reading
    call_command("breeze_session", "rotate-keys")
    settings.BREEZE_SESSION_ENCRYPTION_KEYS = [new]  # the old key is gone

    assert "Re-encrypted 1" in capsys.readouterr().err
    assert BreezeSession.objects.get(pk=session.pk).api_session == token
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_session FROM sessions_admin_breezesession WHERE id = %s", [session.pk]
        )
        stored = cursor.fetchone()[0]
    assert token not in stored
