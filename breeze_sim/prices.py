"""Deterministic, plausible prices: candles, quote snapshots and option values.

Every number comes from ``random.Random`` seeded with a SHA-256 of (instrument, day, bucket),
never Python's salted ``hash()``, so identical requests get identical answers across runs and
processes. The model:

* a daily close per underlying that hovers around the instrument's base price (a few slow
  sinusoids plus daily noise, so any date in the past or future has a level in O(1));
* an intraday minute path per day: a Brownian bridge from the open (previous close plus a gap)
  to that day's close, with wicks and a U-shaped volume profile;
* one-second bars bridged inside each minute bar; 5/30-minute and day candles are aggregates
  of the minute bars, so every interval agrees with every other;
* futures are ``spot * exp(r*T)``; options are Black-Scholes on the underlying's path with a
  mild volatility smile, so an option candle's high/low map from the spot's high/low;
* synthetic equities (the full-size master) get their base price, volatility and volume from
  ``instruments.synthetic_params``, so any of them can be quoted without a table.

Sessions follow ``market_time``: weekends and exchange holidays have no candles, and a quote
taken on a holiday shows the last session.

Quotes use one-minute buckets: within a minute the same request answers the same.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

from .instruments import (
    BSE_INDICES,
    COMMODITY_FUTURES,
    CURRENCY_FUTURES,
    DAILY_VOLUME,
    EQUITIES,
    INDEX_CODES,
    INDICES,
    Instrument,
    synthetic_params,
)
from .market_time import (
    SESSION_MINUTES,
    is_trading_day,
    previous_trading_day,
    session_end,
    session_start,
)

RISK_FREE = 0.065
LISTING_DAYS = 95  # derivatives have history for this many days before expiry
ONE_SECOND_HISTORY_START = date(2019, 1, 1)
DAY = 86400

# price key -> (base price, daily volatility, daily volume)
_UNDERLYINGS: dict[str, tuple[float, float, int]] = {
    row[0]: (row[6], 0.013, DAILY_VOLUME[row[0]]) for row in EQUITIES
}
_UNDERLYINGS.update({code: (base, 0.009, 0) for code, _token, base in INDICES + BSE_INDICES})
_UNDERLYINGS.update({row[0]: (row[3], 0.003, 0) for row in CURRENCY_FUTURES})
_UNDERLYINGS.update({row[0]: (row[7], 0.015, 0) for row in COMMODITY_FUTURES})


def _params(key: str) -> tuple[float, float, int]:
    """(base price, daily volatility, daily volume) of a price path: named or synthetic."""
    found = _UNDERLYINGS.get(key)
    if found is None:
        found = synthetic_params(key)
        if found is None:
            raise KeyError(f"no price path for {key!r}")
    return found


Bar = tuple[float, float, float, float, float, float]  # open, high, low, close, volume, oi


@dataclass(frozen=True)
class Candle:
    """One rounded candle; ``start`` is the naive IST start of the bucket."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    oi: int | None


@dataclass(frozen=True)
class Snapshot:
    """What a quote needs: the session so far, the previous close and open interest."""

    session_day: date
    ltp: float
    ltt: datetime
    open: float
    high: float
    low: float
    previous_close: float
    volume: int
    oi: int | None
    previous_oi: int | None


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_seed(*parts))


def round_to_tick(value: float, tick: float) -> float:
    """Round to the instrument's tick and to 2 decimals (ticks are multiples of 0.05)."""
    return round(round(value / tick) * tick, 2)


# ----------------------------------------------------------------------------- underlyings


@lru_cache(maxsize=4096)
def _phases(key: str) -> tuple[float, float, float]:
    rng = _rng(key, "phase")
    return rng.random() * 2 * math.pi, rng.random() * 2 * math.pi, rng.random() * 2 * math.pi


def _day_close(key: str, day: date) -> float:
    base, _vol, _volume = _params(key)
    n = day.toordinal()
    p0, p1, p2 = _phases(key)
    level = (
        0.10 * math.sin(2 * math.pi * n / 730 + p0)
        + 0.05 * math.sin(2 * math.pi * n / 97 + p1)
        + 0.025 * math.sin(2 * math.pi * n / 23 + p2)
        + 0.01 * _rng(key, "close", n).gauss(0, 1)
    )
    return base * math.exp(level)


def _day_open(key: str, day: date) -> float:
    previous = _day_close(key, previous_trading_day(day))
    return previous * math.exp(0.003 * _rng(key, "gap", day.toordinal()).gauss(0, 1))


_SQRT12 = math.sqrt(12)
_MID = (SESSION_MINUTES - 1) / 2
_VOLUME_PROFILE = tuple(1 + 1.5 * ((m - _MID) / _MID) ** 2 for m in range(SESSION_MINUTES))


@lru_cache(maxsize=8192)
def _underlying_minutes(key: str, day: date) -> tuple[Bar, ...]:
    """375 unrounded minute bars of one underlying on one day (oi unused: 0).

    Steps are uniform rather than Gaussian (the bridge over 375 steps looks normal anyway);
    this keeps a year of day candles, which needs every minute path, well under a second.
    """
    _base, vol, daily_volume = _params(key)
    rng = _rng(key, "minutes", day.isoformat())
    r = rng.random
    n = SESSION_MINUTES
    sigma = vol / math.sqrt(n)
    scale = sigma * _SQRT12
    walk = list(accumulate([(r() - 0.5) * scale for _ in range(n)], initial=0.0))
    start, end = math.log(_day_open(key, day)), math.log(_day_close(key, day))
    drift = (end - start - walk[-1]) / n
    exp = math.exp
    path = [exp(start + walk[k] + drift * k) for k in range(n + 1)]
    wick = sigma * 0.8
    per_minute = daily_volume / sum(_VOLUME_PROFILE)
    bars = []
    for m in range(n):
        o, c = path[m], path[m + 1]
        hi = (o if o > c else c) * exp(r() * wick)
        lo = (c if o > c else o) * exp(-r() * wick)
        volume = per_minute * _VOLUME_PROFILE[m] * exp((r() - 0.5) * 1.2) if daily_volume else 0.0
        bars.append((o, hi, lo, c, volume, 0.0))
    return tuple(bars)


@lru_cache(maxsize=4096)
def _underlying_seconds(key: str, day: date, minute: int) -> tuple[Bar, ...]:
    """60 one-second bars bridged inside one minute bar, kept within its high/low."""
    o, h, lo_m, c, _v, _oi = _underlying_minutes(key, day)[minute]
    _base, vol, _volume = _params(key)
    rng = _rng(key, "seconds", day.isoformat(), minute)
    sigma = vol / math.sqrt(SESSION_MINUTES * 60)
    walk = [0.0]
    for _ in range(60):
        walk.append(walk[-1] + rng.gauss(0, sigma))
    start, end = math.log(o), math.log(c)
    drift = end - start - walk[-1]
    path = [min(h, max(lo_m, math.exp(start + walk[k] + drift * k / 60))) for k in range(61)]
    bars = []
    for s in range(60):
        po, pc = path[s], path[s + 1]
        hi = min(h, max(po, pc) * math.exp(abs(rng.gauss(0, sigma * 0.3))))
        lo = max(lo_m, min(po, pc) * math.exp(-abs(rng.gauss(0, sigma * 0.3))))
        bars.append((po, hi, lo, pc, 0.0, 0.0))
    return tuple(bars)


# ----------------------------------------------------------------------------- derivatives


def _years_to_expiry(expiry: date, moment: datetime) -> float:
    return max(0.0, (session_end(expiry) - moment).total_seconds()) / (365 * DAY)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def option_value(spot: float, strike: float, years: float, is_call: bool) -> float:
    """Black-Scholes with a smile; intrinsic value at expiry."""
    if years <= 0:
        return max(0.0, spot - strike) if is_call else max(0.0, strike - spot)
    sigma = 0.13 + 0.8 * abs(math.log(strike / spot))
    root = sigma * math.sqrt(years)
    d1 = (math.log(spot / strike) + (RISK_FREE + sigma * sigma / 2) * years) / root
    d2 = d1 - root
    discount = math.exp(-RISK_FREE * years)
    if is_call:
        return spot * _norm_cdf(d1) - strike * discount * _norm_cdf(d2)
    return strike * discount * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


def _transform(inst: Instrument, bar: Bar, moment: datetime) -> tuple[float, float, float, float]:
    """Map an underlying bar to the derivative; puts take their high from the spot's low."""
    assert inst.expiry is not None
    years = _years_to_expiry(inst.expiry, moment)
    if inst.kind == "future":
        carry = math.exp(RISK_FREE * years)
        return bar[0] * carry, bar[1] * carry, bar[2] * carry, bar[3] * carry
    strike, is_call = inst.strike or 0.0, inst.right == "CE"
    o, h, lo, c = (option_value(p, strike, years, is_call) for p in bar[:4])
    if inst.kind == "option" and inst.right == "PE":
        h, lo = lo, h
    return o, h, lo, c


def _seed_key(inst: Instrument) -> str:
    return f"{inst.exchange}:{inst.stock_code}:{inst.kind}:{inst.expiry}:{inst.strike}:{inst.right}"


def _oi_level(inst: Instrument, day: date, spot: float) -> float:
    n = day.toordinal()
    wave = 1 + 0.1 * math.sin(n / 9 + _rng(_seed_key(inst), "oiphase").random() * 6.28)
    if inst.kind == "future":
        # index futures keep the level NIFTY always had; stock futures scale with the lot
        return (15_000_000 if inst.stock_code in INDEX_CODES else 40_000 * inst.lot) * wave
    moneyness = (inst.strike or spot) / spot - 1
    return inst.lot * (30_000 * math.exp(-((moneyness / 0.03) ** 2)) + 300) * wave


@lru_cache(maxsize=8192)
def instrument_minutes(inst: Instrument, day: date) -> tuple[Bar, ...]:
    """375 unrounded minute bars of ``inst`` on ``day``, volume and oi included."""
    under = _underlying_minutes(inst.price_key, day)
    if inst.kind in ("equity", "index"):
        if inst.kind == "index":
            return tuple((o, h, lo, c, 0.0, 0.0) for o, h, lo, c, _v, _oi in under)
        if inst.exchange == "NSE":
            return under
        rng = _rng(_seed_key(inst), "bse", day.isoformat())
        out = []
        for o, h, lo, c, v, _oi in under:
            shift = rng.randint(-2, 2) * inst.tick
            out.append((o + shift, h + shift, lo + shift, c + shift, v * 0.07, 0.0))
        return tuple(out)
    rng = _rng(_seed_key(inst), "minutes", day.isoformat())
    start = session_start(day)
    spot_open = under[0][0]
    oi_open = _oi_level(inst, previous_trading_day(day), spot_open)
    oi_close = _oi_level(inst, day, spot_open)
    if inst.kind == "future":
        lots_per_minute = 800.0
    else:
        moneyness = (inst.strike or spot_open) / spot_open - 1
        lots_per_minute = 1500 * math.exp(-((moneyness / 0.02) ** 2)) + 3
    bars = []
    for m, bar in enumerate(under):
        moment = start + timedelta(minutes=m)
        o, h, lo, c = _transform(inst, bar, moment)
        lots = max(1, round(lots_per_minute * math.exp(rng.gauss(0, 0.5))))
        oi = oi_open + (oi_close - oi_open) * (m + 1) / SESSION_MINUTES
        bars.append((o, h, lo, c, float(lots * inst.lot), float(round(oi / inst.lot) * inst.lot)))
    return tuple(bars)


@lru_cache(maxsize=4096)
def _instrument_seconds(inst: Instrument, day: date, minute: int) -> tuple[Bar, ...]:
    minute_bar = instrument_minutes(inst, day)[minute]
    under = _underlying_seconds(inst.price_key, day, minute)
    rng = _rng(_seed_key(inst), "secvol", day.isoformat(), minute)
    weights = [rng.expovariate(1.0) for _ in range(60)]
    total = sum(weights)
    moment = session_start(day) + timedelta(minutes=minute)
    out = []
    for s, bar in enumerate(under):
        if inst.is_derivative:
            o, h, lo, c = _transform(inst, bar, moment)
        else:
            o, h, lo, c = bar[:4]
            if inst.exchange == "BSE":
                shift = minute_bar[0] - _underlying_minutes(inst.price_key, day)[minute][0]
                o, h, lo, c = o + shift, h + shift, lo + shift, c + shift
        volume = minute_bar[4] * weights[s] / total
        out.append((o, h, lo, c, volume, minute_bar[5]))
    return tuple(out)


# ----------------------------------------------------------------------------- candles


def _round_candle(
    inst: Instrument,
    start: datetime,
    bars: list[Bar] | tuple[Bar, ...],
) -> Candle:
    tick = inst.tick
    floor = tick
    o = max(floor, round_to_tick(bars[0][0], tick))
    c = max(floor, round_to_tick(bars[-1][3], tick))
    h = max(floor, round_to_tick(max(b[1] for b in bars), tick), o, c)
    lo = max(floor, min(round_to_tick(min(b[2] for b in bars), tick), o, c))
    volume = round(sum(b[4] for b in bars))
    if inst.is_derivative:
        volume = max(inst.lot, round(volume / inst.lot) * inst.lot)
    oi = int(bars[-1][5]) if inst.is_derivative else None
    return Candle(start, o, h, lo, c, int(volume), oi)


def _listing_bounds(inst: Instrument) -> tuple[date | None, date | None]:
    if inst.expiry is None:
        return None, None
    return inst.expiry - timedelta(days=LISTING_DAYS), inst.expiry


def candles(
    inst: Instrument,
    step: int,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int | None = None,
) -> list[Candle]:
    """Completed candles whose bucket start lies in [start, end], ascending.

    ``step`` is the bucket in seconds (1, 60, 300, 1800) or ``DAY``. Day candles are stamped
    ``YYYY-MM-DD 00:00:00`` and are selected by calendar date. Only candles that have fully
    closed by ``now`` are returned. With ``limit`` the newest ``limit`` candles are kept.
    """
    if start > end:
        return []
    first, last = start.date(), min(end.date(), now.date())
    listed_from, listed_to = _listing_bounds(inst)
    if listed_from:
        first = max(first, listed_from)
    if listed_to:
        last = min(last, listed_to)
    if step == 1:
        first = max(first, ONE_SECOND_HISTORY_START)
    if first > last:
        return []
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    days = [d for d in days if is_trading_day(d)]
    out: list[Candle] = []
    for day in reversed(days) if limit else days:
        keep = limit - len(out) if limit else None
        day_candles = _day_candles(inst, day, step, start, end, now, keep)
        if limit:
            out.extend(reversed(day_candles))
            if len(out) >= limit:
                break
        else:
            out.extend(day_candles)
    if limit:
        out = out[:limit]
        out.reverse()
    return out


def _day_candles(
    inst: Instrument,
    day: date,
    step: int,
    start: datetime,
    end: datetime,
    now: datetime,
    keep_last: int | None = None,
) -> list[Candle]:
    s0, s1 = session_start(day), session_end(day)
    if step == DAY:
        if s1 <= now and start.date() <= day <= end.date():
            return [
                _round_candle(
                    inst, datetime.combine(day, datetime.min.time()), instrument_minutes(inst, day)
                )
            ]
        return []
    total = (s1 - s0).total_seconds()
    slots = math.ceil(total / step)
    lo_k = max(0, math.ceil((start - s0).total_seconds() / step))
    hi_k = min(slots - 1, math.floor((end - s0).total_seconds() / step))
    done = slots - 1 if now >= s1 else math.floor((now - s0).total_seconds() / step) - 1
    hi_k = min(hi_k, done)
    if keep_last is not None:
        lo_k = max(lo_k, hi_k - keep_last + 1)
    out = []
    for k in range(lo_k, hi_k + 1):
        bucket_start = s0 + timedelta(seconds=k * step)
        if step == 1:
            minute, second = divmod(k, 60)
            bars: tuple[Bar, ...] | list[Bar] = [_instrument_seconds(inst, day, minute)[second]]
        else:
            per = step // 60
            bars = instrument_minutes(inst, day)[k * per : min((k + 1) * per, SESSION_MINUTES)]
        out.append(_round_candle(inst, bucket_start, bars))
    return out


# ----------------------------------------------------------------------------- quotes


def last_session(now: datetime) -> tuple[date, int]:
    """(session day, completed minutes) that a quote taken at ``now`` reflects."""
    today = now.date()
    if is_trading_day(today) and now >= session_start(today):
        done = int((now - session_start(today)).total_seconds() // 60)
        return today, min(SESSION_MINUTES, done)
    return previous_trading_day(today), SESSION_MINUTES


def _close_and_oi(inst: Instrument, day: date) -> tuple[float, int | None]:
    """Closing price and closing open interest of a day, without building derivative bars.

    Quotes need the previous session's close for every strike of a chain; transforming only the
    last underlying bar keeps the first chain request of the day cheap.
    """
    if not inst.is_derivative:
        bars = instrument_minutes(inst, day)
        return max(inst.tick, round_to_tick(bars[-1][3], inst.tick)), None
    under = _underlying_minutes(inst.price_key, day)
    last_minute = session_start(day) + timedelta(minutes=SESSION_MINUTES - 1)
    close = _transform(inst, under[-1], last_minute)[3]
    oi = _oi_level(inst, day, under[0][0])
    return max(inst.tick, round_to_tick(close, inst.tick)), int(round(oi / inst.lot) * inst.lot)


def session_close(inst: Instrument, day: date) -> float:
    """Rounded closing price of ``inst`` on ``day`` (a trading day, past or future)."""
    return _close_and_oi(inst, day)[0]


@lru_cache(maxsize=8192)
def _snapshot(inst: Instrument, day: date, done: int) -> Snapshot:
    bars = instrument_minutes(inst, day)
    previous_close, previous_oi = _close_and_oi(inst, previous_trading_day(day))
    s0 = session_start(day)
    if done == 0:
        first = bars[0]
        opening = (first[0], first[0], first[0], first[0], 0.0, float(previous_oi or 0))
        candle = _round_candle(inst, s0, [opening])
        ltt = s0
    else:
        candle = _round_candle(inst, s0, bars[:done])
        lag = 1 + _seed(_seed_key(inst), day, done) % 9
        ltt = s0 + timedelta(minutes=done) - timedelta(seconds=lag)
    return Snapshot(
        session_day=day,
        ltp=candle.close,
        ltt=ltt,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        previous_close=previous_close,
        volume=candle.volume if done else 0,
        oi=candle.oi,
        previous_oi=previous_oi,
    )


def snapshot(inst: Instrument, now: datetime) -> Snapshot:
    """The quote state of ``inst`` at ``now`` (constant within a one-minute bucket)."""
    day, done = last_session(now)
    return _snapshot(inst, day, done)


def book(inst: Instrument, snap: Snapshot) -> dict[str, float | int]:
    """Level-1 book and flow numbers derived deterministically from the snapshot."""
    rng = _rng(_seed_key(inst), "book", snap.ltt.isoformat())
    spread = rng.randint(1, 3) * inst.tick
    lots = inst.lot
    return {
        "bid": max(inst.tick, round_to_tick(snap.ltp - spread, inst.tick)),
        "ask": round_to_tick(snap.ltp + spread, inst.tick),
        "bid_qty": rng.randint(1, 40) * lots,
        "ask_qty": rng.randint(1, 40) * lots,
        "ltq": rng.randint(1, 10) * lots,
        "total_buy": rng.randint(50, 5000) * lots,
        "total_sell": rng.randint(50, 5000) * lots,
    }


class PriceEngine:
    """Facade over the module functions (kept as an object so callers can swap it in tests)."""

    candles = staticmethod(candles)
    snapshot = staticmethod(snapshot)
    session_close = staticmethod(session_close)
    book = staticmethod(book)


ENGINE = PriceEngine()
