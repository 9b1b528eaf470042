"""Breeze's own input rules (the SDK's validation, BREEZE_API.md §3), as plain functions.

The serializers call these so that bad input is refused with a 400 before any upstream call;
the SDK's messages are reused where they are clear, so a Breeze user recognises them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "NDX", "MCX")
FNO_EXCHANGES = ("NFO", "BFO", "NDX", "MCX")
QUOTE_PRODUCTS = ("cash", "futures", "options", "mtf", "btst")
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

IST = ZoneInfo("Asia/Kolkata")
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"
)

_DATE_FORMATS = ("%Y-%m-%d", "%d-%b-%Y", "%d-%B-%Y", "%d/%m/%Y")
_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
)
ACCEPTED_DATE_FORMATS = "YYYY-MM-DD, DD-Mon-YYYY, YYYY-MM-DDTHH:MM:SS(.000Z) or YYYY-MM-DD HH:MM:SS"


def parse_date_or_datetime(value: str) -> tuple[datetime, bool]:
    """Parse a client date; returns the naive IST wall-clock time and whether a time was given.

    Breeze reads the wall-clock part of ``...Z`` timestamps as IST (BREEZE_API.md §3.3), so a
    trailing ``Z`` is accepted and ignored rather than converted.
    """
    text = value.strip()
    if _ISO_DATE.match(text):  # the common case, without trying formats one by one
        try:
            moment = datetime.fromisoformat(text[:-1] if text.endswith("Z") else text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:  # an explicit offset: convert to IST wall clock
                moment = moment.astimezone(IST).replace(tzinfo=None)
            return moment, len(text) > 10
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt), True
        except ValueError:
            continue
    for fmt in _DATE_FORMATS:
        try:
            return datetime.combine(datetime.strptime(text, fmt).date(), time()), False
        except ValueError:
            continue
    raise ValueError(f"Use one of {ACCEPTED_DATE_FORMATS}.")


def parse_expiry(value: str) -> date:
    return parse_date_or_datetime(value)[0].date()


def breeze_timestamp(moment: datetime) -> str:
    """The SDK's wire format for dates: ISO with milliseconds and a (meaningless) Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def breeze_expiry(day: date) -> str:
    """Expiry in the form the SDK's README sends (06:00 Z on the expiry day)."""
    return f"{day.isoformat()}T06:00:00.000Z"


def normalise_interval(value: str) -> str:
    text = value.strip().lower()
    text = INTERVAL_ALIASES.get(text, text)
    if text not in INTERVALS:
        raise ValueError(
            "Interval should be either '1second', '1minute', '5minute', '30minute', or '1day' "
            "(v1 names 'minute' and 'day' are accepted too)."
        )
    return text
