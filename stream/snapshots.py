"""A new subscriber's first value: the feed's last tick if the fleet has one, otherwise one REST
quote through the protected path, shaped as a tick so that every listener reads one format.

A snapshot carries ``"snapshot": true``. Taken from the last tick it keeps that tick's ``seq``,
so the next live tick follows on without a gap; taken from REST its ``seq`` is 0.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from breeze.clock import IST
from stream.shapes import BEST_BID_OFFER, Described, _number, numbers

REST_LTT_FORMAT = "%d-%b-%Y %H:%M:%S"


def from_last_tick(raw: bytes) -> dict[str, Any]:
    message = json.loads(raw)
    message["snapshot"] = True
    return message


def _epoch(ltt: Any) -> int:
    try:
        return int(datetime.strptime(str(ltt), REST_LTT_FORMAT).replace(tzinfo=IST).timestamp())
    except ValueError:
        return int(time.time())


def from_rest_row(feed: str, row: dict[str, Any], described: Described) -> dict[str, Any]:
    """A REST quote row as a tick message of ``feed`` (the SDK's tick keys)."""
    epoch = _epoch(row.get("ltt"))
    tick = {
        "symbol": feed,
        "open": _number(row.get("open")),
        "last": _number(row.get("ltp")),
        "high": _number(row.get("high")),
        "low": _number(row.get("low")),
        "change": _number(row.get("ltp_percent_change")),
        **numbers(row, {key: name for name, key in BEST_BID_OFFER.items()}),
        "ltq": None,
        "avgPrice": None,
        "quotes": "Quotes Data",
        "ttq": _number(row.get("total_quantity_traded")),
        "totalBuyQt": None,
        "totalSellQ": None,
        "ttv": None,
        "trend": None,
        "lowerCktLm": _number(row.get("lower_circuit")),
        "upperCktLm": _number(row.get("upper_circuit")),
        "ltt": datetime.fromtimestamp(epoch, IST).strftime("%c"),
        "close": _number(row.get("previous_close")),
        "epoch": epoch,
        "feed": feed,
    }
    return {
        "f": feed,
        "s": 0,
        "x": 0,
        "r": time.time(),
        "t": tick,
        "pc": _number(row.get("previous_close")),
        "index": described.is_index,
        "snapshot": True,
        "source": "rest",
    }
