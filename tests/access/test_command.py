"""manage.py client_keys: the key printed once, alone on the last line; never listed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from access.keys import key_digest, key_is_well_formed
from access.models import AuditEvent, ClientKey
from tests import leakcheck

pytestmark = pytest.mark.django_db


def _run(*args: str) -> list[str]:
    out = StringIO()
    call_command("client_keys", *args, stdout=out)
    return out.getvalue().splitlines()


def _create(name: str = "backend", *extra: str) -> tuple[list[str], str]:
    lines = _run("create", "--name", name, "--scopes", "quotes,depth,batch", *extra)
    leakcheck.remember_secret(lines[-1], logs_only=True)
    return lines, lines[-1]


def test_create_prints_key_alone_on_last_line_once():
    lines, raw = _create("backend", "--quota", "120", "--origins", "https://a.example.com")

    key = ClientKey.objects.get(name="backend")
    assert key_is_well_formed(raw)
    assert key.key_digest == key_digest(raw)
    assert "shown only this once" in lines[-2]
    assert sum(raw in line for line in lines) == 1
    assert (key.scope_list, key.per_minute_quota) == (["quotes", "depth", "batch"], 120)
    assert key.origin_list == ["https://a.example.com"]
    assert key.created_by == "cli:client_keys"
    assert AuditEvent.objects.filter(action="client_key_created", actor="cli:client_keys").exists()


def test_list_shows_prefix_and_never_the_key():
    _, raw = _create("backend")

    listing = "\n".join(_run("list"))

    assert "backend" in listing
    assert raw[:8] in listing
    assert raw not in listing
    assert raw[8:20] not in listing


@pytest.mark.parametrize("by", ["--name", "--prefix"])
def test_revoke_by_name_or_prefix(by):
    _, raw = _create("backend")

    lines = _run("revoke", by, "backend" if by == "--name" else raw[:8])

    key = ClientKey.objects.get(name="backend")
    assert "Revoked" in lines[-1]
    assert key.revoked_at is not None
    assert not key.is_usable
    assert AuditEvent.objects.filter(action="client_key_revoked").count() == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--scopes", "quotes,trading"],
        ["--scopes", ""],
        ["--scopes", "quotes", "--origins", "not-an-origin"],
        ["--scopes", "quotes", "--quota", "0"],
    ],
    ids=["unknown-scope", "no-scope", "bad-origin", "zero-quota"],
)
def test_create_refuses_bad_input(args):
    with pytest.raises(CommandError):
        call_command("client_keys", "create", "--name", "x", *args, stdout=StringIO())

    assert not ClientKey.objects.exists()


def test_create_refuses_a_taken_name():
    _create("backend")

    with pytest.raises(CommandError, match="name"):
        _create("backend")


def test_revoke_unknown_key_fails():
    with pytest.raises(CommandError, match="No single client key"):
        _run("revoke", "--name", "nobody")
