"""IST calendar and clock helpers shared by the simulator.

Breeze reads every wall-clock time as IST (the trailing ``Z`` on request dates is ignored) and
answers with naive IST strings, so the simulator works with *naive* datetimes that hold IST wall
clock time throughout. Holidays are not modelled: every weekday is a trading day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
SESSION_SECONDS = 6 * 3600 + 15 * 60  # 09:15 -> 15:30
SESSION_MINUTES = SESSION_SECONDS // 60  # 375

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_INDEX = {name.upper(): i + 1 for i, name in enumerate(MONTHS)}

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real current time as naive IST wall clock (the default clock)."""
    return datetime.now(IST).replace(tzinfo=None)


def to_ist_naive(moment: datetime) -> datetime:
    """Normalise a clock reading: aware values are converted to IST, naive ones are IST already."""
    if moment.tzinfo is not None:
        return moment.astimezone(IST).replace(tzinfo=None)
    return moment


def is_trading_day(day: date) -> bool:
    """Weekdays trade; weekends do not (exchange holidays are not simulated)."""
    return day.weekday() < 5


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def next_trading_day(day: date) -> date:
    """``day`` itself if it trades, else the next weekday."""
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def session_start(day: date) -> datetime:
    return datetime.combine(day, SESSION_OPEN)


def session_end(day: date) -> datetime:
    return datetime.combine(day, SESSION_CLOSE)


def last_tuesday(year: int, month: int) -> date:
    """NSE monthly expiry day (last Tuesday of the month, the rule since September 2025)."""
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 1) % 7)


def fmt_dd_mon_yyyy(day: date) -> str:
    """``27-Feb-2025`` (quotes, option chain, SecurityMaster)."""
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def fmt_dd_mon_yy_upper(day: date) -> str:
    """``27-FEB-25`` (historical v1 expiry_date)."""
    return f"{day.day:02d}-{MONTHS[day.month - 1].upper()}-{day.year % 100:02d}"


def fmt_dd_mon_yyyy_upper(day: date) -> str:
    """``27-FEB-2025`` (historical v2 expiry_date)."""
    return f"{day.day:02d}-{MONTHS[day.month - 1].upper()}-{day.year}"


def fmt_ltt(moment: datetime) -> str:
    """``05-Feb-2025 09:36:56`` (quote last-traded-time, IST)."""
    return f"{fmt_dd_mon_yyyy(moment.date())} {moment:%H:%M:%S}"


def fmt_candle(moment: datetime) -> str:
    """``2025-02-03 09:21:00`` (candle datetime, naive IST)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_DMY_RE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{2}|\d{4})\s*$")


def parse_request_datetime(text: object) -> datetime | None:
    """Parse a request date the way Breeze does: take the wall clock and read it as IST.

    Accepts ``2025-02-03T09:20:00.000Z`` (what the SDK sends), the same without millis or ``Z``,
    ``2025-02-03 09:20:00``, a bare ``2025-02-03`` and ``03-Feb-2025`` (dates mean 00:00).
    Any offset or ``Z`` is ignored on purpose. Returns None when the text is not a date.
    """
    if not isinstance(text, str):
        return None
    match = _ISO_RE.match(text)
    try:
        if match:
            y, mo, d, hh, mm, ss, *_ = match.groups()
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        match = _DMY_RE.match(text)
        if match:
            d, mon, y = match.groups()
            month = _MONTH_INDEX.get(mon.upper())
            if month is None:
                return None
            year = int(y) + (2000 if len(y) == 2 else 0)
            return datetime(year, month, int(d))
    except ValueError:
        return None
    return None


def parse_expiry(text: object) -> date | None:
    """Expiry as clients send it: ISO ``2025-02-27T06:00:00.000Z`` (date part) or
    ``27-Feb-2025``."""
    moment = parse_request_datetime(text)
    return moment.date() if moment else None
