"""What each kind of listener receives for one tick: the seed frontend's ``watchlist_update``,
the native ``tick`` and ``depth`` events, and a REST quote row (quotes served from the stream).

Every function here is pure: a tick message in (what the leader published: the decoded tick,
its feed's sequence number, the previous close), a dict out. A message is shaped once per
variant (the name a client used) and the encoded packet is shared by every client that asked
for it that way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from breeze.clock import IST, isoformat
from breeze.gateway.ticks import depth_levels


@dataclass(frozen=True)
class Described:
    """A feed's instrument, as the instance that resolved it wrote it down (``stream:feeds``)."""

    exchange_code: str
    stock_code: str  # Breeze's code
    symbol: str  # the exchange's
    product_type: str = "cash"
    expiry_date: str = ""  # ISO date
    right: str = ""
    strike_price: str = ""
    kind: str = "equity"  # equity, index, future, option

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Described:
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def is_index(self) -> bool:
        return self.kind == "index"

    def instrument(self) -> dict[str, Any]:
        """The instrument as native events name it."""
        data: dict[str, Any] = {
            "symbol": self.symbol,
            "stock_code": self.stock_code,
            "exchange_code": self.exchange_code,
            "product_type": self.product_type,
        }
        if self.expiry_date:
            data["expiry_date"] = self.expiry_date
        if self.product_type == "options":
            data["right"], data["strike_price"] = self.right, self.strike_price
        return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


# The tick's keys (BREEZE_API.md §6) under the names every payload here gives them.
BEST_BID_OFFER = {
    "best_bid_price": "bPrice",
    "best_bid_quantity": "bQty",
    "best_offer_price": "sPrice",
    "best_offer_quantity": "sQty",
}
OPEN_HIGH_LOW = {"open": "open", "high": "high", "low": "low"}


def numbers(tick: dict[str, Any], names: dict[str, str]) -> dict[str, float | None]:
    """``tick``'s values for ``names`` (payload name → tick key), as numbers."""
    return {name: _number(tick.get(key)) for name, key in names.items()}


def previous_close(message: dict[str, Any]) -> float | None:
    """The true previous close: an equity or F&O tick's ``close``; for an index, whose ticks
    carry the previous second's value there, the one the leader took from a quote."""
    if message.get("pc") is not None:
        return _number(message["pc"])
    if message.get("index"):
        return None
    return _number(message["t"].get("close"))


def changes(last: float | None, close: float | None) -> tuple[float | None, float | None]:
    """(absolute change, percent change) of ``last`` against ``close``."""
    if last is None or close is None or close == 0:
        return None, None
    change = last - close
    return round(change, 4), round(change / close * 100, 2)


def exchange_time(message: dict[str, Any]) -> str:
    return isoformat(datetime.fromtimestamp(message["t"]["epoch"], IST))


def watchlist_update(message: dict[str, Any], described: Described, asked_as: str) -> dict:
    """The seed frontend's event: the tick as the SDK gives it plus the fields the Flask proxy
    added, ``stock_code`` being the name the client sent."""
    tick = message["t"]
    last = _number(tick.get("last"))
    close = previous_close(message)
    change, percent = changes(last, close)
    payload = dict(tick)
    payload.update(
        {
            "symbol": described.symbol,
            "stock_code": asked_as,
            "breeze_code": described.stock_code,
            "exchange_code": described.exchange_code,
            "ltp": last,
            "last_traded_price": last,
            "previous_close": close,
            "change": change,
            "ltp_percent_change": percent,
            "percent_change": percent,
            **numbers(tick, BEST_BID_OFFER),
            "volume": _number(tick.get("ttq")),
            "total_quantity_traded": _number(tick.get("ttq")),
            **numbers(tick, OPEN_HIGH_LOW),
            "exchange_time": exchange_time(message),
            "seq": message["s"],
        }
    )
    return _flagged(payload, message)


def native_tick(message: dict[str, Any], described: Described, ident: str) -> dict[str, Any]:
    tick = message["t"]
    last = _number(tick.get("last"))
    close = previous_close(message)
    change, percent = changes(last, close)
    payload: dict[str, Any] = {
        "id": ident,
        "instrument": described.instrument(),
        "seq": message["s"],
        "exchange_time": exchange_time(message),
        "ltp": last,
        **numbers(tick, OPEN_HIGH_LOW),
        "previous_close": close,
        "change": change,
        "percent_change": percent,
        **numbers(tick, BEST_BID_OFFER),
        "last_traded_quantity": _number(tick.get("ltq")),
        "average_price": _number(tick.get("avgPrice")),
        "volume": _number(tick.get("ttq")),
        "total_buy_quantity": _number(tick.get("totalBuyQt")),
        "total_sell_quantity": _number(tick.get("totalSellQ")),
        "lower_circuit": _number(tick.get("lowerCktLm")),
        "upper_circuit": _number(tick.get("upperCktLm")),
    }
    if "OI" in tick:
        payload["open_interest"] = _number(tick.get("OI"))
        payload["open_interest_change"] = _number(tick.get("CHNGOI"))
    return _flagged(payload, message)


def native_depth(message: dict[str, Any], described: Described, ident: str) -> dict[str, Any]:
    levels = depth_levels(message["t"])
    payload = {
        "id": ident,
        "instrument": described.instrument(),
        "seq": message["s"],
        "exchange_time": exchange_time(message),
        "levels": levels,
    }
    return _flagged(payload, message)


def _flagged(payload: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    if message.get("snapshot"):
        payload["snapshot"] = True
    return payload


def _ltt(epoch: int) -> str:
    moment = datetime.fromtimestamp(epoch, IST)
    return f"{moment:%d-%b-%Y %H:%M:%S}"


def _dd_mon_yyyy(iso: str) -> str | None:
    return f"{date.fromisoformat(iso):%d-%b-%Y}" if iso else None


def quote_row(message: dict[str, Any], described: Described) -> dict[str, Any]:
    """A tick as one row of Breeze's REST quote answer (what ``/breeze/quotes`` sends)."""
    tick = message["t"]
    last = _number(tick.get("last"))
    close = previous_close(message)
    _, percent = changes(last, close)
    derivative = described.product_type in ("futures", "options")
    return {
        "exchange_code": described.exchange_code,
        "product_type": {"futures": "Future", "options": "Options"}.get(described.product_type, ""),
        "stock_code": described.stock_code,
        "expiry_date": _dd_mon_yyyy(described.expiry_date) if derivative else None,
        "right": described.right.capitalize() if described.product_type == "options" else None,
        "strike_price": _number(described.strike_price) or 0.0,
        "ltp": last,
        "ltt": _ltt(tick["epoch"]),
        "best_bid_price": _number(tick.get("bPrice")) or 0.0,
        "best_bid_quantity": str(tick.get("bQty") or 0),
        "best_offer_price": _number(tick.get("sPrice")) or 0.0,
        "best_offer_quantity": str(tick.get("sQty") or 0),
        **numbers(tick, OPEN_HIGH_LOW),
        "previous_close": close,
        "ltp_percent_change": percent,
        "upper_circuit": _number(tick.get("upperCktLm")),
        "lower_circuit": _number(tick.get("lowerCktLm")),
        "total_quantity_traded": str(tick.get("ttq") or 0),
        "spot_price": None,
    }


def depth_row(message: dict[str, Any], described: Described, quote: dict[str, Any] | None) -> dict:
    """``/breeze/depth``'s row with the depth feed's five levels."""
    levels = depth_levels(message["t"])
    top = levels[0] if levels else {}
    return {
        "exchange_code": described.exchange_code,
        "stock_code": described.stock_code,
        "best_bid_price": top.get("bid_price"),
        "best_bid_quantity": top.get("bid_quantity"),
        "best_offer_price": top.get("offer_price"),
        "best_offer_quantity": top.get("offer_quantity"),
        "ltp": (quote or {}).get("ltp"),
        "levels": len(levels),
        "depth": levels,
        "exchange_time": exchange_time(message),
    }
