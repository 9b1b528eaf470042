"""The universe of a day: every listed instrument, with strike grids centred on the previous
session's close. Apart from ``instruments`` because it needs the price engine, which itself
needs the instrument types."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from .instruments import (
    BSE_INDICES,
    DEFAULT_MASTER_SIZE,
    EQUITIES,
    FNO_SPECS,
    INDICES,
    FnoSpec,
    Instrument,
    Universe,
    _equity,
    _index,
)
from .market_time import previous_trading_day
from .prices import ENGINE


def universe_for(today: date, size: str = DEFAULT_MASTER_SIZE) -> Universe:
    """The universe of ``today`` for a master size ("small" or "full"), cached per day and size.

    Strike grids of the named underlyings are centred on their previous session's close.
    """
    return _universe(today, size)


@lru_cache(maxsize=16)
def _universe(today: date, size: str) -> Universe:
    references: dict[str, float] = {}
    session = previous_trading_day(today)
    for spec in FNO_SPECS:
        cash = _cash_reference(spec)
        references[spec.code] = ENGINE.session_close(cash, session)
    return Universe(today, references, size)


def _cash_reference(spec: FnoSpec) -> Instrument:
    for row in EQUITIES:
        if row[0] == spec.code:
            return _equity(spec.cash_exchange, row)
    for code, token, base in INDICES + BSE_INDICES:
        if code == spec.code:
            return _index(code, token, base, spec.cash_exchange)
    raise KeyError(spec.code)
