"""The candle store: write closed candles once, remember what is complete, read ranges back.

Writes are idempotent (a candle already stored is skipped), so two instances that fetched the
same page at once both write it harmlessly. Coverage is what lets an empty answer count: a
range Breeze had nothing for is recorded as covered and never asked for again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from breeze import clock
from breeze.calendar import SlotClock
from breeze.operations import Contract
from market.history import paging
from market.models import Candle, CandleCoverage, CandleSeries

CANDLE_KEYS = frozenset({"datetime", "open", "high", "low", "close", "volume", "open_interest"})
WRITE_BATCH = 2000


def series_for(contract: Contract, interval: str) -> CandleSeries:
    series, _ = CandleSeries.objects.get_or_create(
        contract=contract.canonical(),
        interval=interval,
        defaults={"stock_code": contract.stock_code, "exchange": contract.exchange_code},
    )
    return series


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=clock.IST)


def _wall_clock(moment: datetime) -> datetime:
    return moment.astimezone(clock.IST).replace(tzinfo=None)


def covered(series: CandleSeries, slots: SlotClock, first: int, last: int) -> list[tuple[int, int]]:
    """The runs of slots in [first, last] the store holds completely."""
    if series.pk is None:
        return []
    start, end = _aware(slots.start_of(first)), _aware(slots.start_of(last))
    rows = CandleCoverage.objects.filter(series=series, end__gte=start, start__lte=end)
    runs = [
        (
            slots.first_at_or_after(_wall_clock(row.start)),
            slots.last_at_or_before(_wall_clock(row.end)),
        )
        for row in rows
    ]
    return paging.merge([(a, b) for a, b in runs if a <= b])


def parse_rows(rows: list[dict[str, Any]]) -> dict[datetime, dict[str, Any]]:
    """Breeze's rows by candle start (naive IST); a repeated timestamp keeps its last row."""
    parsed: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        try:
            moment = datetime.strptime(str(row["datetime"])[:19], "%Y-%m-%d %H:%M:%S")
        except (KeyError, ValueError):
            continue  # a row without a usable time cannot be placed; Breeze's own quirk
        parsed[moment] = row
    return dict(sorted(parsed.items()))


def _values(row: dict[str, Any]) -> dict[str, Any]:
    """A Breeze row's candle as the store keeps it."""
    oi = row.get("open_interest")
    return {
        "open": float(row.get("open") or 0),
        "high": float(row.get("high") or 0),
        "low": float(row.get("low") or 0),
        "close": float(row.get("close") or 0),
        "volume": int(float(row.get("volume") or 0)),
        "open_interest": int(float(oi)) if oi not in (None, "") else None,
    }


def as_stored(series: CandleSeries, moment: datetime, row: dict[str, Any]) -> dict[str, Any]:
    """A fetched row exactly as it reads back from the store, so an answer looks the same
    whether its candles were fetched now or stored before (1250 and 1250.0 differ in JSON)."""
    v = _values(row)
    fields = series.fields or {k: val for k, val in row.items() if k not in CANDLE_KEYS}
    return as_row(
        fields, moment, v["open"], v["high"], v["low"], v["close"], v["volume"],
        v["open_interest"],
    )  # fmt: skip


def save(
    series: CandleSeries,
    rows: dict[datetime, dict[str, Any]],
    *,
    covers: tuple[datetime, datetime] | None,
) -> int:
    """Store the candles of ``rows`` and record ``covers`` (a range of candle starts now
    complete in the store); returns how many candles were written (or found already there)."""
    if not series.fields and rows:
        sample = next(iter(rows.values()))
        series.fields = {k: v for k, v in sample.items() if k not in CANDLE_KEYS}
        series.save(update_fields=["fields"])
    candles = [
        Candle(series=series, at=_aware(moment), **_values(row)) for moment, row in rows.items()
    ]
    # No transaction: the candles are written before the coverage that claims them, each write
    # is idempotent, so a failure in between only means the range is fetched again. Two
    # instances recording the same range at once leave two rows that ``covered`` merges.
    for index in range(0, len(candles), WRITE_BATCH):
        Candle.objects.bulk_create(candles[index : index + WRITE_BATCH], ignore_conflicts=True)
    if covers is not None and covers[0] <= covers[1]:
        CandleCoverage.objects.create(series=series, start=_aware(covers[0]), end=_aware(covers[1]))
    return len(candles)


def count(series: CandleSeries, start: datetime, end: datetime) -> int:
    return Candle.objects.filter(series=series, at__gte=_aware(start), at__lte=_aware(end)).count()


def read(
    series: CandleSeries, start: datetime, end: datetime, *, chunked: bool = True
) -> Iterator[dict[str, Any]]:
    """The stored candles with starts in [start, end], oldest first, as Breeze rows, read in
    chunks (a five-year minute series never sits in memory at once); ``chunked=False`` reads
    a small range in one query (a server-side cursor costs three round trips)."""
    candles = (
        Candle.objects.filter(series=series, at__gte=_aware(start), at__lte=_aware(end))
        .order_by("at")
        .values_list("at", "open", "high", "low", "close", "volume", "open_interest")
    )
    fields = series.fields
    found = candles.iterator(chunk_size=WRITE_BATCH) if chunked else candles
    for at, o, h, lo, c, volume, oi in found:
        yield as_row(fields, _wall_clock(at), o, h, lo, c, volume, oi)


def as_row(
    fields: dict[str, Any],
    moment: datetime,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: int,
    oi: int | None,
) -> dict[str, Any]:
    """A stored candle in Breeze's v2 shape (its keys in alphabetical order, as v2 sends)."""
    row = {
        **fields,
        "datetime": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": volume,
    }
    if oi is not None:
        row["open_interest"] = oi
    return dict(sorted(row.items()))


def prune(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete candles older than their interval's retention (BREEZE_CANDLE_RETENTION_DAYS;
    0 keeps forever) and the coverage that claimed them; returns candles deleted per interval."""
    now = now or timezone.now()
    deleted: dict[str, int] = {}
    for interval, days in settings.BREEZE_CANDLE_RETENTION_DAYS.items():
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        candles = Candle.objects.filter(series__interval=interval, at__lt=cutoff)
        deleted[interval] = candles.count()
        if dry_run:
            continue
        with transaction.atomic():
            candles.delete()
            coverage = CandleCoverage.objects.filter(series__interval=interval, start__lt=cutoff)
            coverage.filter(end__lt=cutoff).delete()
            coverage.update(start=cutoff)
    return deleted
