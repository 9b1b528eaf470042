"""The Breeze market-data endpoints as pure functions: parsed request in, envelope out.

Transport concerns (auth headers, checksum, rate limit, faults) live in ``server.py``; this
module only knows instruments and prices, which keeps the response shapes easy to read against
BREEZE_API.md §3.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from . import protocol as p
from .instruments import Instrument, Universe
from .market_time import (
    fmt_candle,
    fmt_dd_mon_yy_upper,
    fmt_dd_mon_yyyy,
    fmt_dd_mon_yyyy_upper,
    fmt_ltt,
    next_trading_day,
    parse_expiry,
    parse_request_datetime,
)
from .prices import DAY, ENGINE, Candle, Snapshot, round_to_tick
from .state import USER_ID, USER_NAME

V1_INTERVALS = {
    "minute": 60,
    "1minute": 60,
    "5minute": 300,
    "30minute": 1800,
    "day": DAY,
    "1day": DAY,
}
V2_INTERVALS = {"1second": 1, "1minute": 60, "5minute": 300, "30minute": 1800, "1day": DAY}
V2_CANDLE_CAP = 1000
CASH_PRODUCTS = ("", "cash", "mtf", "btst", "margin")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _right_code(value: Any) -> str | None:
    right = _text(value).lower()
    if right in ("call", "ce", "c"):
        return "CE"
    if right in ("put", "pe", "p"):
        return "PE"
    return None


def _strike(value: Any) -> float | None:
    try:
        strike = float(_text(value))
    except ValueError:
        return None
    return strike if strike > 0 else None


def _num_text(value: float) -> str:
    """Numbers inside v1 history strings: ``23346.6``, ``1250.0``, ``23200``-style strikes."""
    return str(int(value)) if float(value).is_integer() else repr(round(value, 2))


def _strike_text(value: float | None) -> str:
    return _num_text(value or 0.0)


def _right_word(inst: Instrument, futures_word: str) -> str:
    if inst.kind == "option":
        return "Call" if inst.right == "CE" else "Put"
    return futures_word


def _product_kind(product: str) -> str | None:
    product = product.lower()
    if product in CASH_PRODUCTS:
        return "cash"
    if product in ("futures", "future"):
        return "future"
    if product in ("options", "option"):
        return "option"
    return None


def resolve(
    universe: Universe,
    fields: dict[str, Any],
    *,
    exchange_key: str = "exchange_code",
    allow_unlisted: bool = False,
) -> Instrument | None:
    """Find the instrument a request names; None when Breeze would not know it.

    Cash and indices live on NSE/BSE, futures and options on NFO/BFO, currency and commodity
    futures on NDX/MCX. ``allow_unlisted`` (for history) also accepts NFO/BFO contracts outside
    today's list, e.g. expired ones.
    """
    code = _text(fields.get("stock_code")).upper()
    exchange = _text(fields.get(exchange_key)).upper()
    kind = _product_kind(_text(fields.get("product_type")))
    if not code or kind is None:
        return None
    if exchange in ("NSE", "BSE"):
        return universe.cash(exchange, code) if kind == "cash" else None
    if exchange not in ("NFO", "BFO", "NDX", "MCX") or kind == "cash":
        return None
    expiry = parse_expiry(fields.get("expiry_date"))
    if kind == "future":
        inst = universe.future(code, expiry, exchange)
        strike, right = None, None
    else:
        strike, right = _strike(fields.get("strike_price")), _right_code(fields.get("right"))
        inst = universe.option(code, expiry, strike, right, exchange)
    if inst is None and allow_unlisted:
        inst = universe.unlisted_contract(exchange, code, kind, expiry, strike, right)
    return inst


# ----------------------------------------------------------------------------- quotes


def _pct(ltp: float, previous: float) -> float:
    return round((ltp - previous) / previous * 100, 2) if previous else 0.0


def _circuits(inst: Instrument, snap: Snapshot, spot: float | None) -> tuple[float, float]:
    tick, prev = inst.tick, snap.previous_close
    if inst.kind == "index":
        return 0.0, 0.0
    if inst.kind == "option":
        band = (spot or prev) * 0.05
        return round_to_tick(prev + band, tick), max(tick, round_to_tick(prev - band, tick))
    return round_to_tick(prev * 1.1, tick), round_to_tick(prev * 0.9, tick)


def quote_row(inst: Instrument, now: datetime, spot: Snapshot | None = None) -> dict[str, Any]:
    """One quotes row with the README's field names and mixed types."""
    snap = ENGINE.snapshot(inst, now)
    book = ENGINE.book(inst, snap)
    is_index = inst.kind == "index"
    upper, lower = _circuits(inst, snap, spot.ltp if spot else None)
    if inst.is_derivative:
        assert inst.expiry is not None
        head = {
            "exchange_code": inst.exchange,
            "product_type": "Future" if inst.kind == "future" else "Options",
            "stock_code": inst.stock_code,
            "expiry_date": fmt_dd_mon_yyyy(inst.expiry),
            "right": _right_word(inst, "*"),
            "strike_price": float(inst.strike or 0.0),
        }
    else:
        head = {
            "exchange_code": inst.exchange,
            "product_type": "",
            "stock_code": inst.stock_code,
            "expiry_date": None,
            "right": None,
            "strike_price": 0.0,
        }
    return {
        **head,
        "ltp": snap.ltp,
        "ltt": fmt_ltt(snap.ltt),
        "best_bid_price": 0.0 if is_index else book["bid"],
        "best_bid_quantity": "0" if is_index else str(book["bid_qty"]),
        "best_offer_price": 0.0 if is_index else book["ask"],
        "best_offer_quantity": "0" if is_index else str(book["ask_qty"]),
        "open": snap.open,
        "high": snap.high,
        "low": snap.low,
        "previous_close": snap.previous_close,
        "ltp_percent_change": _pct(snap.ltp, snap.previous_close),
        "upper_circuit": upper,
        "lower_circuit": lower,
        "total_quantity_traded": str(snap.volume),
        "spot_price": str(spot.ltp) if spot else None,
    }


def _na_row(code: str) -> dict[str, Any]:
    """The all-zero second row Breeze returns for an index (there is no BSE quote)."""
    zero = 0.0
    return {
        "exchange_code": "NA",
        "product_type": "",
        "stock_code": code,
        "expiry_date": None,
        "right": None,
        "strike_price": zero,
        "ltp": zero,
        "ltt": "NA",
        "best_bid_price": zero,
        "best_bid_quantity": "0",
        "best_offer_price": zero,
        "best_offer_quantity": "0",
        "open": zero,
        "high": zero,
        "low": zero,
        "previous_close": zero,
        "ltp_percent_change": zero,
        "upper_circuit": zero,
        "lower_circuit": zero,
        "total_quantity_traded": "0",
        "spot_price": None,
    }


def _spot_for(universe: Universe, inst: Instrument, now: datetime) -> Snapshot | None:
    underlying = universe.underlying(inst)
    return ENGINE.snapshot(underlying, now) if underlying else None


def quotes(body: dict[str, Any], now: datetime, universe: Universe) -> dict[str, Any]:
    """Cash/index: two rows (NSE first, then BSE or the "NA" row). F&O: one row.

    An instrument listed on BSE only (the SENSEX index) answers with its BSE row and "NA".
    """
    inst = resolve(universe, body)
    if inst is None:
        return p.envelope([])
    if inst.is_derivative:
        return p.envelope([quote_row(inst, now, _spot_for(universe, inst, now))])
    nse = universe.cash("NSE", inst.stock_code)
    bse = universe.cash("BSE", inst.stock_code)
    first = nse or bse
    assert first is not None
    second = quote_row(bse, now) if nse and bse else _na_row(first.stock_code)
    return p.envelope([quote_row(first, now), second])


def option_chain(body: dict[str, Any], now: datetime, universe: Universe) -> dict[str, Any]:
    """Every listed strike matching expiry/right/strike, with the chain's extra fields."""
    code = _text(body.get("stock_code")).upper()
    exchange = _text(body.get("exchange_code")).upper()
    kind = _product_kind(_text(body.get("product_type")))
    if exchange not in ("NFO", "BFO") or kind not in ("future", "option") or not code:
        return p.envelope([])
    expiry_text = _text(body.get("expiry_date"))
    expiry = parse_expiry(expiry_text) if expiry_text else None
    if expiry_text and expiry is None:
        return p.envelope([])
    if kind == "future":
        contracts = universe.futures_of(code, expiry, exchange)
    else:
        right_text = _text(body.get("right"))
        right = _right_code(right_text) if right_text else None
        strike_text = _text(body.get("strike_price"))
        strike = _strike(strike_text) if strike_text else None
        if (right_text and right is None) or (strike_text and strike is None):
            return p.envelope([])
        contracts = universe.chain(code, expiry, right, strike, exchange)
    rows = []
    for inst in contracts:
        spot = _spot_for(universe, inst, now)
        row = quote_row(inst, now, spot)
        snap = ENGINE.snapshot(inst, now)
        book = ENGINE.book(inst, snap)
        oi = float(snap.oi or 0)
        row.update(
            {
                "ltq": str(book["ltq"]),
                "open_interest": oi,
                "chnge_oi": oi - float(snap.previous_oi or 0),
                "total_buy_qty": str(book["total_buy"]),
                "total_sell_qty": str(book["total_sell"]),
            }
        )
        rows.append(row)
    return p.envelope(rows)


# ----------------------------------------------------------------------------- history


def _parse_range(fields: dict[str, Any]) -> tuple[datetime, datetime] | str:
    start = parse_request_datetime(fields.get("from_date"))
    if start is None:
        return p.ERR_BAD_DATE.format(field="from_date")
    end = parse_request_datetime(fields.get("to_date"))
    if end is None:
        return p.ERR_BAD_DATE.format(field="to_date")
    return start, end


def _v1_row(inst: Instrument, candle: Candle, index: int) -> dict[str, Any]:
    derivative = inst.is_derivative
    return {
        "datetime": fmt_candle(candle.start),
        "stock_code": inst.stock_code,
        "exchange_code": inst.exchange,
        "product_type": ("Futures" if inst.kind == "future" else "Options") if derivative else None,
        "expiry_date": fmt_dd_mon_yy_upper(inst.expiry) if derivative and inst.expiry else None,
        "right": _right_word(inst, "Others") if derivative else None,
        "strike_price": _strike_text(inst.strike) if derivative else None,
        "open": _num_text(candle.open),
        "high": _num_text(candle.high),
        "low": _num_text(candle.low),
        "close": _num_text(candle.close),
        "volume": str(candle.volume),
        "open_interest": str(candle.oi) if derivative else None,
        "count": index,
    }


def history_v1(body: dict[str, Any], now: datetime, universe: Universe) -> dict[str, Any]:
    """v1 candles: string values, integer ``count`` (the 1-based row number), nulls for cash."""
    interval = _text(body.get("interval"))
    step = V1_INTERVALS.get(interval.lower())
    if step is None:
        return p.error(p.ERR_BAD_INTERVAL.format(value=interval))
    parsed = _parse_range(body)
    if isinstance(parsed, str):
        return p.error(parsed)
    inst = resolve(universe, body, allow_unlisted=True)
    if inst is None:
        return p.error(p.ERR_HISTORICAL_FAIL)
    found = ENGINE.candles(inst, step, parsed[0], parsed[1], now)
    return p.envelope([_v1_row(inst, c, i + 1) for i, c in enumerate(found)])


def _v2_row(inst: Instrument, candle: Candle) -> dict[str, Any]:
    row: dict[str, Any] = {
        "close": candle.close,
        "datetime": fmt_candle(candle.start),
        "exchange_code": inst.exchange,
        "high": candle.high,
        "low": candle.low,
        "open": candle.open,
        "stock_code": inst.stock_code,
        "volume": candle.volume,
    }
    if inst.is_derivative and inst.expiry:
        row["expiry_date"] = fmt_dd_mon_yyyy_upper(inst.expiry)
        row["open_interest"] = candle.oi
        row["product_type"] = "Futures" if inst.kind == "future" else "Options"
        if inst.kind == "option":
            row["right"] = _right_word(inst, "Others")
            row["strike_price"] = float(inst.strike or 0.0)
    return dict(sorted(row.items()))


def history_v2(params: dict[str, str], now: datetime, universe: Universe) -> dict[str, Any]:
    """v2 candles: numbers, sorted keys, no count, at most the last 1000 ending at to_date."""
    interval = _text(params.get("interval"))
    step = V2_INTERVALS.get(interval.lower())
    if step is None:
        return p.error(p.ERR_BAD_INTERVAL.format(value=interval))
    parsed = _parse_range(params)
    if isinstance(parsed, str):
        return p.error(parsed)
    inst = resolve(universe, params, exchange_key="exch_code", allow_unlisted=True)
    if inst is None:
        return p.envelope([])
    found = ENGINE.candles(inst, step, parsed[0], parsed[1], now, limit=V2_CANDLE_CAP)
    return p.envelope([_v2_row(inst, c) for c in found])


# ----------------------------------------------------------------------------- customer


def customer_success(session_token: str, now: datetime) -> dict[str, Any]:
    """The customerdetails ``Success`` object of §2.1 for the simulated account."""
    trade_day = fmt_dd_mon_yyyy(next_trading_day(now.date()))
    return {
        "exg_trade_date": {"NSE": trade_day, "BSE": trade_day, "FNO": trade_day, "NDX": trade_day},
        "exg_status": {"NSE": "O", "BSE": "O", "FNO": "Y", "NDX": "X"},
        "segments_allowed": {"Trading": "Y", "Equity": "Y", "Derivatives": "Y", "Currency": "Z"},
        "idirect_userid": USER_ID,
        "session_token": session_token,
        "idirect_user_name": USER_NAME,
        "idirect_ORD_TYP": "N",
        "idirect_lastlogin_time": fmt_ltt(now),
        "mf_holding_mode_popup_flg": "N",
        "commodity_exchange_status": "Y",
        "commodity_trade_date": trade_day,
        "commodity_allowed": "O",
    }


def expiry_label(day: date) -> str:
    """Expiry in the request style the SDK README uses (``2025-02-27T06:00:00.000Z``)."""
    return f"{day.isoformat()}T06:00:00.000Z"
