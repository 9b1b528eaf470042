"""Runs the unmodified breeze_connect SDK's live feed against the simulator; prints one JSON line.

Executed in a subprocess by test_sim_livestream.py (importing the SDK has process-wide side
effects). The SDK's top-level ``config`` module is pointed at the simulator, LIVE_STREAM_URL
included (BREEZE_API.md §1.4 recipe 1), then: generate_session, ws_connect, subscribe_feeds for
quotes, depth, an index and NFO contracts, unsubscribe, and parse_data on arrays the test hands in.
Usage: python sim_stream_driver.py '<json settings>'
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import urllib.request
from typing import Any


def _control(url: str, method: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload or {}).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> None:
    cfg_in = json.loads(sys.argv[1])
    sdk_dir = importlib.util.find_spec("breeze_connect").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("config", os.path.join(sdk_dir, "config.py"))
    cfg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cfg)
    cfg.API_URL = cfg_in["api_url"]
    cfg.BREEZE_NEW_URL = cfg_in["v2_url"]
    cfg.SECURITY_MASTER_URL = cfg_in["zip_url"]
    cfg.LIVE_STREAM_URL = cfg_in["stream_url"]
    # Never contacted here; distinct values keep the SDK's error mapping (it compares the URL
    # it failed on with each of these) on "Failed to connect to live stream".
    cfg.LIVE_FEEDS_URL = "http://127.0.0.1:9/feeds"
    cfg.LIVE_OHLC_STREAM_URL = "http://127.0.0.1:9/ohlc"
    sys.modules["config"] = cfg
    from breeze_connect import BreezeConnect

    out: dict[str, Any] = {}
    ticks: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_ticks(data: dict[str, Any]) -> None:
        with lock:
            ticks.append({**data, "_at": time.time()})

    def run(name: str, fn: Any) -> Any:
        try:
            value = fn()
            out[name] = {"ok": value}
            return value
        except Exception as exc:
            out[name] = {"error": str(exc), "trace": traceback.format_exc(limit=3)}
            return None

    def wait_for(symbol: str, count: int, timeout: float = 6.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                found = [t for t in ticks if t.get("symbol") == symbol]
            if len(found) >= count:
                return found[:count]
            time.sleep(0.02)
        with lock:
            return [t for t in ticks if t.get("symbol") == symbol]

    breeze = BreezeConnect(api_key=cfg_in["api_key"])
    breeze.on_ticks = on_ticks
    run(
        "session",
        lambda: breeze.generate_session(
            api_secret=cfg_in["api_secret"], session_token=cfg_in["api_session"]
        ),
    )
    run("ws_connect", breeze.ws_connect)

    run(
        "sub_quotes",
        lambda: breeze.subscribe_feeds(
            exchange_code="NSE",
            stock_code="RELIND",
            product_type="cash",
            get_exchange_quotes=True,
            get_market_depth=False,
        ),
    )
    out["quote_ticks"] = wait_for("4.1!2885", 3)

    def drop_and_resume() -> int:
        """A dropped connection: the SDK's client reconnects and rewatch() re-joins."""
        _control(cfg_in["control_url"] + "stream", "POST", {"fault": "drop"})
        dropped_at = time.time()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            with lock:
                fresh = [t for t in ticks if t["_at"] > dropped_at + 0.05]
            if fresh:
                return len(fresh)
            time.sleep(0.05)
        raise RuntimeError("no ticks after the drop")

    run("drop", drop_and_resume)
    run(
        "sub_depth",
        lambda: breeze.subscribe_feeds(
            exchange_code="NSE",
            stock_code="RELIND",
            product_type="cash",
            get_exchange_quotes=False,
            get_market_depth=True,
        ),
    )
    out["depth_ticks"] = wait_for("4.2!2885", 2)
    run(
        "sub_index",
        lambda: breeze.subscribe_feeds(
            exchange_code="NSE",
            stock_code="NIFTY",
            product_type="cash",
            get_exchange_quotes=True,
            get_market_depth=False,
        ),
    )
    out["index_ticks"] = wait_for("4.1!NIFTY 50", 2)
    option = cfg_in["option"]
    run(
        "sub_option",
        lambda: breeze.subscribe_feeds(
            exchange_code="NFO",
            stock_code="NIFTY",
            product_type="options",
            expiry_date=option["expiry"],
            strike_price=option["strike"],
            right="call",
            get_exchange_quotes=True,
            get_market_depth=True,
        ),
    )
    out["option_ticks"] = wait_for("4.1!" + option["token"], 1)
    out["option_depth_ticks"] = wait_for("4.2!" + option["token"], 1)
    run(
        "sub_future",
        lambda: breeze.subscribe_feeds(
            exchange_code="NFO",
            stock_code="NIFTY",
            product_type="futures",
            expiry_date=cfg_in["future"]["expiry"],
            get_exchange_quotes=True,
            get_market_depth=False,
        ),
    )
    out["future_ticks"] = wait_for("4.1!" + cfg_in["future"]["token"], 1)
    bfo = cfg_in["bfo"]
    bfo_option = {
        "exchange_code": "BFO",
        "stock_code": "BSESEN",
        "product_type": "options",
        "expiry_date": bfo["expiry"],
        "strike_price": bfo["strike"],
        "right": "call",
        "get_exchange_quotes": True,
        "get_market_depth": True,
    }
    run("sub_bfo", lambda: breeze.subscribe_feeds(**bfo_option))
    out["bfo_ticks"] = wait_for("8.1!" + bfo["token"], 1)
    out["bfo_depth_ticks"] = wait_for("8.2!" + bfo["token"], 1)
    sensex = {"exchange_code": "BSE", "stock_code": "BSESEN", "product_type": "cash"}
    run(
        "sub_sensex",
        lambda: breeze.subscribe_feeds(**sensex, get_exchange_quotes=True, get_market_depth=False),
    )
    out["sensex_ticks"] = wait_for("1.1!SENSEX", 1)
    run(
        "sub_unknown",
        lambda: breeze.subscribe_feeds(
            exchange_code="NSE",
            stock_code="NOSUCH",
            product_type="cash",
            get_exchange_quotes=True,
            get_market_depth=False,
        ),
    )

    def unsubscribe_all() -> list[Any]:
        answers = [
            breeze.unsubscribe_feeds(
                exchange_code="NSE",
                stock_code="RELIND",
                product_type="cash",
                get_exchange_quotes=True,
                get_market_depth=True,
            ),
            breeze.unsubscribe_feeds(
                exchange_code="NSE",
                stock_code="NIFTY",
                product_type="cash",
                get_exchange_quotes=True,
                get_market_depth=False,
            ),
            breeze.unsubscribe_feeds(
                exchange_code="NFO",
                stock_code="NIFTY",
                product_type="options",
                expiry_date=option["expiry"],
                strike_price=option["strike"],
                right="call",
                get_exchange_quotes=True,
                get_market_depth=True,
            ),
            breeze.unsubscribe_feeds(
                exchange_code="NFO",
                stock_code="NIFTY",
                product_type="futures",
                expiry_date=cfg_in["future"]["expiry"],
                get_exchange_quotes=True,
                get_market_depth=False,
            ),
            breeze.unsubscribe_feeds(**bfo_option),
            breeze.unsubscribe_feeds(**sensex, get_exchange_quotes=True, get_market_depth=False),
        ]
        time.sleep(0.3)  # ticks already on the wire may still arrive
        with lock:
            before = len(ticks)
        time.sleep(cfg_in["quiet_seconds"])
        with lock:
            after = len(ticks)
        return [answers, before, after]

    run("unsubscribe", unsubscribe_all)
    out["raw_parsed"] = {
        name: breeze.parse_data(array) for name, array in cfg_in.get("raw", {}).items()
    }

    handler = breeze.sio_rate_refresh_handler
    run("ws_disconnect", breeze.ws_disconnect)
    time.sleep(0.3)  # let the server see the SDK's "disconnect" event on the still-open socket
    if handler is not None:  # ws_disconnect() leaves the socket open (BREEZE_API.md §8)
        handler.sio.disconnect()

    def wrong_key() -> Any:
        other = BreezeConnect(api_key=cfg_in["api_key"])
        other.user_id, other.session_key = breeze.user_id, "00000000"
        return other.ws_connect()

    run("wrong_key", wrong_key)
    print(json.dumps(out, default=str))
    sys.stdout.flush()
    os._exit(0)  # socket.io client threads of the refused handler must not keep us alive


if __name__ == "__main__":
    main()
