"""``manage.py instruments sync|status``: one transaction, idempotent, safe twice at once, and a
failed download keeps the master in use."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from breeze_sim.security_master import security_master_zip
from instruments.models import Instrument, MasterVersion
from instruments.services import SyncFailed, instruments_sync

pytestmark = pytest.mark.django_db


def _sync(*args: str) -> dict:
    out = StringIO()
    call_command("instruments", "sync", *args, stdout=out)
    return json.loads(out.getvalue())  # stdout holds the JSON and nothing else


def test_sync_downloads_loads_and_reports(sim):
    result = _sync("--url", sim.security_master_url)

    assert result["status"] == "loaded"
    assert set(result["rows"]) == {"NSE", "BSE", "NFO", "BFO"}
    assert result["skipped"] == {}
    version = MasterVersion.objects.get(is_current=True)
    assert Instrument.objects.filter(version=version).count() == sum(result["rows"].values())
    assert version.source == sim.security_master_url
    assert result["duration_s"] >= 0


def test_sync_again_is_a_no_op(sim):
    first = _sync("--url", sim.security_master_url)
    second = _sync("--url", sim.security_master_url)

    assert second["status"] == "unchanged"
    assert second["version_id"] == first["version_id"]
    assert MasterVersion.objects.count() == 1


def test_sync_from_a_file(tmp_path):
    path = tmp_path / "SecurityMaster.zip"
    path.write_bytes(security_master_zip(__import__("datetime").date(2026, 3, 2), "small"))

    result = _sync("--file", str(path))

    assert result["status"] == "loaded"
    assert result["source"] == str(path)


def test_status_prints_json(sim):
    _sync("--url", sim.security_master_url)
    out = StringIO()
    call_command("instruments", "status", stdout=out)

    status = json.loads(out.getvalue())
    assert status["loaded"] is True
    assert status["stale"] is False
    assert status["loaded_at"].endswith("+05:30")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/SecurityMaster.zip", "download of"),
        ("{sim}/__sim__/health", "not a zip"),
        ("{sim}/MotherAppMaster/NoSuchFile.zip", "HTTP 404"),
    ],
)
def test_failed_sync_says_why_exits_non_zero_and_keeps_the_master(sim, url, reason):
    _sync("--url", sim.security_master_url)
    current = MasterVersion.objects.get(is_current=True)
    rows = Instrument.objects.count()

    with pytest.raises(CommandError, match=reason):
        _sync("--url", url.format(sim=sim.url))

    assert MasterVersion.objects.get(is_current=True) == current
    assert Instrument.objects.count() == rows


def test_download_larger_than_the_cap_is_refused(sim, settings):
    settings.BREEZE_MASTER_MAX_BYTES = 1000

    with pytest.raises(SyncFailed, match="larger than"):
        instruments_sync(url=sim.security_master_url)
    assert not MasterVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_syncs_at_once_load_the_master_once(sim):
    results: list[str] = []
    barrier = threading.Barrier(2)

    def sync() -> None:
        try:
            barrier.wait(5)
            results.append(instruments_sync(url=sim.security_master_url).status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(results) == ["loaded", "unchanged"]
    assert MasterVersion.objects.filter(is_current=True).count() == 1
    version = MasterVersion.objects.get(is_current=True)
    assert Instrument.objects.count() == Instrument.objects.filter(version=version).count()
