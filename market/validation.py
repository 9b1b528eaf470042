"""Client input rules (Breeze's own, BREEZE_API.md §3, plus the proxy's windows), as plain
functions the serializers call, so that bad input is refused with a 400 before any upstream
call. The SDK's messages are reused where they are clear, so a Breeze user recognises them.

Every accepted date is range-checked before any arithmetic is done with it: history within
:data:`HISTORY_EARLIEST` to tomorrow (IST), expiries within :data:`EXPIRY_EARLIEST` to
:data:`EXPIRY_YEARS_AHEAD` years from now. Outside those windows there is nothing Breeze could
answer, and calendar edge cases (year 1, year 9999) never reach formatting or the cache.

Text is read by ASCII grammars (Python's ``\\d`` and ``\\s`` are wider than JSON Schema's), and
the same grammars, with the date windows of the day, are what the OpenAPI schema publishes
(:func:`date_pattern`, :data:`STRIKE_TEXT`), so the schema accepts exactly what this accepts.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta

from breeze import clock
from common.schema import caseless, padded

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
# A strike as text (after trimming): ASCII digits, at most 4 decimals that are not zero,
# at most STRIKE_MAX. Signs, exponents, "_" and non-ASCII digits are refused.
STRIKE_TEXT = r"0*(?:[0-9]{1,7}(?:\.[0-9]{1,4}0*)?|10000000(?:\.0+)?)"

# --- Dates ---------------------------------------------------------------------------------
# One grammar, ASCII only (Python's \d would take Arabic-Indic or fullwidth digits):
#   2025-02-03, 2025-02-03Z               a day
#   2025-02-03T09:15[:00[.000000]][Z]     IST wall clock ("T" or " "; Breeze ignores "Z")
#   2025-02-03T09:15:00+00:00             converted to IST
#   3-Feb-2025, 03-February-2025          a day (English month names, any case)
#   3/2/2025, 03/02/2025                  a day (day first)
_TIME = r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_OFFSET = r"[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
MONTH_NAMES = (
    ("Jan", "uary"), ("Feb", "ruary"), ("Mar", "ch"), ("Apr", "il"), ("May", ""), ("Jun", "e"),
    ("Jul", "y"), ("Aug", "ust"), ("Sep", "tember"), ("Oct", "ober"), ("Nov", "ember"),
    ("Dec", "ember"),
)  # fmt: skip
_MONTH_NUMBERS = {
    (short + rest).lower(): number
    for number, (short, rest) in enumerate(MONTH_NAMES, start=1)
    for rest in {"", rest}
}
_MONTH_NAME = "(?:" + "|".join(caseless(name) for name in sorted(_MONTH_NUMBERS)) + ")"
_DATE_GRAMMAR = re.compile(
    rf"(?P<iso>[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})(?:(?P<time>{_TIME})?(?P<zone>Z|{_OFFSET})?)"
    rf"|(?P<named>{_DAY}-{_MONTH_NAME}-[0-9]{{4}})"
    rf"|(?P<numeric>{_DAY}/{_MONTH}/[0-9]{{4}})"
)
ACCEPTED_DATE_FORMATS = (
    "YYYY-MM-DD, DD-Mon-YYYY, DD/MM/YYYY, YYYY-MM-DDTHH:MM:SS(.000Z) or YYYY-MM-DD HH:MM:SS"
)


def parse_date_or_datetime(value: str) -> tuple[datetime, bool]:
    """Parse a client date; returns the naive IST wall-clock time and whether a time was given.

    Breeze reads the wall-clock part of ``...Z`` timestamps as IST (BREEZE_API.md §3.3), so a
    trailing ``Z`` is accepted and ignored rather than converted; an explicit offset such as
    ``+00:00`` is converted to IST (an offset needs a time: ``2025-02-03+05:30`` is refused).
    """
    text = value.strip()
    match = _DATE_GRAMMAR.fullmatch(text)
    if match is None or (match["zone"] not in (None, "Z") and match["time"] is None):
        raise ValueError(f"Use one of {ACCEPTED_DATE_FORMATS}.")
    try:
        if match["iso"] is None:
            day, month, year = re.split(r"[-/]", text)
            number = int(month) if month.isdigit() else _MONTH_NUMBERS[month.lower()]
            return datetime(int(year), number, int(day)), False
        if match["time"] is None:
            return datetime.combine(date.fromisoformat(match["iso"]), time()), False
        zone = "" if match["zone"] in (None, "Z") else match["zone"]
        moment = datetime.fromisoformat(f"{match['iso']}T{match['time'][1:]}{zone}")
    except ValueError as exc:  # 2025-02-30, 31-Nov-2025, year 0
        raise ValueError("That day is not on the calendar.") from exc
    if moment.tzinfo is not None:
        moment = _to_ist_wall_clock(moment)
    return moment, True


def _to_ist_wall_clock(moment: datetime) -> datetime:
    try:
        return moment.astimezone(clock.IST).replace(tzinfo=None)
    except OverflowError as exc:  # 0001-01-01T00:00+05:30 and its like
        raise ValueError("That date is outside the range the proxy accepts.") from exc


def history_window(today: date | None = None) -> tuple[date, date]:
    """The days a history bound may fall on: 2000-01-01 to tomorrow (IST)."""
    today = today or clock.now().date()
    return HISTORY_EARLIEST, today + timedelta(days=1)


def expiry_window(today: date | None = None) -> tuple[date, date]:
    """The days an expiry may fall on: 2000-01-01 to five years ahead (Feb 29 → Feb 28)."""
    today = today or clock.now().date()
    year = today.year + EXPIRY_YEARS_AHEAD
    latest = today.replace(year=year, day=min(today.day, _days_in(year, today.month)))
    return EXPIRY_EARLIEST, latest


def check_history_moment(moment: datetime) -> datetime:
    """A history bound within the window Breeze can serve (2000-01-01 to tomorrow, IST)."""
    earliest, latest = history_window()
    if not earliest <= moment.date() <= latest:
        raise ValueError(f"Must be between {earliest.isoformat()} and {latest.isoformat()} (IST).")
    return moment


def check_expiry(day: date) -> date:
    """An expiry within the window contracts can have (2000-01-01 to five years ahead)."""
    earliest, latest = expiry_window()
    if not earliest <= day <= latest:
        raise ValueError(f"Must be between {earliest.isoformat()} and {latest.isoformat()}.")
    return day


def parse_expiry(value: str) -> date:
    return check_expiry(parse_date_or_datetime(value)[0].date())


def date_pattern(window: tuple[date, date], *, blank: bool = False) -> str:
    """The JSON Schema pattern of exactly the texts :func:`parse_date_or_datetime` reads as a
    day inside ``window``, in every accepted form. An offset may carry a time across
    midnight, so texts with one are described on the days strictly inside the window only
    (the schema is that much stricter than the parser, never looser)."""
    first, last = window
    inside = (first + timedelta(days=1), last - timedelta(days=1))
    core = "|".join(
        (
            rf"{_days_regex(first, last, 'iso')}(?:{_TIME})?Z?",
            rf"{_days_regex(*inside, 'iso')}{_TIME}{_OFFSET}",
            _days_regex(first, last, "named"),
            _days_regex(first, last, "numeric"),
        )
    )
    return padded(core, blank=blank)


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _days_regex(first: date, last: date, style: str) -> str:
    """Days ``first``..``last`` written in ``style`` ("iso", "named" or "numeric")."""
    if first > last:
        return "(?!)"
    blocks: list[tuple[str, tuple[int, ...], int, int]] = []  # (years, months, first, last day)
    if first.year == last.year:
        blocks += _year_blocks(first, last)
    else:
        blocks += _year_blocks(first, date(first.year, 12, 31))
        years = range(first.year + 1, last.year)
        if years:
            span = _number_regex(years[0], years[-1], 4)
            for months, days in (((1, 3, 5, 7, 8, 10, 12), 31), ((4, 6, 9, 11), 30), ((2,), 28)):
                blocks.append((span, months, 1, days))
            leap = [f"{year:04d}" for year in years if calendar.isleap(year)]
            if leap:
                blocks.append(("|".join(leap), (2,), 29, 29))
        blocks += _year_blocks(date(last.year, 1, 1), last)
    return "(?:" + "|".join(_render(block, style) for block in blocks) + ")"


def _year_blocks(first: date, last: date) -> list[tuple[str, tuple[int, ...], int, int]]:
    """``first``..``last`` of one year, as months grouped by their day range."""
    ranges: dict[tuple[int, int], list[int]] = {}
    for month in range(first.month, last.month + 1):
        low = first.day if month == first.month else 1
        high = last.day if month == last.month else _days_in(first.year, month)
        ranges.setdefault((low, high), []).append(month)
    year = f"{first.year:04d}"
    return [(year, tuple(months), low, high) for (low, high), months in ranges.items()]


def _render(block: tuple[str, tuple[int, ...], int, int], style: str) -> str:
    years, months, low, high = block
    if style == "iso":
        month_text = "|".join(f"{month:02d}" for month in months)
        return f"(?:{years})-(?:{month_text})-(?:{_number_regex(low, high, 2)})"
    day_text = _number_regex(low, high, 2, short=True)
    if style == "named":
        names = "|".join(_month_name_regex(month) for month in months)
        return f"(?:{day_text})-(?:{names})-(?:{years})"
    month_text = "|".join(f"0?{month}" if month < 10 else str(month) for month in months)
    return f"(?:{day_text})/(?:{month_text})/(?:{years})"


def _month_name_regex(month: int) -> str:
    """The month's English name, short or full, in any case (``Jun``, ``JUNE``)."""
    short, rest = MONTH_NAMES[month - 1]
    return caseless(short) + (f"(?:{caseless(rest)})?" if rest else "")


def _number_regex(low: int, high: int, width: int, *, short: bool = False) -> str:
    """Numbers ``low``..``high`` zero-padded to ``width`` digits; ``short``: the leading zero
    of a one-digit number may be left out too."""
    text = "|".join(_digit_ranges(f"{low:0{width}d}", f"{high:0{width}d}"))
    if short and low < 10:
        text += "|" + _digit_class(str(low), str(min(high, 9)))
    return text


def _digit_ranges(low: str, high: str) -> list[str]:
    """Alternatives matching every digit string from ``low`` to ``high`` (same length)."""
    if not low:
        return [""]
    if low[0] == high[0]:
        return [low[0] + _group(_digit_ranges(low[1:], high[1:]))]
    rest = len(low) - 1
    parts = []
    start, end = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + _group(_digit_ranges(low[1:], "9" * rest)))
        start += 1
    tail = high[1:] != "9" * rest
    if tail:
        end -= 1
    if start <= end:
        parts.append(_digit_class(str(start), str(end)) + "[0-9]" * rest)
    if tail:
        parts.append(high[0] + _group(_digit_ranges("0" * rest, high[1:])))
    return parts


def _digit_class(low: str, high: str) -> str:
    return low if low == high else f"[{low}-{high}]"


def _group(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def normalise_interval(value: str) -> str:
    text = value.strip().lower()
    text = INTERVAL_ALIASES.get(text, text)
    if text not in INTERVALS:
        raise ValueError(
            "Interval should be either '1second', '1minute', '5minute', '30minute', or '1day' "
            "(v1 names 'minute' and 'day' are accepted too)."
        )
    return text
