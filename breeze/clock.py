"""IST, the only clock Breeze knows: sessions die at midnight IST, days are IST days, and every
time the proxy shows a person is written one way (ISO 8601 with the ``+05:30`` offset)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


def now() -> datetime:
    """The current time, aware, in IST."""
    return datetime.now(tz=IST)


def to_ist(moment: datetime) -> datetime:
    """``moment`` in IST; a naive value is taken to be UTC (Django stores UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(IST)


def next_ist_midnight(moment: datetime | None = None) -> datetime:
    """The next midnight IST after ``moment``: when Breeze expires the day's session."""
    local = to_ist(moment) if moment is not None else now()
    return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def seconds_to_ist_midnight(moment: datetime | None = None) -> float:
    local = to_ist(moment) if moment is not None else now()
    return (next_ist_midnight(local) - local).total_seconds()


def isoformat(moment: datetime | None) -> str | None:
    """The one way the proxy writes a time for people and programs:
    ``2026-11-30T23:59:59+05:30``."""
    if moment is None:
        return None
    return to_ist(moment).isoformat(timespec="seconds")


def ist_date_key(moment: datetime | None = None) -> str:
    """The IST calendar date, for counters that reset at midnight IST."""
    return (to_ist(moment) if moment is not None else now()).date().isoformat()
