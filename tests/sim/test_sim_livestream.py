"""The simulator's live feed (socket.io "rate refresh", BREEZE_API.md §6).

The unmodified SDK drives it in a subprocess (sim_stream_driver.py); python-socketio clients test
auth, rooms, tick rate, faults and shutdown directly; tick arrays are checked against REST quotes
at a frozen simulated time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.client import login, sdk_body, v1_headers
from breeze_sim.endpoints import expiry_label
from breeze_sim.instruments import Instrument, synthetic_fno
from breeze_sim.livestream_ticks import (
    depth_tick,
    feed_token,
    parse_token,
    quote_tick,
    tick_for,
    token_index,
)
from breeze_sim.market_time import fmt_dd_mon_yyyy
from breeze_sim.universe import universe_for

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("sim_stream_driver.py")
NOW = datetime(2026, 11, 30, 11, 0, 30)  # a Monday, during market hours (IST)

QUOTE_KEYS = {
    "symbol", "open", "last", "high", "low", "change", "bPrice", "bQty", "sPrice", "sQty", "ltq",
    "avgPrice", "quotes", "ttq", "totalBuyQt", "totalSellQ", "ttv", "trend", "lowerCktLm",
    "upperCktLm", "ltt", "close",
}  # fmt: skip
NSE_LEVEL = (
    "BestBuyRate", "BestBuyQty", "BuyNoOfOrders", "BuyFlag",
    "BestSellRate", "BestSellQty", "SellNoOfOrders", "SellFlag",
)  # fmt: skip
BSE_LEVEL = ("BestBuyRate", "BestBuyQty", "BestSellRate", "BestSellQty")
BFO_LEVEL = (
    "BestBuyRate", "BestBuyQty", "BuyNoOfOrders", "BestSellRate", "BestSellQty", "SellNoOfOrders",
)  # fmt: skip


# ----------------------------------------------------------------------------- helpers


def session_pair(sim: SimulatorServer) -> tuple[str, str]:
    """Log in like generate_session and return the decoded (user_id, session_key)."""
    token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
    user, key = base64.b64decode(token).decode("ascii").split(":")
    return user, key


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


class Feed:
    """A python-socketio client that records ticks and connection events."""

    def __init__(
        self,
        sim: SimulatorServer,
        auth: Any,
        *,
        join: list[str] | None = None,
        transports: tuple[str, ...] = ("websocket",),
        reconnection: bool = False,
    ) -> None:
        self.sim, self.auth, self.join, self.transports = sim, auth, join, transports
        self.ticks: list[tuple[float, list[Any]]] = []
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.client = socketio.Client(
            reconnection=reconnection,
            reconnection_delay=0.1,
            reconnection_delay_max=0.2,
            randomization_factor=0,
        )
        self.client.on("stock", self._on_stock)
        self.client.on("connect", self._on_connect)
        self.client.on("disconnect", self._on_disconnect)
        self.client.on("connect_error", lambda data: self._note("connect_error", data))

    def _note(self, kind: str, data: Any = None) -> None:
        with self.lock:
            self.events.append((kind, data))

    def _on_stock(self, data: list[Any]) -> None:
        with self.lock:
            self.ticks.append((time.monotonic(), data))

    def _on_connect(self) -> None:
        self._note("connect")
        if self.join:  # what the SDK's rewatch() does after a reconnect
            self.client.emit("join", self.join)

    def _on_disconnect(self, reason: Any = None) -> None:
        self._note("disconnect", reason)

    def connect(self) -> Feed:
        assert self.sim.live_stream_url
        self.client.connect(
            self.sim.live_stream_url,
            auth=self.auth,
            transports=list(self.transports),
            wait_timeout=3,
        )
        return self

    def symbols(self, since: float = 0.0) -> list[str]:
        with self.lock:
            return [data[0] for at, data in self.ticks if at >= since]

    def of(self, symbol: str) -> list[list[Any]]:
        with self.lock:
            return [data for _at, data in self.ticks if data[0] == symbol]

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for k, _d in self.events if k == kind)

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def feeds() -> Iterator[list[Feed]]:
    """Clients made by a test; all are disconnected afterwards."""
    made: list[Feed] = []
    yield made
    for feed in made:
        feed.close()


@pytest.fixture
def live() -> Iterator[SimulatorServer]:
    """A fresh simulator with the live feed at 5 ticks/s (faults change its state)."""
    with SimulatorServer(stream_port=0, tick_rate=5) as server:
        yield server


@pytest.fixture(scope="module")
def frozen_live() -> Iterator[SimulatorServer]:
    with SimulatorServer(clock=lambda: NOW, stream_port=0, tick_rate=5) as server:
        yield server


def rest_quotes(sim: SimulatorServer, token: str, payload: dict[str, Any]) -> list[dict]:
    body = sdk_body(payload)
    headers = v1_headers(
        body, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )
    answer = requests.get(sim.api_url + "quotes", data=body, headers=headers, timeout=30).json()
    return answer["Success"]


def call_option(universe: Any) -> Instrument:
    calls = universe.chain("NIFTY", right="CE")
    return calls[len(calls) // 2]


def bfo_call(universe: Any) -> Instrument:
    calls = universe.chain("BSESEN", right="CE", exchange="BFO")
    return calls[len(calls) // 2]


# ----------------------------------------------------------------------------- the SDK


@pytest.fixture(scope="module")
def sdk_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with SimulatorServer(stream_port=0, tick_rate=5) as sim:
        universe = universe_for(sim.now().date())
        option, future, bfo = call_option(universe), universe.futures[0], bfo_call(universe)
        bse = universe.cash("BSE", "RELIND")
        now = sim.now()
        currency = universe.currency[0]
        raw = {
            "bse_quote": quote_tick(bse, now, universe=universe),
            "bse_depth": depth_tick(bse, now, universe=universe),
            "ndx_quote": quote_tick(currency, now, universe=universe),
            "ndx_depth": depth_tick(currency, now, universe=universe),
        }
        settings = {
            "api_url": sim.api_url,
            "v2_url": sim.api_v2_url,
            "zip_url": sim.security_master_url,
            "stream_url": sim.live_stream_url,
            "api_key": DEFAULT_API_KEY,
            "api_secret": DEFAULT_API_SECRET,
            "api_session": sim.issue_session(),
            "control_url": sim.url + "/__sim__/",
            "quiet_seconds": 1.0,
            "option": {
                "expiry": fmt_dd_mon_yyyy(option.expiry),
                "strike": f"{option.strike:.0f}",
                "token": option.token,
            },
            "future": {"expiry": fmt_dd_mon_yyyy(future.expiry), "token": future.token},
            "bfo": {
                "expiry": fmt_dd_mon_yyyy(bfo.expiry),
                "strike": f"{bfo.strike:.0f}",
                "token": bfo.token,
            },
            "raw": raw,
        }
        cwd = tmp_path_factory.mktemp("sdk-stream")  # the SDK creates ./logs in its CWD
        env = {**os.environ, "TZ": "Asia/Kolkata"}  # the SDK renders ltt in local time
        proc = subprocess.run(
            [sys.executable, str(DRIVER), json.dumps(settings)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        data["settings"] = settings
        data["stream_stats"] = sim.stream_stats()
        data["sim_now"] = sim.now()
        yield data


def ok(results: dict[str, Any], name: str) -> Any:
    entry = results[name]
    assert "ok" in entry, entry
    return entry["ok"]


def test_sdk_connects_and_subscribes(sdk_run: dict[str, Any]) -> None:
    ok(sdk_run, "session")
    assert ok(sdk_run, "ws_connect") is None
    assert ok(sdk_run, "sub_quotes") == {"message": "Stock RELIND subscribed successfully"}
    assert ok(sdk_run, "sub_index") == {"message": "Stock NIFTY subscribed successfully"}


def test_sdk_equity_quote_ticks(sdk_run: dict[str, Any]) -> None:
    ticks = sdk_run["quote_ticks"]
    assert len(ticks) == 3
    for tick in ticks:
        assert set(tick) == QUOTE_KEYS | {"exchange", "stock_name", "_at"}
        assert tick["symbol"] == "4.1!2885"
        assert tick["exchange"] == "NSE Equity"
        assert tick["quotes"] == "Quotes Data"
        assert tick["stock_name"] == "RELIANCE INDUSTRIES"
        assert tick["low"] <= tick["last"] <= tick["high"]
        assert tick["bPrice"] < tick["sPrice"]
        assert tick["lowerCktLm"] < tick["close"] < tick["upperCktLm"]
        assert tick["change"] == round((tick["last"] - tick["close"]) / tick["close"] * 100, 2)
        assert re.fullmatch(r"\d+\.\d\dC", tick["ttv"])
        assert tick["ttq"] > 0
        # ltt is the tick's epoch second, rendered by the SDK in the client's zone (IST here)
        ltt = datetime.strptime(tick["ltt"], "%c")
        assert abs((ltt - sdk_run["sim_now"]).total_seconds()) < 60
    # several ticks a second, each a little different
    assert len({(t["bQty"], t["sQty"], t["ltq"], t["last"]) for t in ticks}) > 1


def test_sdk_depth_ticks(sdk_run: dict[str, Any]) -> None:
    ticks = sdk_run["depth_ticks"]
    assert len(ticks) == 2
    for tick in ticks:
        assert set(tick) == {"symbol", "time", "depth", "quotes", "stock_name", "_at"}
        assert tick["symbol"] == "4.2!2885"
        assert tick["quotes"] == "Market Depth"
        datetime.strptime(tick["time"], "%c")
        assert len(tick["depth"]) == 5
        for n, level in enumerate(tick["depth"], start=1):
            assert list(level) == [f"{name}-{n}" for name in NSE_LEVEL]
        bids = [level[f"BestBuyRate-{n}"] for n, level in enumerate(tick["depth"], start=1)]
        asks = [level[f"BestSellRate-{n}"] for n, level in enumerate(tick["depth"], start=1)]
        assert bids == sorted(bids, reverse=True)
        assert asks == sorted(asks)
        assert bids[0] < asks[0]


def test_sdk_index_ticks(sdk_run: dict[str, Any]) -> None:
    ticks = sdk_run["index_ticks"]
    assert len(ticks) == 2
    for tick in ticks:
        assert tick["symbol"] == "4.1!NIFTY 50"
        assert tick["exchange"] == "NSE Equity"
        assert tick["stock_name"] == "NIFTY 50"
        for field in ("bPrice", "bQty", "sPrice", "sQty", "ltq", "avgPrice", "ttq", "ttv"):
            assert tick[field] is None
        assert tick["lowerCktLm"] is None
        assert tick["upperCktLm"] is None
        assert tick["trend"] in ("", "+", "-")
        assert 10000 < tick["last"] < 40000
        assert tick["change"] == round((tick["last"] - tick["close"]) / tick["close"] * 100, 2)


def test_sdk_fno_ticks(sdk_run: dict[str, Any]) -> None:
    settings = sdk_run["settings"]
    (option,) = sdk_run["option_ticks"]
    assert set(option) >= QUOTE_KEYS | {"OI", "CHNGOI", "exchange"}
    assert option["exchange"] == "NSE Futures & Options"
    assert option["product_type"] == "Options"
    assert option["right"] == "Call"
    assert option["strike_price"] == settings["option"]["strike"]
    assert option["expiry_date"] == settings["option"]["expiry"]
    assert option["OI"] > 0
    (depth,) = sdk_run["option_depth_ticks"]
    assert len(depth["depth"]) == 5
    assert depth["product_type"] == "Options"
    (future,) = sdk_run["future_ticks"]
    assert future["product_type"] == "Futures"
    assert future["expiry_date"] == settings["future"]["expiry"]
    assert future["OI"] > 0


def test_sdk_bse_ticks(sdk_run: dict[str, Any]) -> None:
    (bfo,) = sdk_run["bfo_ticks"]  # the SDK adds no exchange or names for 8.x (README sample)
    assert set(bfo) == QUOTE_KEYS | {"OI", "CHNGOI", "_at"}
    assert bfo["symbol"] == "8.1!" + sdk_run["settings"]["bfo"]["token"]
    assert isinstance(bfo["ttv"], float)
    (depth,) = sdk_run["bfo_depth_ticks"]
    assert [list(level) for level in depth["depth"]] == [
        [f"{name}-{n}" for name in BFO_LEVEL] for n in range(1, 6)
    ]
    (sensex,) = sdk_run["sensex_ticks"]
    assert sensex["exchange"] == "BSE"
    assert sensex["stock_name"] == "SENSEX"
    assert sensex["bPrice"] is None


def test_sdk_unknown_code_joins_false_and_is_ignored(sdk_run: dict[str, Any]) -> None:
    # SDK bug (BREEZE_API.md §6): an unknown code "subscribes" to 4.1!False
    assert ok(sdk_run, "sub_unknown") == {"message": "Stock NOSUCH subscribed successfully"}
    assert sdk_run["stream_stats"]["unknown_joins"] == {"4.1!False": 1}


def test_sdk_unsubscribe_stops_ticks(sdk_run: dict[str, Any]) -> None:
    answers, before, after = ok(sdk_run, "unsubscribe")
    assert answers[0] == {"message": "Stock RELIND unsubscribed successfully"}
    assert before > 0
    assert after == before
    stats = sdk_run["stream_stats"]
    for token in ("4.1!2885", "4.2!2885", "4.1!NIFTY 50"):
        assert stats["leaves"][token] == 1
    assert stats["joins"]["4.2!2885"] == stats["joins"]["4.1!NIFTY 50"] == 1
    assert stats["subscribers"] == {}


def test_sdk_reconnects_after_a_drop(sdk_run: dict[str, Any]) -> None:
    assert ok(sdk_run, "drop") > 0  # ticks flowed again after the drop
    stats = sdk_run["stream_stats"]
    assert stats["drops"] == 1
    assert stats["joins"]["4.1!2885"] == 2  # the SDK's rewatch() re-joined after reconnecting
    assert stats["connections_total"] == 2


def test_sdk_disconnect_and_refused_connect(sdk_run: dict[str, Any]) -> None:
    assert ok(sdk_run, "ws_disconnect")[0] == {
        "message": "socket server for rate refresh  has been disconnected."
    }
    assert sdk_run["wrong_key"]["error"] == "Failed to connect to live stream"
    stats = sdk_run["stream_stats"]
    assert stats["connects_refused_by_reason"] == {"invalid": 1}
    assert stats["disconnect_events"] == 1  # the SDK's fake "disconnect" event
    assert stats["connections"] == 0
    assert stats["disconnects"]["drop"] == 1
    assert sum(stats["disconnects"].values()) == 2  # the drop, then handler.sio.disconnect()


def test_sdk_parses_every_exchange_layout(sdk_run: dict[str, Any]) -> None:
    parsed = sdk_run["raw_parsed"]
    quote = parsed["bse_quote"]
    assert set(quote) == QUOTE_KEYS | {"exchange"}
    assert quote["exchange"] == "BSE"
    assert quote["symbol"] == "1.1!500325"
    depth = parsed["bse_depth"]
    assert [list(level) for level in depth["depth"]] == [
        [f"{name}-{n}" for name in BSE_LEVEL] for n in range(1, 6)
    ]
    currency = parsed["ndx_quote"]
    assert set(currency) == QUOTE_KEYS | {"OI", "CHNGOI", "exchange"}
    assert currency["exchange"] == "NSE Currency"
    assert [list(level) for level in parsed["ndx_depth"]["depth"]] == [
        [f"{name}-{n}" for name in NSE_LEVEL] for n in range(1, 6)
    ]


# ----------------------------------------------------------------------------- layouts


def test_every_listed_feed_builds_its_layout() -> None:
    universe = universe_for(NOW.date())
    index = token_index(NOW.date())
    instruments = [
        *universe.nse,
        *universe.bse,
        *universe.futures,
        *universe.options[:10],
        *universe.bfo_futures,
        *universe.bfo_options[:10],
        *universe.currency,
    ]
    for inst in instruments:
        for depth in (False, True):
            token = feed_token(inst, depth=depth)
            if depth and inst.kind == "index":
                assert index.resolve(token) is None  # indices have no depth feed
                continue
            assert index.resolve(token) == inst
            array = tick_for(token, inst, NOW, universe=universe)
            assert array[0] == token
            if depth:
                assert len(array) == 3
                assert len(array[2]) == 5
                width = {"1": 4, "8": 6}.get(token.split(".")[0], 8)  # BSE, BFO, others
                assert {len(level) for level in array[2]} == {width}
            elif inst.is_derivative:
                assert len(array) == 23
            else:
                assert len(array) == 21
            json.dumps(array)


def test_token_parsing() -> None:
    assert parse_token("4.1!2885") == ("4", "1", "2885")
    assert parse_token("4.1!NIFTY 50") == ("4", "1", "NIFTY 50")
    assert parse_token("8.2!844663") == ("8", "2", "844663")
    assert parse_token("13.1!1101") == ("13", "1", "1101")
    for bad in ("4.3!2885", "9.1!2885", "6.1!430001", "4.1!", "2885", "4.1", None, 42, [""]):
        assert parse_token(bad) is None
    index = token_index(NOW.date())
    assert index.resolve("4.1!False") is None
    assert index.resolve("4.2!NIFTY 50") is None
    assert index.resolve("1.1!500325").exchange == "BSE"


def test_ticks_agree_with_rest_quotes(frozen_live: SimulatorServer) -> None:
    sim = frozen_live
    token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
    universe = universe_for(NOW.date())
    option, bfo = call_option(universe), bfo_call(universe)
    rows = {
        "4.1!2885": rest_quotes(
            sim, token, {"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"}
        )[0],
        "4.1!NIFTY 50": rest_quotes(
            sim, token, {"stock_code": "NIFTY", "exchange_code": "NSE", "product_type": "cash"}
        )[0],
        feed_token(option): rest_quotes(
            sim,
            token,
            {
                "stock_code": "NIFTY",
                "exchange_code": "NFO",
                "expiry_date": expiry_label(option.expiry),
                "product_type": "options",
                "right": "call",
                "strike_price": f"{option.strike:.0f}",
            },
        )[0],
        feed_token(bfo): rest_quotes(
            sim,
            token,
            {
                "stock_code": "BSESEN",
                "exchange_code": "BFO",
                "expiry_date": expiry_label(bfo.expiry),
                "product_type": "options",
                "right": "call",
                "strike_price": f"{bfo.strike:.0f}",
            },
        )[0],
        "1.1!SENSEX": rest_quotes(
            sim, token, {"stock_code": "BSESEN", "exchange_code": "BSE", "product_type": "cash"}
        )[0],
    }
    for symbol, row in rows.items():
        inst = token_index(NOW.date()).resolve(symbol)
        assert inst is not None
        exact = quote_tick(inst, NOW, jitter=False, universe=universe)
        (o, last, h, lo, change) = exact[1:6]
        assert (o, last, h, lo) == (row["open"], row["ltp"], row["high"], row["low"])
        if inst.kind == "index":  # close: the value a second earlier; change against it
            second_ago = quote_tick(
                inst, NOW - timedelta(seconds=1), jitter=False, universe=universe
            )
            assert exact[-1] == second_ago[2]
            assert change == round((last - exact[-1]) / exact[-1] * 100, 2)
        else:
            assert change == row["ltp_percent_change"]
            assert exact[-1] == row["previous_close"]
        if inst.kind != "index":
            assert exact[6:10] == [
                row["best_bid_price"],
                int(row["best_bid_quantity"]),
                row["best_offer_price"],
                int(row["best_offer_quantity"]),
            ]
            assert exact[-4:-2] == [row["lower_circuit"], row["upper_circuit"]]
            assert exact[14 if inst.is_derivative else 12] == int(row["total_quantity_traded"])
            levels = depth_tick(inst, NOW, jitter=False, universe=universe)[2]
            assert levels[0][0] == row["best_bid_price"]
            sell_rate = {"1": 2, "8": 3}.get(symbol.split(".")[0], 4)  # BSE, BFO, NSE/NFO
            assert levels[0][sell_rate] == row["best_offer_price"]
        for seq in range(20):  # jittered ticks stay inside the REST session range
            moved = quote_tick(inst, NOW, seq=seq, universe=universe)
            assert (moved[1], moved[3], moved[4]) == (row["open"], row["high"], row["low"])
            assert row["low"] <= moved[2] <= row["high"]
            assert abs(moved[2] - row["ltp"]) <= max(0.1, row["ltp"] * 0.0002) + 1e-9
            if inst.kind != "index":
                assert moved[-1] == row["previous_close"]


def test_stream_serves_the_rest_view_with_jitter_off(
    frozen_live: SimulatorServer, feeds: list[Feed]
) -> None:
    sim = frozen_live
    sim.configure_stream(jitter=False)
    try:
        feed = Feed(sim, dict(zip(("user", "token"), session_pair(sim), strict=True)))
        feeds.append(feed.connect())
        feed.client.emit("join", ["4.1!2885", "4.2!2885"])
        assert wait_until(lambda: len(feed.of("4.1!2885")) >= 2 and feed.of("4.2!2885"))
        universe = universe_for(NOW.date())
        relind = universe.cash("NSE", "RELIND")
        assert feed.of("4.1!2885")[0] == quote_tick(relind, NOW, jitter=False, universe=universe)
        assert feed.of("4.1!2885")[0] == feed.of("4.1!2885")[1]
        assert feed.of("4.2!2885")[0] == depth_tick(relind, NOW, jitter=False, universe=universe)
    finally:
        sim.configure_stream(jitter=True)


# ----------------------------------------------------------------------------- connections


def test_auth_is_checked(live: SimulatorServer, feeds: list[Feed]) -> None:
    user, key = session_pair(live)
    for auth in (
        {"user": user, "token": "00000000"},
        {"user": "SOMEONE", "token": key},
        {"user": user},
        None,
    ):
        feed = Feed(live, auth)
        feeds.append(feed)
        with pytest.raises(socketio.exceptions.ConnectionError):
            feed.connect()
    good = Feed(live, {"user": user, "token": key})
    feeds.append(good.connect())
    stats = live.stream_stats()
    assert stats["connects_refused"] == 4
    assert stats["connects_refused_by_reason"] == {"invalid": 4}
    assert stats["connections"] == 1
    assert stats["connections_total"] == 1


def test_unknown_joins_are_ignored(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth)
    feeds.append(feed.connect())
    feed.client.emit("join", ["4.1!False", "9.1!1", "4.2!NIFTY 50", "4.1!99999999"])
    feed.client.emit("join", 42)
    feed.client.emit("join", {"not": "a token"})
    feed.client.emit("join")
    feed.client.emit("leave", [None, "4.1!nothing"])
    feed.client.emit("join", "4.1!2885")
    assert wait_until(lambda: feed.of("4.1!2885"))
    time.sleep(0.5)
    assert set(feed.symbols()) == {"4.1!2885"}
    unknown = live.stream_stats()["unknown_joins"]
    assert unknown["4.1!False"] == 1
    assert unknown["9.1!1"] == 1
    assert unknown["4.2!NIFTY 50"] == 1
    assert unknown["42"] == 1
    assert live.stream_stats()["joins"] == {"4.1!2885": 1}
    other = Feed(live, auth)  # the server is still healthy
    feeds.append(other.connect())


def test_rooms_and_leave(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    a, b = Feed(live, auth), Feed(live, auth)
    feeds.extend([a.connect(), b.connect()])
    a.client.emit("join", "4.1!2885")
    b.client.emit("join", ["4.1!NIFTY 50", "1.1!500325"])
    assert wait_until(lambda: a.of("4.1!2885") and b.of("4.1!NIFTY 50") and b.of("1.1!500325"))
    assert set(a.symbols()) == {"4.1!2885"}
    assert set(b.symbols()) == {"4.1!NIFTY 50", "1.1!500325"}
    b.client.emit("leave", "1.1!500325")
    time.sleep(0.4)
    since = time.monotonic()
    time.sleep(0.6)
    assert set(b.symbols(since)) == {"4.1!NIFTY 50"}
    assert live.stream_stats()["subscribers"] == {"4.1!2885": 1, "4.1!NIFTY 50": 1}


def test_polling_transport(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, transports=("polling",))
    feeds.append(feed.connect())
    assert feed.client.transport() == "polling"
    feed.client.emit("join", ["4.1!2885"])
    assert wait_until(lambda: len(feed.of("4.1!2885")) >= 2)
    upgrading = Feed(live, auth, transports=("polling", "websocket"))
    feeds.append(upgrading.connect())
    upgrading.client.emit("join", ["4.1!2885"])
    assert wait_until(lambda: len(upgrading.of("4.1!2885")) >= 2)


def test_tick_rate_is_respected_and_configurable(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, join=["4.1!2885", "4.1!NIFTY 50"])
    feeds.append(feed.connect())
    assert wait_until(lambda: feed.of("4.1!2885"))
    live.configure_stream(tick_rate=10)
    time.sleep(0.15)
    start = time.monotonic()
    time.sleep(1.5)
    fast = feed.symbols(start).count("4.1!2885")
    assert 9 <= fast <= 18, fast  # 10 ticks/s for 1.5 s (a busy machine may skip some)
    assert feed.symbols(start).count("4.1!NIFTY 50") == pytest.approx(fast, abs=1)
    answer = requests.post(live.url + "/__sim__/stream", json={"tick_rate": 2}, timeout=10).json()
    assert answer["tick_rate"] == 2.0
    time.sleep(0.15)
    start = time.monotonic()
    time.sleep(1.5)
    slow = feed.symbols(start).count("4.1!2885")
    assert 1 <= slow <= 4, slow
    live.configure_stream(tick_rate=0)  # paused
    time.sleep(0.2)
    start = time.monotonic()
    time.sleep(0.6)
    assert feed.symbols(start) == []
    with pytest.raises(ValueError, match="tick_rate"):
        live.configure_stream(tick_rate=-1)


# ----------------------------------------------------------------------------- faults


def test_drop_fault_clients_reconnect(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, join=["4.1!2885"], reconnection=True)
    feeds.append(feed.connect())
    assert wait_until(lambda: feed.of("4.1!2885"))
    live.stream_fault("drop")
    assert wait_until(lambda: feed.count("disconnect") == 1)
    assert wait_until(lambda: feed.count("connect") == 2, timeout=8)
    since = time.monotonic()
    assert wait_until(lambda: "4.1!2885" in feed.symbols(since))
    stats = live.stream_stats()
    assert stats["drops"] == 1
    assert stats["connections"] == 1
    assert stats["connections_total"] == 2
    assert stats["disconnects"] == {"drop": 1}


def test_silent_fault(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, join=["4.1!2885"])
    feeds.append(feed.connect())
    assert wait_until(lambda: feed.of("4.1!2885"))
    answer = requests.post(live.url + "/__sim__/stream", json={"fault": "silent"}, timeout=10)
    assert answer.json()["faults"] == ["silent"]
    time.sleep(0.3)
    since = time.monotonic()
    time.sleep(0.8)
    assert feed.symbols(since) == []
    assert feed.client.connected
    requests.delete(live.url + "/__sim__/stream", timeout=10).raise_for_status()
    since = time.monotonic()
    assert wait_until(lambda: feed.symbols(since))
    assert feed.count("disconnect") == 0


def test_reject_auth_fault(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    existing = Feed(live, auth, join=["4.1!2885"])
    feeds.append(existing.connect())
    live.stream_fault("reject_auth")
    refused = Feed(live, auth)
    feeds.append(refused)
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect()
    since = time.monotonic()
    assert wait_until(lambda: existing.symbols(since))  # open connections are untouched
    live.clear_stream_faults("reject_auth")
    accepted = Feed(live, auth)
    feeds.append(accepted.connect())
    stats = live.stream_stats()
    assert stats["connects_refused_by_reason"] == {"reject_auth": 1}
    assert stats["faults"] == []


def test_expire_fault(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, join=["4.1!2885"], reconnection=True)
    feeds.append(feed.connect())
    assert wait_until(lambda: feed.of("4.1!2885"))
    answer = requests.post(live.url + "/__sim__/stream", json={"fault": "expire"}, timeout=10)
    assert answer.status_code == 200
    assert wait_until(lambda: feed.count("disconnect") == 1)
    assert not feed.client.connected
    retry = Feed(live, auth)
    feeds.append(retry)
    with pytest.raises(socketio.exceptions.ConnectionError):
        retry.connect()
    stats = live.stream_stats()
    assert stats["evicted"] == 1
    assert stats["connects_refused_by_reason"] == {"expired": 1}
    fresh = Feed(live, dict(zip(("user", "token"), session_pair(live), strict=True)))
    feeds.append(fresh.connect())  # a new daily login works again


def test_expire_sessions_evicts_sockets(live: SimulatorServer, feeds: list[Feed]) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth)
    feeds.append(feed.connect())
    requests.post(live.url + "/__sim__/expire", timeout=10).raise_for_status()
    assert wait_until(lambda: feed.count("disconnect") == 1, timeout=3)  # the 1 s watchdog
    assert live.stream_stats()["evicted"] == 1


def test_sdk_style_disconnect_event_keeps_the_socket(
    live: SimulatorServer, feeds: list[Feed]
) -> None:
    auth = dict(zip(("user", "token"), session_pair(live), strict=True))
    feed = Feed(live, auth, join=["4.1!2885"])
    feeds.append(feed.connect())
    feed.client.emit("disconnect", "transport close")  # what ws_disconnect() sends
    time.sleep(0.3)
    since = time.monotonic()
    assert wait_until(lambda: feed.symbols(since))
    stats = live.stream_stats()
    assert stats["disconnect_events"] == 1
    assert stats["connections"] == 1


def test_control_api(live: SimulatorServer) -> None:
    base = live.url + "/__sim__/stream"
    assert requests.get(base, timeout=10).json()["tick_rate"] == 5.0
    bad = requests.post(base, json={"fault": "explode"}, timeout=10)
    assert bad.status_code == 400
    assert "unknown stream fault" in bad.json()["error"]
    assert requests.post(base, json={"tick_rate": 99}, timeout=10).status_code == 400
    both = requests.post(base, json={"fault": "reject_auth", "jitter": False}, timeout=10).json()
    assert (both["faults"], both["jitter"]) == (["reject_auth"], False)
    cleared = requests.delete(base, json={"fault": "reject_auth"}, timeout=10).json()
    assert cleared["faults"] == []
    stats = requests.get(live.url + "/__sim__/stats", timeout=10).json()
    assert stats["stream"]["url"] == live.live_stream_url
    requests.post(live.url + "/__sim__/reset", timeout=10).raise_for_status()
    assert live.stream_stats()["connects_refused"] == 0


def test_stream_is_off_unless_asked(sim: SimulatorServer) -> None:
    assert sim.live_stream_url is None
    assert sim.stats()["stream"] == {"enabled": False}
    answer = requests.post(sim.url + "/__sim__/stream", json={"fault": "drop"}, timeout=10)
    assert answer.status_code == 400
    with pytest.raises(ValueError, match="live feed is off"):
        sim.stream_fault("silent")


def test_full_master_synthetic_tokens_stream(feeds: list[Feed]) -> None:
    with SimulatorServer(stream_port=0, tick_rate=5, master_size="full") as sim:
        universe = sim.universe()
        code = synthetic_fno()[0].code
        future = universe.futures_of(code)[0]
        tokens = [feed_token(universe.cash("NSE", code)), feed_token(future, depth=True)]
        feed = Feed(sim, dict(zip(("user", "token"), session_pair(sim), strict=True)))
        feeds.append(feed.connect())
        feed.client.emit("join", tokens)
        assert wait_until(lambda: set(feed.symbols()) == set(tokens), timeout=20)
        assert sim.stream_stats()["unknown_joins"] == {}
        feed.close()


# ----------------------------------------------------------------------------- lifecycle


def _stream_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("breeze-sim-stream")]


def test_clean_and_quick_stop(feeds: list[Feed]) -> None:
    before = threading.active_count()
    sim = SimulatorServer(stream_port=0, tick_rate=10).start()
    port = sim.stream_port
    assert sim.live_stream_url == f"http://127.0.0.1:{port}"
    assert f"breeze-sim-stream-{port}" in _stream_threads()
    feed = Feed(sim, dict(zip(("user", "token"), session_pair(sim), strict=True)))
    feeds.append(feed.connect())
    feed.client.emit("join", "4.1!2885")
    assert wait_until(lambda: feed.of("4.1!2885"))
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.0
    assert f"breeze-sim-stream-{port}" not in _stream_threads()
    assert wait_until(lambda: feed.count("disconnect") == 1)
    feed.close()
    assert wait_until(lambda: threading.active_count() <= before, timeout=3)
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    sim.stop()  # idempotent
    again = SimulatorServer(stream_port=port).start()  # same fixed port, right away
    try:
        assert again.live_stream_url == f"http://127.0.0.1:{port}"
    finally:
        again.stop()


def test_busy_port_fails_start_cleanly() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        sim = SimulatorServer(stream_port=port)
        with pytest.raises(OSError, match="in use"):
            sim.start()
        assert f"breeze-sim-stream-{port}" not in _stream_threads()
        assert sim.live_stream_url is None


def test_cli_serves_the_live_feed() -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "breeze_sim", "--port", "0", "--stream-port", "0",
            "--tick-rate", "4", "--demo-session", "12345678",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    client = socketio.Client(reconnection=False)
    try:
        assert proc.stdout is not None
        rest = re.fullmatch(r"breeze_sim listening on (http://\S+)", proc.stdout.readline().strip())
        stream = re.fullmatch(
            r"breeze_sim livestream on (http://127\.0\.0\.1:\d+)", proc.stdout.readline().strip()
        )
        assert rest, "no REST line"
        assert stream, "no livestream line"
        token = login(rest.group(1) + "/breezeapi/api/v1/", "12345678", DEFAULT_API_KEY)
        user, key = base64.b64decode(token).decode().split(":")
        got: list[Any] = []
        client.on("stock", got.append)
        client.connect(stream.group(1), auth={"user": user, "token": key}, transports=["websocket"])
        client.emit("join", "4.1!2885")
        assert wait_until(lambda: len(got) >= 2)
        assert requests.get(rest.group(1) + "/__sim__/stream", timeout=10).json()["tick_rate"] == 4
        client.disconnect()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        stderr = proc.stderr.read() if proc.stderr else ""
        assert "breeze_sim stream join" in stderr
        assert key not in stderr  # never log session keys
    finally:
        client.disconnect()
        if proc.poll() is None:
            proc.kill()
