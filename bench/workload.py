"""Request shapes the scenarios send: distinct historical windows and distinct option quotes.

A miss benchmark is only honest if no request can be answered from the proxy's cache or its
candle store, so every request gets a window (stock, trading day, 5-minute range) that shares no
candle with any other request of the run (the windows of a day tile it: 09:15-09:19,
09:20-09:24, ...). ``bench/lua/history_miss.lua`` implements the same index → window mapping for
wrk.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from breeze.operations import Contract, HistoryQuery
from breeze_sim.instruments import EQUITIES
from breeze_sim.market_time import is_trading_day
from breeze_sim.universe import universe_for

STOCKS: tuple[str, ...] = tuple(row[0] for row in EQUITIES)
WINDOWS_PER_DAY = 72  # 09:15 + 5w for w in [0, 72): the last 5-minute window ends at 15:19
IST = ZoneInfo("Asia/Kolkata")


def trading_days(count: int = 200, before: date = date(2025, 6, 30)) -> list[str]:
    """``count`` past trading days (as the simulator sees them), newest first, ISO dates."""
    days: list[str] = []
    day = before
    while len(days) < count:
        if is_trading_day(day):
            days.append(day.isoformat())
        day -= timedelta(days=1)
    return days


DAYS = trading_days()
CAPACITY = len(STOCKS) * WINDOWS_PER_DAY * len(DAYS)  # disjoint windows before indices repeat


def _hhmm(minutes: int) -> str:
    total = 15 + minutes
    return f"{9 + total // 60:02d}:{total % 60:02d}:00"


def history_window(idx: int) -> dict[str, str]:
    """The proxy's request body for window ``idx`` (same mapping as history_miss.lua)."""
    stock = STOCKS[idx % len(STOCKS)]
    rest = idx // len(STOCKS)
    minute = (rest % WINDOWS_PER_DAY) * 5
    day = DAYS[(rest // WINDOWS_PER_DAY) % len(DAYS)]
    return {
        "stock_code": stock,
        "exchange_code": "NSE",
        "interval": "1minute",
        "from_date": f"{day}T{_hhmm(minute)}",
        "to_date": f"{day}T{_hhmm(minute + 4)}",
    }


def history_query(idx: int) -> HistoryQuery:
    """The same window as the typed query the proxy's serializer builds from that body."""
    body = history_window(idx)
    return HistoryQuery(
        Contract(body["stock_code"]),
        body["interval"],
        datetime.fromisoformat(body["from_date"]),
        datetime.fromisoformat(body["to_date"]),
    )


def option_quotes() -> list[dict[str, str]]:
    """One quote body per listed NIFTY option today (hundreds of distinct instruments)."""
    today = datetime.now(tz=IST).date()
    bodies = []
    for inst in universe_for(today).options:
        assert inst.expiry is not None
        assert inst.strike is not None
        bodies.append(
            {
                "stock_code": inst.stock_code,
                "exchange_code": "NFO",
                "product_type": "options",
                "expiry_date": inst.expiry.isoformat(),
                "right": "call" if inst.right == "CE" else "put",
                "strike_price": f"{inst.strike:g}",
            }
        )
    return bodies
