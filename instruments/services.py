"""The one place that changes the instrument master: download, check, load, make current.

A sync downloads SecurityMaster.zip to a temporary file (with a deadline and a size cap),
checks it is a zip with the members the proxy needs, and loads it in ONE transaction: the new
rows are written next to the current ones, the new version is made current and the old rows
are deleted, so a failed or partial download leaves the previous master untouched and
readers never see half a master. Two syncs at once are serialised by the database (an
advisory lock on PostgreSQL; SQLite's write lock), and a master already loaded (same digest)
is not loaded again, so the command is idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from instruments.models import Instrument, MasterVersion
from instruments.parsing import MasterUnreadable, ParseReport, open_master, rows

logger = logging.getLogger(__name__)

VERSION_CACHE_KEY = "instruments:current-version"
BATCH = 5000
VERSIONS_KEPT = 30  # the history of loads stays readable in the admin; their rows do not


class SyncFailed(RuntimeError):
    """The master could not be downloaded or read; the previous one stays current."""


@dataclass(frozen=True)
class SyncResult:
    status: str  # "loaded" or "unchanged"
    version_id: int
    digest: str
    source: str
    rows: dict[str, int]
    skipped: dict[str, int]
    duration_s: float
    examples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def instruments_sync(*, url: str | None = None, file: Path | None = None) -> SyncResult:
    """Load the master from ``file`` or download it from ``url`` (default:
    ``BREEZE_SECURITY_MASTER_URL``); raises :class:`SyncFailed` with the reason."""
    started = time.monotonic()
    source = str(file) if file is not None else (url or settings.BREEZE_SECURITY_MASTER_URL)
    with _opened(file, source) as handle:
        digest = _digest(handle)
        try:
            archive = open_master(handle)
            result = _load(archive, digest, source, started)
        except MasterUnreadable as exc:
            raise SyncFailed(f"{source}: {exc}") from exc
    logger.info(
        "instruments sync",
        extra={"status": result.status, "rows": result.rows, "skipped": result.skipped,
               "duration_s": result.duration_s, "digest": result.digest[:12]},
    )  # fmt: skip
    return result


@contextlib.contextmanager
def _opened(file: Path | None, source: str) -> Iterator[IO[bytes]]:
    if file is not None:
        try:
            with file.open("rb") as handle:
                yield handle
        except OSError as exc:
            raise SyncFailed(f"cannot read {file}: {exc.strerror}") from exc
        return
    with tempfile.TemporaryFile() as spool:
        _download(source, spool)
        spool.seek(0)
        yield spool


def _download(url: str, into: IO[bytes]) -> None:
    """Stream ``url`` into ``into``, within BREEZE_MASTER_TIMEOUT_S and BREEZE_MASTER_MAX_BYTES."""
    deadline = time.monotonic() + settings.BREEZE_MASTER_TIMEOUT_S
    limit = settings.BREEZE_MASTER_MAX_BYTES
    try:
        with requests.get(url, stream=True, timeout=(10, 30)) as response:
            if response.status_code != 200:
                raise SyncFailed(f"{url} answered HTTP {response.status_code}")
            size = 0
            for chunk in response.iter_content(chunk_size=256 * 1024):
                size += len(chunk)
                if size > limit:
                    raise SyncFailed(f"{url} is larger than {limit:,} bytes")
                if time.monotonic() > deadline:
                    raise SyncFailed(
                        f"{url} took longer than {settings.BREEZE_MASTER_TIMEOUT_S:g} s"
                    )
                into.write(chunk)
    except requests.RequestException as exc:
        raise SyncFailed(f"download of {url} failed: {type(exc).__name__}") from exc


def _digest(handle: IO[bytes]) -> str:
    hasher = hashlib.sha256()
    for block in iter(lambda: handle.read(1024 * 1024), b""):
        hasher.update(block)
    handle.seek(0)
    return hasher.hexdigest()


def _load(archive: zipfile.ZipFile, digest: str, source: str, started: float) -> SyncResult:
    report = ParseReport()
    with transaction.atomic():
        _serialise_syncs()
        current = MasterVersion.objects.filter(is_current=True).first()
        if current is not None and current.digest == digest:
            return _result("unchanged", current, time.monotonic() - started)
        version = MasterVersion.objects.create(
            digest=digest, source=source[:500], loaded_at=timezone.now()
        )
        batch: list[Instrument] = []
        for row in rows(archive, report):
            batch.append(Instrument(version=version, **dataclasses.asdict(row)))
            if len(batch) >= BATCH:
                Instrument.objects.bulk_create(batch)
                batch.clear()
        Instrument.objects.bulk_create(batch)
        if not report.rows:
            raise MasterUnreadable("no instrument could be read")
        Instrument.objects.exclude(version=version).delete()
        MasterVersion.objects.filter(is_current=True).update(is_current=False)
        version.is_current = True
        version.rows = dict(report.rows)
        version.skipped = dict(report.skipped)
        version.duration_s = round(time.monotonic() - started, 3)
        version.save()
        old = MasterVersion.objects.order_by("-loaded_at", "-id").values_list("pk", flat=True)
        MasterVersion.objects.filter(pk__in=list(old[VERSIONS_KEPT:])).delete()
        transaction.on_commit(lambda: cache.set(VERSION_CACHE_KEY, version.pk, None))
    return _result("loaded", version, version.duration_s, tuple(report.examples))


def _serialise_syncs() -> None:
    """One sync at a time, fleet-wide: PostgreSQL's transaction-scoped advisory lock (SQLite
    takes its write lock when the transaction begins, see settings)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('breeze-instruments-sync'))")


def _result(
    status: str, version: MasterVersion, duration_s: float, examples: tuple[str, ...] = ()
) -> SyncResult:
    return SyncResult(
        status=status,
        version_id=version.pk,
        digest=version.digest,
        source=version.source,
        rows=dict(version.rows),
        skipped=dict(version.skipped),
        duration_s=round(duration_s, 3),
        examples=examples,
    )
