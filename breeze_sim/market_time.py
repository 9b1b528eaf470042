"""IST calendar and clock helpers shared by the simulator.

Breeze reads every wall-clock time as IST (the trailing ``Z`` on request dates is ignored) and
answers with naive IST strings, so the simulator works with *naive* datetimes that hold IST wall
clock time throughout.

Trading days are weekdays that are not in ``HOLIDAYS`` (NSE's published weekday trading holidays
for 2025 and 2026; other years have none). Derivative expiries follow the exchange rules in force
on the expiry date and move to the previous trading day when they fall on a holiday.
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


# NSE trading holidays that fall on weekdays (NSE circulars; BSE observes the same days for
# equities and equity derivatives). Only 2025 and 2026 are listed: every weekday of other years
# trades. The proxy keeps its own copy of the calendar; the simulator imports nothing from it.
HOLIDAY_NAMES: dict[date, str] = {
    date(2025, 2, 26): "Mahashivratri",
    date(2025, 3, 14): "Holi",
    date(2025, 3, 31): "Id-Ul-Fitr (Ramadan Eid)",
    date(2025, 4, 10): "Shri Mahavir Jayanti",
    date(2025, 4, 14): "Dr. Baba Saheb Ambedkar Jayanti",
    date(2025, 4, 18): "Good Friday",
    date(2025, 5, 1): "Maharashtra Day",
    date(2025, 8, 15): "Independence Day",
    date(2025, 8, 27): "Shri Ganesh Chaturthi",
    date(2025, 10, 2): "Mahatma Gandhi Jayanti / Dussehra",
    date(2025, 10, 21): "Diwali Laxmi Pujan (the evening Muhurat session is not simulated)",
    date(2025, 10, 22): "Diwali Balipratipada",
    date(2025, 11, 5): "Prakash Gurpurb Sri Guru Nanak Dev",
    date(2025, 12, 25): "Christmas",
    # 2026: the 15 days of NSE's annual list, plus 15 January, added by the NSE circular of
    # 12 January 2026 (Maharashtra municipal elections; that week's BSE Thursday expiry moved
    # to Wednesday 14 January, which is what ``expiry_day`` does).
    date(2026, 1, 15): "Municipal Corporation elections in Maharashtra",
    date(2026, 1, 26): "Republic Day",
    date(2026, 3, 3): "Holi",
    date(2026, 3, 26): "Shri Ram Navami",
    date(2026, 3, 31): "Shri Mahavir Jayanti",
    date(2026, 4, 3): "Good Friday",
    date(2026, 4, 14): "Dr. Baba Saheb Ambedkar Jayanti",
    date(2026, 5, 1): "Maharashtra Day",
    date(2026, 5, 28): "Bakri Id",
    date(2026, 6, 26): "Muharram",
    date(2026, 9, 14): "Ganesh Chaturthi",
    date(2026, 10, 2): "Mahatma Gandhi Jayanti",
    date(2026, 10, 20): "Dussehra",
    date(2026, 11, 10): "Diwali Balipratipada",
    date(2026, 11, 24): "Prakash Gurpurb Sri Guru Nanak Dev",
    date(2026, 12, 25): "Christmas",
}
HOLIDAYS: frozenset[date] = frozenset(HOLIDAY_NAMES)

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)
# SEBI's expiry-day rationalisation: from 1 September 2025 every NSE derivative expires on a
# Tuesday and every BSE derivative on a Thursday. Before that NSE used Thursday, and BSE used
# Tuesday from 1 January 2025 (Friday before). The rule is taken from the expiry date itself.
EXPIRY_RULE_CHANGE = date(2025, 9, 1)
BSE_TUESDAY_FROM = date(2025, 1, 1)


def is_holiday(day: date) -> bool:
    """An exchange holiday that falls on a weekday (see ``HOLIDAYS``)."""
    return day in HOLIDAYS


def is_trading_day(day: date) -> bool:
    """Weekdays trade, except the exchange holidays in ``HOLIDAYS``."""
    return day.weekday() < 5 and day not in HOLIDAYS


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def next_trading_day(day: date) -> date:
    """``day`` itself if it trades, else the next trading day."""
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def session_start(day: date) -> datetime:
    return datetime.combine(day, SESSION_OPEN)


def session_end(day: date) -> datetime:
    return datetime.combine(day, SESSION_CLOSE)


def trading_day_on_or_before(day: date) -> date:
    """``day`` itself if it trades, else the last trading day before it."""
    return day if is_trading_day(day) else previous_trading_day(day)


def expiry_day(nominal: date) -> date:
    """A scheduled expiry that falls on a holiday moves to the previous trading day."""
    return trading_day_on_or_before(nominal)


def month_end(year: int, month: int) -> date:
    """The last calendar day of the month."""
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def last_weekday(year: int, month: int, weekday: int) -> date:
    """The last ``weekday`` (0 = Monday) of the month, holidays ignored."""
    last = month_end(year, month)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def last_tuesday(year: int, month: int) -> date:
    """Nominal NSE monthly expiry (last Tuesday of the month, the rule since September 2025)."""
    return last_weekday(year, month, TUESDAY)


def last_thursday(year: int, month: int) -> date:
    """Nominal BSE monthly expiry (last Thursday of the month, the rule since September 2025)."""
    return last_weekday(year, month, THURSDAY)


def expiry_weekday(exchange: str, on: date) -> int:
    """Weekday (0 = Monday) on which derivatives of ``exchange`` ("NSE"/"NFO" or "BSE"/"BFO")
    expire, under the rule in force on ``on``."""
    if exchange.upper() in ("BSE", "BFO"):
        if on >= EXPIRY_RULE_CHANGE:
            return THURSDAY
        return TUESDAY if on >= BSE_TUESDAY_FROM else FRIDAY
    return TUESDAY if on >= EXPIRY_RULE_CHANGE else THURSDAY


def weekly_expiry_dates(today: date, count: int, exchange: str = "NSE") -> list[date]:
    """The next ``count`` weekly expiries (today's included), holiday-shifted."""
    monday = today - timedelta(days=today.weekday())
    out: list[date] = []
    while len(out) < count:
        expiry = expiry_day(monday + timedelta(days=expiry_weekday(exchange, monday)))
        if expiry >= today and expiry not in out:
            out.append(expiry)
        monday += timedelta(weeks=1)
    return out


def monthly_expiry_date(year: int, month: int, exchange: str = "NSE") -> date:
    """The month's last expiry weekday, moved to the previous trading day on a holiday."""
    weekday = expiry_weekday(exchange, date(year, month, 1))
    return expiry_day(last_weekday(year, month, weekday))


def monthly_expiry_dates(today: date, count: int, exchange: str = "NSE") -> list[date]:
    """The current monthly expiry (this month's, or next month's once it passed) and the next."""
    year, month = today.year, today.month
    out: list[date] = []
    while len(out) < count:
        expiry = monthly_expiry_date(year, month, exchange)
        if expiry >= today:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def currency_expiry_date(year: int, month: int) -> date:
    """NSE currency futures: two trading days before the month's last trading day."""
    last = trading_day_on_or_before(month_end(year, month))
    return previous_trading_day(previous_trading_day(last))


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
