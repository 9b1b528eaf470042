"""The exchange calendar in IST: trading days, market hours, holidays.

Breeze publishes no holiday list, so the proxy keeps NSE's published trading holidays here
(``BREEZE_EXTRA_HOLIDAYS`` adds dates an operator learns of later, e.g. a special closure).
History uses the calendar to count trading minutes when it splits a range into Breeze-sized
windows, and the stream's watchdog uses it so that a quiet holiday is not mistaken for a dead
feed.
"""

from __future__ import annotations

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
