"""Tick arrays of the Breeze "rate refresh" live feed (BREEZE_API.md §6), as pure functions.

A feed is named by a token ``X.Y!<token>``: X is the exchange (4 = NSE and NFO, 1 = BSE,
8 = BFO, 13 = NDX currency), Y is 1 for quotes and 2 for market depth, ``<token>`` is the
SecurityMaster token (the index name for indices, e.g. ``4.1!NIFTY 50``, ``1.1!SENSEX``).

Every number is derived from the same deterministic price engine as the REST ``quotes``
endpoint: ``endpoints.quote_row`` (ltp, best bid/offer, open/high/low, previous close, circuits,
volume) plus ``ENGINE.snapshot``/``ENGINE.book`` (OI, ltq, buy/sell totals). With jitter off a
tick carries exactly the REST values of that minute. With jitter on (the default) the last price
moves by a few ticks per tick, deterministically per (instrument, epoch second, sequence number),
kept inside the session's high/low so open/high/low/close still agree with REST; the book moves
with it.

Layouts (the SDK's ``parse_data`` turns them into dicts):

* equity quote, 21 elements: ``[symbol, open, last, high, low, change, bPrice, bQty, sPrice,
  sQty, ltq, avgPrice, ttq, totalBuyQt, totalSellQ, ttv, trend, lowerCktLm, upperCktLm, ltt,
  close]``;
* F&O quote, 23 elements: the same with ``OI, CHNGOI`` after ``avgPrice``;
* index quote: the equity layout with the book/flow fields ``None``;
* depth: ``[symbol, time, [level x 5]]``, a level being 8 fields (NSE/NFO), 4 (BSE) or 6 (BFO).

``close`` is the previous session's close and ``change`` the % change against it, except for
indices: an index tick's ``close`` is the index's value one second earlier (``change`` is against
that), so its real previous close comes from a REST quote. Prices that are whole numbers are sent
as JSON integers, as the upstream (JavaScript) feed does.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from . import endpoints
from . import prices as _prices
from .instruments import Instrument, Universe
from .market_time import IST, session_start
from .prices import ENGINE, round_to_tick
from .universe import universe_for

# MCX ("6.") is left out: the SDK's parse_data has a layout of its own for it that no array can
# satisfy together with the generic quote mapping it then applies (BREEZE_API.md §6).
EXCHANGE_DIGIT = {"NSE": "4", "NFO": "4", "BSE": "1", "BFO": "8", "NDX": "13"}
QUOTES, DEPTH = "1", "2"
DEPTH_LEVELS = 5
# When an NSE and an NFO instrument share a token number, the SDK resolves "4.x!tok" to NSE first.
_PRIORITY = {"NSE": 0, "BSE": 0, "NFO": 1, "BFO": 1, "NDX": 1}


# ----------------------------------------------------------------------------- tokens


def parse_token(text: object) -> tuple[str, str, str] | None:
    """``"4.1!2885"`` -> ``("4", "1", "2885")``; None when it is not a feed token."""
    if not isinstance(text, str):
        return None
    head, sep, code = text.partition("!")
    exchange, dot, kind = head.partition(".")
    if not sep or not dot or not code or kind not in (QUOTES, DEPTH):
        return None
    if exchange not in EXCHANGE_DIGIT.values():
        return None
    return exchange, kind, code


def feed_token(inst: Instrument, depth: bool = False) -> str:
    """The token a client joins for ``inst``: ``4.1!2885``, ``4.2!2885``, ``8.1!<token>``."""
    return f"{EXCHANGE_DIGIT[inst.exchange]}.{DEPTH if depth else QUOTES}!{inst.token}"


def _instruments(universe: Universe) -> Iterator[Instrument]:
    """Every instrument a universe lists: its lists (named cash, indices, F&O, currency...) and,
    in the full-size master, the synthetic equities and contracts it builds on demand."""
    for value in vars(universe).values():
        if isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, Instrument):
                    yield item
    if getattr(universe, "full", False):
        for exchange in ("NSE", "BSE"):
            yield from universe.cash_instruments(exchange)
        for exchange in ("NFO", "BFO"):
            yield from universe.contracts(exchange)


class TokenIndex:
    """``(exchange digit, token)`` -> instrument, for one day's universe."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_key: dict[tuple[str, str], Instrument] = {}
        ordered = sorted(instruments, key=lambda i: _PRIORITY.get(i.exchange, 9))
        for inst in ordered:
            digit = EXCHANGE_DIGIT.get(inst.exchange)
            if digit is not None:
                self._by_key.setdefault((digit, inst.token), inst)

    def __len__(self) -> int:
        return len(self._by_key)

    def resolve(self, token: object) -> Instrument | None:
        """The instrument a feed token names, or None (unknown, or depth of an index)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        exchange, kind, code = parsed
        inst = self._by_key.get((exchange, code))
        if inst is None or (kind == DEPTH and inst.kind == "index"):
            return None
        return inst


@lru_cache(maxsize=4)
def token_index(today: date, size: str | None = None) -> TokenIndex:
    """The feed tokens listed on ``today`` (cached per IST date and master size). The small
    master indexes in milliseconds; the full one (~120,000 tokens) takes seconds and ~50 MB."""
    universe = universe_for(today) if size is None else universe_for(today, size)
    return TokenIndex(_instruments(universe))


# ----------------------------------------------------------------------------- numbers


def epoch_seconds(now: datetime) -> int:
    """Epoch seconds of a naive IST wall-clock time (what ``ltt`` and depth ``time`` carry)."""
    return int(now.replace(tzinfo=IST).timestamp())


def _js(value: float | None) -> float | int | None:
    """JSON numbers as a JavaScript server writes them: ``1197.0`` -> ``1197``."""
    if value is None:
        return None
    value = round(float(value), 4)
    return int(value) if value.is_integer() else value


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _step(inst: Instrument) -> float:
    """Smallest price move that survives ``round_to_tick``'s 2 decimals (currency ticks are
    0.0025)."""
    return inst.tick if inst.tick >= 0.01 else 0.01


def _key(inst: Instrument) -> str:
    parts = (inst.exchange, inst.token, inst.stock_code, inst.expiry, inst.strike, inst.right)
    return ":".join(str(part) for part in parts)


@dataclass(frozen=True)
class QuoteBase:
    """What REST ``quotes`` says about one instrument during one minute (plus flow numbers)."""

    ltp: float
    open: float
    high: float
    low: float
    previous_close: float
    bid: float
    ask: float
    bid_qty: int
    ask_qty: int
    ltq: int
    volume: int
    total_buy: int
    total_sell: int
    upper: float
    lower: float
    avg: float | None
    oi: int | None
    chng_oi: int | None


def _spot(universe: Universe, inst: Instrument, now: datetime) -> Any:
    """The underlying snapshot REST uses for a derivative's circuit band (endpoints' rule)."""
    if not inst.is_derivative:
        return None
    spot_for = getattr(endpoints, "_spot_for", None)
    if spot_for is not None:
        return spot_for(universe, inst, now)
    find = getattr(universe, "underlying", None)
    underlying = find(inst) if find else universe.cash("NSE", inst.stock_code)
    return ENGINE.snapshot(underlying, now) if underlying else None


@lru_cache(maxsize=4096)
def _vwap(inst: Instrument, day: date, done: int) -> float | None:
    """Volume-weighted average price of the first ``done`` minutes of ``day``."""
    if done <= 0:
        return None
    minutes = getattr(_prices, "instrument_minutes", None)
    if minutes is not None:
        bars = minutes(inst, day)[:done]
        rows = [((b[1] + b[2] + b[3]) / 3, b[4]) for b in bars]
    else:  # fall back to the public candle API
        start = session_start(day)
        end = start + timedelta(minutes=done - 1)
        now = start + timedelta(minutes=done)
        found = ENGINE.candles(inst, 60, start, end, now)
        rows = [((c.high + c.low + c.close) / 3, c.volume) for c in found]
    volume = sum(v for _p, v in rows)
    if volume <= 0:
        return None
    return round_to_tick(sum(p * v for p, v in rows) / volume, 0.01)


@lru_cache(maxsize=8192)
def _base(inst: Instrument, minute: datetime, universe: Universe) -> QuoteBase:
    row = endpoints.quote_row(inst, minute, _spot(universe, inst, minute))
    snap = ENGINE.snapshot(inst, minute)
    book = ENGINE.book(inst, snap)
    day, done = _prices.last_session(minute)
    oi = snap.oi if inst.is_derivative else None
    chng = (oi - (snap.previous_oi or 0)) if oi is not None else None
    return QuoteBase(
        ltp=float(row["ltp"]),
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        previous_close=float(row["previous_close"]),
        bid=float(row["best_bid_price"]),
        ask=float(row["best_offer_price"]),
        bid_qty=int(row["best_bid_quantity"]),
        ask_qty=int(row["best_offer_quantity"]),
        ltq=int(book["ltq"]),
        volume=int(row["total_quantity_traded"]),
        total_buy=int(book["total_buy"]),
        total_sell=int(book["total_sell"]),
        upper=float(row["upper_circuit"]),
        lower=float(row["lower_circuit"]),
        avg=None if inst.kind == "index" else _vwap(inst, day, done),
        oi=oi,
        chng_oi=chng,
    )


def quote_base(inst: Instrument, now: datetime, universe: Universe | None = None) -> QuoteBase:
    """The REST view of ``inst`` at ``now`` (constant within the minute, cached)."""
    minute = now.replace(second=0, microsecond=0)
    return _base(inst, minute, universe or universe_for(now.date()))


@dataclass(frozen=True)
class _Move:
    last: float
    shift: float
    rng: random.Random | None


def _move(inst: Instrument, base: QuoteBase, epoch: int, seq: int, jitter: bool) -> _Move:
    """This tick's last price: the minute's ltp plus a few ticks, inside the day's high/low."""
    if not jitter:
        return _Move(base.ltp, 0.0, None)
    rng = _rng(_key(inst), "tick", epoch, seq)
    tick, step = inst.tick, _step(inst)
    amplitude = max(2, round(base.ltp * 0.0001 / step))
    last = round_to_tick(base.ltp + rng.randint(-amplitude, amplitude) * step, tick)
    last = min(base.high, max(base.low, last))
    return _Move(last, round(last - base.ltp, 2), rng)


def _change(last: float, previous_close: float) -> float:
    return round((last - previous_close) / previous_close * 100, 2) if previous_close else 0.0


def _book(inst: Instrument, base: QuoteBase, move: _Move) -> tuple[float, int, float, int, int]:
    """Level 1 (bid, bid qty, ask, ask qty) and ltq, shifted with the tick's last price."""
    if move.rng is None:
        return base.bid, base.bid_qty, base.ask, base.ask_qty, base.ltq
    tick, lot, rng = inst.tick, inst.lot, move.rng
    bid = max(tick, round_to_tick(base.bid + move.shift, tick))
    ask = max(round(bid + _step(inst), 4), round_to_tick(base.ask + move.shift, tick))
    return (
        round(bid, 2),
        rng.randint(1, 40) * lot,
        round(ask, 2),
        rng.randint(1, 40) * lot,
        rng.randint(1, 10) * lot,
    )


def _ttv(inst: Instrument, volume: int, avg: float | None) -> str | float | None:
    """Traded value: ``"1328.72C"`` (crore) as the README's NSE/NFO ticks; BFO sends a number."""
    if avg is None:
        return None
    value = volume * avg
    if inst.exchange == "BFO":
        return round(value / 1e5, 2)
    return f"{value / 1e7:.2f}C"


def _trend(last: float, previous_last: float | None) -> str:
    if previous_last is None or last == previous_last:
        return ""
    return "+" if last > previous_last else "-"


def quote_tick(
    inst: Instrument,
    now: datetime,
    *,
    seq: int = 0,
    jitter: bool = True,
    universe: Universe | None = None,
    previous_last: float | None = None,
) -> list[Any]:
    """The ``stock`` array of a quotes feed (``X.1!token``) at ``now``.

    ``seq`` numbers the ticks within one epoch second; ``previous_last`` (the last price of the
    previous tick of this feed) gives indices their ``trend`` (``+``/``-``), as in the README.
    """
    base = quote_base(inst, now, universe)
    epoch = epoch_seconds(now)
    move = _move(inst, base, epoch, seq, jitter)
    symbol = feed_token(inst)
    last = move.last
    change = _change(last, base.previous_close)
    head = [symbol, _js(base.open), _js(last), _js(base.high), _js(base.low), _js(change)]
    if inst.kind == "index":
        # An index tick's ``close`` is the value one second earlier, not the previous session's
        # close (and ``change`` is against it): a consumer needs a quote for the real one.
        before = now - timedelta(seconds=1)
        second_ago = _move(inst, quote_base(inst, before, universe), epoch - 1, 0, jitter).last
        head[5] = _js(_change(last, second_ago))
        return [
            *head,
            *([None] * 10),
            _trend(last, previous_last),
            None,
            None,
            epoch,
            _js(second_ago),
        ]
    bid, bid_qty, ask, ask_qty, ltq = _book(inst, base, move)
    book = [_js(bid), bid_qty, _js(ask), ask_qty, ltq, _js(base.avg)]
    oi = [base.oi, base.chng_oi] if inst.is_derivative else []
    flow = [
        base.volume,
        base.total_buy,
        base.total_sell,
        _ttv(inst, base.volume, base.avg),
        "",
        _js(base.lower),
        _js(base.upper),
        epoch,
        _js(base.previous_close),
    ]
    return [*head, *book, *oi, *flow]


def depth_tick(
    inst: Instrument,
    now: datetime,
    *,
    seq: int = 0,
    jitter: bool = True,
    universe: Universe | None = None,
) -> list[Any]:
    """The ``stock`` array of a market-depth feed (``X.2!token``): 5 levels, per-exchange layout.

    Level 1 is the quote tick's best bid/offer at the same (second, seq), so it agrees with the
    quote feed and, with jitter off, with REST ``best_bid_price``/``best_offer_price``.
    """
    base = quote_base(inst, now, universe)
    epoch = epoch_seconds(now)
    move = _move(inst, base, epoch, seq, jitter)
    bid, bid_qty, ask, ask_qty, _ltq = _book(inst, base, move)
    tick, lot, step = inst.tick, inst.lot, _step(inst)
    if jitter:
        rng = _rng(_key(inst), "depth", epoch, seq)
    else:
        rng = _rng(_key(inst), "depth", now.replace(second=0, microsecond=0).isoformat())
    digit = EXCHANGE_DIGIT[inst.exchange]
    levels = []
    for n in range(DEPTH_LEVELS):
        if n:
            bid = max(tick, round_to_tick(bid - rng.randint(1, 2) * step, tick))
            ask = round_to_tick(ask + rng.randint(1, 2) * step, tick)
            bid_qty = rng.randint(1, 60) * lot
            ask_qty = rng.randint(1, 60) * lot
        buy_orders = max(1, min(bid_qty // lot, rng.randint(1, 25)))
        sell_orders = max(1, min(ask_qty // lot, rng.randint(1, 25)))
        if digit == "1":
            level = [_js(bid), bid_qty, _js(ask), ask_qty]
        elif digit == "8":
            level = [_js(bid), bid_qty, buy_orders, _js(ask), ask_qty, sell_orders]
        else:
            level = [_js(bid), bid_qty, buy_orders, "", _js(ask), ask_qty, sell_orders, ""]
        levels.append(level)
    return [feed_token(inst, depth=True), epoch, levels]


def tick_for(
    token: str,
    inst: Instrument,
    now: datetime,
    *,
    seq: int = 0,
    jitter: bool = True,
    universe: Universe | None = None,
    previous_last: float | None = None,
) -> list[Any]:
    """The array for feed ``token`` (quotes or depth, by its ``.Y``)."""
    parsed = parse_token(token)
    if parsed is not None and parsed[1] == DEPTH:
        return depth_tick(inst, now, seq=seq, jitter=jitter, universe=universe)
    return quote_tick(
        inst, now, seq=seq, jitter=jitter, universe=universe, previous_last=previous_last
    )
