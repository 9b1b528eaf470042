"""Client input rules (Breeze's own, BREEZE_API.md §3, plus the proxy's windows), as plain
functions the serializers call, so that bad input is refused with a 400 before any upstream
call. The SDK's messages are reused where they are clear, so a Breeze user recognises them.

Every accepted date is range-checked before any arithmetic is done with it: history within
:data:`HISTORY_EARLIEST` to tomorrow (IST), expiries within :data:`EXPIRY_EARLIEST` to
:data:`EXPIRY_YEARS_AHEAD` years from now. Outside those windows there is nothing Breeze could
answer, and calendar edge cases (year 1, year 9999) never reach formatting or the cache.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from breeze import clock

EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "NDX", "MCX")
FNO_EXCHANGES = ("NFO", "BFO", "NDX", "MCX")
QUOTE_PRODUCTS = ("cash", "futures", "options", "mtf", "btst")
HISTORY_PRODUCTS = ("cash", "futures", "options")
CHAIN_EXCHANGES = ("NFO", "BFO")
CHAIN_PRODUCTS = ("futures", "options")
RIGHTS = ("call", "put", "others")
INTERVALS = ("1second", "1minute", "5minute", "30minute", "1day")
# The v1 names the Flask proxy and the SDK's v1 method accept, mapped to v2 names.
INTERVAL_ALIASES = {
    "second": "1second",
    "minute": "1minute",
    "day": "1day",
    "1sec": "1second",
    "1min": "1minute",
    "5min": "5minute",
    "30min": "30minute",
}

HISTORY_EARLIEST = date(2000, 1, 1)
EXPIRY_EARLIEST = date(2000, 1, 1)
EXPIRY_YEARS_AHEAD = 5
STRIKE_MAX = 10_000_000

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$")
_DATE_FORMATS = ("%d-%b-%Y", "%d-%B-%Y", "%d/%m/%Y")
ACCEPTED_DATE_FORMATS = "YYYY-MM-DD, DD-Mon-YYYY, YYYY-MM-DDTHH:MM:SS(.000Z) or YYYY-MM-DD HH:MM:SS"


def parse_date_or_datetime(value: str) -> tuple[datetime, bool]:
    """Parse a client date; returns the naive IST wall-clock time and whether a time was given.

    Breeze reads the wall-clock part of ``...Z`` timestamps as IST (BREEZE_API.md §3.3), so a
    trailing ``Z`` is accepted and ignored rather than converted; an explicit offset such as
    ``+00:00`` is converted to IST.
    """
    text = value.strip()
    if _ISO.match(text):
        try:
            moment = datetime.fromisoformat(text[:-1] if text.endswith("Z") else text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                moment = _to_ist_wall_clock(moment)
            return moment, len(text) > 10
    for fmt in _DATE_FORMATS:
        try:
            return datetime.combine(datetime.strptime(text, fmt).date(), time()), False
        except ValueError:
            continue
    raise ValueError(f"Use one of {ACCEPTED_DATE_FORMATS}.")


def _to_ist_wall_clock(moment: datetime) -> datetime:
    try:
        return moment.astimezone(clock.IST).replace(tzinfo=None)
    except OverflowError as exc:  # 0001-01-01T00:00+05:30 and its like
        raise ValueError("That date is outside the range the proxy accepts.") from exc


def check_history_moment(moment: datetime) -> datetime:
    """A history bound within the window Breeze can serve (2000-01-01 to tomorrow, IST)."""
    latest = clock.now().date() + timedelta(days=1)
    if not HISTORY_EARLIEST <= moment.date() <= latest:
        raise ValueError(
            f"Must be between {HISTORY_EARLIEST.isoformat()} and {latest.isoformat()} (IST)."
        )
    return moment


def check_expiry(day: date) -> date:
    """An expiry within the window contracts can have (2000-01-01 to five years ahead)."""
    today = clock.now().date()
    latest = today.replace(year=today.year + EXPIRY_YEARS_AHEAD)
    if not EXPIRY_EARLIEST <= day <= latest:
        raise ValueError(f"Must be between {EXPIRY_EARLIEST.isoformat()} and {latest.isoformat()}.")
    return day


def parse_expiry(value: str) -> date:
    return check_expiry(parse_date_or_datetime(value)[0].date())


def normalise_interval(value: str) -> str:
    text = value.strip().lower()
    text = INTERVAL_ALIASES.get(text, text)
    if text not in INTERVALS:
        raise ValueError(
            "Interval should be either '1second', '1minute', '5minute', '30minute', or '1day' "
            "(v1 names 'minute' and 'day' are accepted too)."
        )
    return text
