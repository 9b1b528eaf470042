"""The exchange calendar in IST: trading days, market hours, holidays.

Breeze publishes no holiday list, so the proxy keeps NSE's published trading holidays here
(``BREEZE_EXTRA_HOLIDAYS`` adds dates an operator learns of later, e.g. a special closure).
History uses the calendar to count trading minutes when it splits a range into Breeze-sized
windows, and the stream's watchdog uses it so that a quiet holiday is not mistaken for a dead
feed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

MARKET_OPEN = time(9, 15)
MARKET_CLOSE = time(15, 30)

# NSE equity and F&O trading holidays that fall on weekdays (NSE circulars for 2025 and 2026).
NSE_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(day)
    for day in (
        # 2025
        "2025-02-26",  # Mahashivratri
        "2025-03-14",  # Holi
        "2025-03-31",  # Id-Ul-Fitr
        "2025-04-10",  # Mahavir Jayanti
        "2025-04-14",  # Dr. Baba Saheb Ambedkar Jayanti
        "2025-04-18",  # Good Friday
        "2025-05-01",  # Maharashtra Day
        "2025-08-15",  # Independence Day
        "2025-08-27",  # Ganesh Chaturthi
        "2025-10-02",  # Mahatma Gandhi Jayanti / Dussehra
        "2025-10-21",  # Diwali Laxmi Pujan (muhurat session only)
        "2025-10-22",  # Diwali Balipratipada
        "2025-11-05",  # Prakash Gurpurb Sri Guru Nanak Dev
        "2025-12-25",  # Christmas
        # 2026
        "2026-01-15",  # Maharashtra municipal elections (NSE circular of 12 Jan 2026)
        "2026-01-26",  # Republic Day
        "2026-03-03",  # Holi
        "2026-03-26",  # Shri Ram Navami
        "2026-03-31",  # Shri Mahavir Jayanti
        "2026-04-03",  # Good Friday
        "2026-04-14",  # Dr. Baba Saheb Ambedkar Jayanti
        "2026-05-01",  # Maharashtra Day
        "2026-05-28",  # Bakri Id
        "2026-06-26",  # Muharram
        "2026-09-14",  # Ganesh Chaturthi
        "2026-10-02",  # Mahatma Gandhi Jayanti
        "2026-10-20",  # Dussehra
        "2026-11-10",  # Diwali Balipratipada
        "2026-11-24",  # Prakash Gurpurb Sri Guru Nanak Dev
        "2026-12-25",  # Christmas
    )
)


class TradingCalendar:
    """Weekdays that are not holidays trade from 09:15 to 15:30 IST."""

    def __init__(self, holidays: Iterable[date] = NSE_HOLIDAYS) -> None:
        self.holidays = frozenset(holidays)

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before ``day``."""
        day -= timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def next_trading_day(self, day: date) -> date:
        """``day`` itself when it trades, else the next one."""
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def trading_days(self, first: date, last: date) -> list[date]:
        days, day = [], first
        while day <= last:
            if self.is_trading_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def is_market_open(self, moment: datetime) -> bool:
        """``moment`` is naive IST wall clock (or aware, converted by the caller)."""
        return self.is_trading_day(moment.date()) and MARKET_OPEN <= moment.time() < MARKET_CLOSE


def calendar_with(extra: Iterable[str | date] = ()) -> TradingCalendar:
    """The NSE calendar plus ``extra`` holidays (ISO dates from configuration)."""
    more = {day if isinstance(day, date) else date.fromisoformat(str(day)) for day in extra}
    return TradingCalendar(NSE_HOLIDAYS | more)


# --- candle slots -----------------------------------------------------------------------------
#
# Breeze stamps a candle with the start of its bucket: 09:15:00, 09:16:00, ... for 1-minute
# candles, and the day (00:00:00) for daily ones; a day's last bucket starts before 15:30.
# Numbering every bucket of every trading day in order turns "how many candles lie between two
# times" into a subtraction, which is what splitting a range into Breeze's 1000-candle pages
# needs (weekends, holidays and nights hold no candles and take no numbers).

INTERVAL_SECONDS = {"1second": 1, "1minute": 60, "5minute": 300, "30minute": 1800, "1day": 86400}
SESSION_SECONDS = 6 * 3600 + 15 * 60  # 09:15 -> 15:30
_EPOCH = date(2000, 1, 3)  # a Monday: slot numbers count from here


def slots_per_day(interval: str) -> int:
    step = INTERVAL_SECONDS[interval]
    return 1 if interval == "1day" else -(-SESSION_SECONDS // step)


class SlotClock:
    """Candle buckets of one interval numbered over a calendar's trading days."""

    def __init__(self, calendar: TradingCalendar, interval: str) -> None:
        self.calendar = calendar
        self.interval = interval
        self.step = INTERVAL_SECONDS[interval]
        self.per_day = slots_per_day(interval)
        self._holidays = sorted(day for day in calendar.holidays if day.weekday() < 5)

    # trading days <-> ordinals
    def day_ordinal(self, day: date) -> int:
        """How many trading days lie in [epoch, day)."""
        days = (day - _EPOCH).days
        weeks, rest = divmod(days, 7)
        weekdays = weeks * 5 + min(rest, 5)
        return weekdays - (bisect_left(self._holidays, day) - bisect_left(self._holidays, _EPOCH))

    def day_at(self, ordinal: int) -> date:
        """The trading day whose ordinal is ``ordinal``."""
        weeks, rest = divmod(ordinal, 5)
        day = _EPOCH + timedelta(days=weeks * 7 + rest)
        while self.day_ordinal(day) < ordinal or not self.calendar.is_trading_day(day):
            day += timedelta(days=1)
        return day

    # times <-> slots
    def start_of(self, slot: int) -> datetime:
        """When candle ``slot`` starts (naive IST wall clock)."""
        ordinal, k = divmod(slot, self.per_day)
        day = self.day_at(ordinal)
        if self.interval == "1day":
            return datetime.combine(day, time())
        return datetime.combine(day, MARKET_OPEN) + timedelta(seconds=k * self.step)

    def end_of(self, slot: int) -> datetime:
        """When candle ``slot`` is closed."""
        if self.interval == "1day":
            return datetime.combine(self.start_of(slot).date(), MARKET_CLOSE)
        return self.start_of(slot) + timedelta(seconds=self.step)

    def first_at_or_after(self, moment: datetime) -> int:
        """The first candle that starts at or after ``moment``."""
        day = self.calendar.next_trading_day(moment.date())
        ordinal = self.day_ordinal(day)
        if self.interval == "1day":
            return ordinal
        if day != moment.date():
            return ordinal * self.per_day
        offset = (moment - datetime.combine(day, MARKET_OPEN)).total_seconds()
        k = max(0, -(-int(offset) // self.step))
        if k >= self.per_day:  # after the last bucket began: the next trading day
            return self.day_ordinal(self.calendar.next_trading_day(day + timedelta(days=1))) * (
                self.per_day
            )
        return ordinal * self.per_day + k

    def last_at_or_before(self, moment: datetime) -> int:
        """The last candle that starts at or before ``moment`` (for daily candles: of a day
        at or before ``moment``'s date)."""
        day = moment.date()
        if not self.calendar.is_trading_day(day):
            day = self.calendar.previous_trading_day(day)
            return (self.day_ordinal(day) + 1) * self.per_day - 1
        ordinal = self.day_ordinal(day)
        if self.interval == "1day":
            return ordinal
        offset = (moment - datetime.combine(day, MARKET_OPEN)).total_seconds()
        if offset < 0:  # before the day's first bucket: the previous trading day's last
            return ordinal * self.per_day - 1
        return ordinal * self.per_day + min(self.per_day - 1, int(offset) // self.step)

    def last_closed(self, now: datetime) -> int:
        """The newest candle that has closed by ``now``."""
        if self.interval == "1day":
            slot = self.last_at_or_before(now)
            return slot if self.end_of(slot) <= now else slot - 1
        return self.last_at_or_before(now - timedelta(seconds=self.step))
