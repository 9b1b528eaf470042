"""Breeze's live feed, decoded once (BREEZE_API.md §6): feed tokens and tick arrays.

A feed is named ``X.Y!<token>``: X the exchange (4 NSE and NFO, 1 BSE, 8 BFO, 13 NDX), Y 1 for
quotes and 2 for market depth, ``<token>`` the SecurityMaster token (an index's name for an
index, ``4.1!NIFTY 50``). :func:`feed_token` refuses to build a token from nothing, so the SDK's
``4.1!False`` (joined for an unknown stock code) cannot happen here.

:func:`decode` turns an array into the dict the SDK's ``parse_data`` makes, with the same keys,
so clients written against the SDK's ticks read ours unchanged, with two corrections: ``ltt`` and
``time`` are rendered in IST (the SDK renders the machine's local time, UTC on a server), and
every tick also carries ``epoch`` (the exchange timestamp, seconds) and ``feed`` (the token).
Anything that does not have one of the documented layouts decodes to None: a feed that changes
shape is logged and skipped, never passed on half-read.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from breeze.clock import IST

EXCHANGE_DIGITS = {"NSE": "4", "NFO": "4", "BSE": "1", "BFO": "8", "NDX": "13"}
QUOTES, DEPTH = "1", "2"
_EXCHANGE_LABELS = {"1": "BSE", "13": "NSE Currency"}
_QUOTE_HEAD = (
    "symbol", "open", "last", "high", "low", "change", "bPrice", "bQty", "sPrice", "sQty",
    "ltq", "avgPrice",
)  # fmt: skip
_QUOTE_TAIL = (
    "ttq", "totalBuyQt", "totalSellQ", "ttv", "trend", "lowerCktLm", "upperCktLm", "ltt", "close",
)  # fmt: skip
_DEPTH_FIELDS = {
    "1": ("BestBuyRate", "BestBuyQty", "BestSellRate", "BestSellQty"),
    "8": (
        "BestBuyRate", "BestBuyQty", "BuyNoOfOrders", "BestSellRate", "BestSellQty",
        "SellNoOfOrders",
    ),
    "*": (
        "BestBuyRate", "BestBuyQty", "BuyNoOfOrders", "BuyFlag", "BestSellRate", "BestSellQty",
        "SellNoOfOrders", "SellFlag",
    ),
}  # fmt: skip
_EARLIEST, _LATEST = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01: anything else is noise


class UnknownToken(ValueError):
    """No feed token can be made: the instrument has no token in the master."""


def feed_token(exchange_code: str, token: str, *, depth: bool = False) -> str:
    """The token to join for an instrument: ``feed_token("NSE", "2885")`` is ``4.1!2885``."""
    digit = EXCHANGE_DIGITS.get(exchange_code)
    token = (token or "").strip()
    if digit is None:
        raise UnknownToken(f"{exchange_code} has no live feed.")
    if not token or token.lower() in ("false", "none", "nan") or "!" in token:
        raise UnknownToken(f"No streaming token for that instrument on {exchange_code}.")
    return f"{digit}.{DEPTH if depth else QUOTES}!{token}"


def parse_feed(text: Any) -> tuple[str, str, str] | None:
    """``"4.1!2885"`` → ``("4", "1", "2885")``; None when it is not a feed token."""
    if not isinstance(text, str):
        return None
    head, bang, token = text.partition("!")
    digit, dot, kind = head.partition(".")
    if not bang or not dot or not token or kind not in (QUOTES, DEPTH):
        return None
    if digit not in EXCHANGE_DIGITS.values():
        return None
    return digit, kind, token


def is_depth(feed: str) -> bool:
    parsed = parse_feed(feed)
    return parsed is not None and parsed[1] == DEPTH


def quotes_feed(feed: str) -> str:
    """The quotes feed of the same instrument (``4.2!2885`` → ``4.1!2885``)."""
    digit, _, token = parse_feed(feed) or ("", "", "")
    return f"{digit}.{QUOTES}!{token}"


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if _EARLIEST <= value < _LATEST else None


def _ist_text(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, IST).strftime("%c")


def _plain(value: Any) -> bool:
    """A JSON scalar Breeze may send in a tick (numbers, text, or nothing)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


def decode(data: Any) -> dict[str, Any] | None:
    """One ``stock`` event's array as the SDK's dict, or None when it has no known layout."""
    if not isinstance(data, list) or not data:
        return None
    parsed = parse_feed(data[0])
    if parsed is None:
        return None
    digit, kind, _ = parsed
    if kind == DEPTH:
        return _depth(data, digit)
    return _quote(data, digit)


def _quote(data: list[Any], digit: str) -> dict[str, Any] | None:
    if len(data) not in (21, 23) or not all(_plain(value) for value in data):
        return None
    epoch = _epoch(data[-2])
    if epoch is None:
        return None
    tick: dict[str, Any] = dict(zip(_QUOTE_HEAD, data[:12], strict=True))
    tick["quotes"] = "Quotes Data"
    if len(data) == 23:
        tick["OI"], tick["CHNGOI"] = data[12], data[13]
    tick.update(zip(_QUOTE_TAIL, data[-9:], strict=True))
    tick["ltt"] = _ist_text(epoch)
    if digit == "4":
        tick["exchange"] = "NSE Equity" if len(data) == 21 else "NSE Futures & Options"
    elif digit in _EXCHANGE_LABELS:
        tick["exchange"] = _EXCHANGE_LABELS[digit]
    tick["epoch"] = epoch
    tick["feed"] = data[0]
    return tick


def _depth(data: list[Any], digit: str) -> dict[str, Any] | None:
    if len(data) != 3 or not isinstance(data[2], list):
        return None
    epoch = _epoch(data[1])
    if epoch is None:
        return None
    names = _DEPTH_FIELDS.get(digit, _DEPTH_FIELDS["*"])
    levels = []
    for n, level in enumerate(data[2], start=1):
        if not isinstance(level, list) or len(level) != len(names):
            return None
        if not all(_plain(value) for value in level):
            return None
        levels.append({f"{name}-{n}": value for name, value in zip(names, level, strict=True)})
    tick: dict[str, Any] = {
        "symbol": data[0],
        "time": _ist_text(epoch),
        "depth": levels,
        "quotes": "Market Depth",
    }
    if digit in _EXCHANGE_LABELS:
        tick["exchange"] = _EXCHANGE_LABELS[digit]
    tick["epoch"] = epoch
    tick["feed"] = data[0]
    return tick


def depth_levels(tick: dict[str, Any]) -> list[dict[str, Any]]:
    """A depth tick's levels in plain names (the same for every exchange's layout)."""
    levels = []
    for n, level in enumerate(tick.get("depth") or [], start=1):
        levels.append(
            {
                "level": n,
                "bid_price": level.get(f"BestBuyRate-{n}"),
                "bid_quantity": level.get(f"BestBuyQty-{n}"),
                "bid_orders": level.get(f"BuyNoOfOrders-{n}"),
                "offer_price": level.get(f"BestSellRate-{n}"),
                "offer_quantity": level.get(f"BestSellQty-{n}"),
                "offer_orders": level.get(f"SellNoOfOrders-{n}"),
            }
        )
    return levels
