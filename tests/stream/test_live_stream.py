"""The live stream end to end in one process: the seed frontend's watchlist, the native protocol,
quotes served from the stream, and a feed that never goes silent."""

from __future__ import annotations

import json
import time
from http import HTTPStatus

import pytest
import requests
import socketio

from tests.stream.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

REQUIRED_SEED_FIELDS = {
    "symbol", "stock_code", "ltp", "last_traded_price", "previous_close", "change",
    "ltp_percent_change", "percent_change", "best_bid_price", "best_bid_quantity",
    "best_offer_price", "best_offer_quantity", "volume", "total_quantity_traded", "open", "high",
    "low",
}  # fmt: skip


def _updates(listener, name):
    return [u for u in listener.of("watchlist_update") if u["stock_code"] == name]


def _live(updates):
    return [u for u in updates if not u.get("snapshot")]


def test_the_seed_frontends_watchlist_gets_every_symbol(listen, sim):
    seed = listen().connect()  # polling first, then websocket, as the frontend does

    ack = seed.call(
        "subscribe_to_watchlist", {"stocks": ["NIFTY", "RELIANCE", "NOSUCH"], "proxy_key": ""}
    )

    assert ack["subscribed"] == ["NIFTY", "RELIANCE"]
    assert [e["symbol"] for e in ack["errors"]] == ["NOSUCH"]
    for name in ("NIFTY", "RELIANCE"):
        seed.wait_for("watchlist_update", lambda _, n=name: len(_live(_updates(seed, n))) >= 3)
        updates = _updates(seed, name)
        # A snapshot, when the first live tick did not beat it, comes first and only once
        snapshots = [i for i, u in enumerate(updates) if u.get("snapshot")]
        assert snapshots in ([], [0])
        for update in _live(updates):
            assert set(update) >= REQUIRED_SEED_FIELDS
            assert update["ltp"] == update["last_traded_price"] == update["last"]
    errors = seed.of("watchlist_error")
    assert errors
    assert errors[0]["symbol"] == "NOSUCH"
    assert errors[0]["error"]
    assert seed.client.transport() == "websocket"


def test_each_symbol_gets_its_current_value_at_once(listen, sim):
    sim.configure_stream(tick_rate=0)  # a quiet feed: only the snapshot can answer
    seed = listen().connect(transports=["websocket"])

    seed.call("subscribe_to_watchlist", {"stocks": ["TCS", "INFY"]})

    updates = seed.wait_for("watchlist_update", lambda u: len(u) >= 2, timeout=5)
    assert {u["stock_code"] for u in updates} == {"TCS", "INFY"}
    assert all(u["snapshot"] is True and u["seq"] == 0 and u["ltp"] for u in updates)


def test_index_change_is_against_the_true_previous_close(listen, api, sim):
    seed = listen().connect()
    seed.call("subscribe_to_watchlist", {"stocks": ["NIFTY 50"]})
    seed.wait_for("watchlist_update", lambda u: len(_live(u)) >= 2)
    quote = api.post("/breeze/quotes", {"stock_code": "NIFTY"}, format="json").json()
    previous_close = next(r for r in quote["Success"] if r["exchange_code"] == "NSE")[
        "previous_close"
    ]

    for update in _live(seed.of("watchlist_update")):
        # The tick's own close is the value a second ago; the proxy uses the quote's
        assert update["previous_close"] == previous_close
        assert update["close"] != previous_close
        expected = round((update["ltp"] - previous_close) / previous_close * 100, 2)
        assert update["percent_change"] == expected


def test_native_ticks_and_five_level_depth_in_sequence(listen):
    native = listen().connect(transports=["websocket"])

    ack = native.call(
        "subscribe",
        {"instruments": [{"symbol": "TCS", "exchange_code": "NSE", "id": "tcs"}], "depth": True},
    )

    assert ack["subscribed"][0]["id"] == "tcs"
    assert ack["subscribed"][0]["depth"] is True
    ticks = native.wait_for("tick", lambda t: len([x for x in t if not x.get("snapshot")]) >= 5)
    depth = native.wait_for("depth", lambda d: len(d) >= 3)
    live = [t for t in ticks if not t.get("snapshot")]
    seqs = [t["seq"] for t in live]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap for a client keeping up
    assert all(t["id"] == "tcs" and t["exchange_time"].endswith("+05:30") for t in live)
    assert all(len(d["levels"]) == 5 for d in depth)
    bids = [level["bid_price"] for level in depth[-1]["levels"]]
    assert bids == sorted(bids, reverse=True)


def test_a_batching_client_gets_the_same_ticks_in_fewer_events(listen):
    native = listen().connect(transports=["websocket"])

    ack = native.call(
        "subscribe",
        {"instruments": [{"symbol": "TCS", "exchange_code": "NSE", "id": "tcs"},
                         {"symbol": "INFY", "exchange_code": "NSE", "id": "infy"}],
         "depth": True, "batch": True},
    )  # fmt: skip

    assert ack["batch"] is True
    batches = native.wait_for("ticks", lambda b: sum(len(x) for x in b) >= 12)
    items = [item for batch in batches for item in batch]
    assert len(batches) < len(items)  # a round's ticks share an event
    assert {event for event, _ in items} == {"tick", "depth"}
    for ident in ("tcs", "infy"):
        seqs = [d["seq"] for event, d in items if event == "tick" and d["id"] == ident]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # in order, no gap
    assert not [t for t in native.of("tick") if not t.get("snapshot")]  # only snapshots alone


def test_one_upstream_feed_joins_each_instrument_once(listen, sim):
    clients = [listen().connect(transports=["websocket"]) for _ in range(5)]
    for client in clients:
        client.call("subscribe_to_watchlist", {"stocks": ["RELIANCE", "TCS"]})
    for client in clients:
        client.wait_for("watchlist_update", lambda u: len(_live(u)) >= 4)

    stats = sim.stream_stats()
    assert stats["connections"] == 1
    assert stats["subscribers"] == {"4.1!2885": 1, "4.1!11536": 1}
    assert stats["unknown_joins"] == {}


def test_a_feed_nobody_listens_to_is_left(listen, sim):
    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"stock_code": "INFTEC"}]})
    wait_until(lambda: "4.1!1594" in sim.stream_stats()["subscribers"], what="the join")

    client.call("unsubscribe", {"all": True})

    wait_until(lambda: "4.1!1594" not in sim.stream_stats()["subscribers"], what="the leave")


def test_quotes_and_depth_for_streamed_instruments_cost_breeze_nothing(listen, api, sim):
    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"symbol": "RELIANCE"}], "depth": True})
    client.wait_for("depth", lambda d: len(d) >= 2)
    # The subscription's own REST snapshot may hold the key for a moment; then the feed's ticks
    wait_until(
        lambda: (
            api.post("/breeze/quotes", {"symbol": "RELIANCE"}, format="json")["X-Cache"] == "stream"
        ),
        timeout=5,
        what="a quote served from the stream",
    )
    calls = sim.stats()["total_calls"]

    quotes = [api.post("/breeze/quotes", {"symbol": "RELIANCE"}, format="json") for _ in range(5)]
    depth = api.post("/breeze/depth", {"symbol": "RELIANCE"}, format="json")

    assert sim.stats()["total_calls"] == calls
    assert {q["X-Cache"] for q in quotes} == {"stream"}
    assert all(q.status_code == HTTPStatus.OK for q in quotes)
    assert quotes[-1].json()["Success"][0]["stock_code"] == "RELIND"
    assert depth["X-Cache"] == "stream"
    assert depth.json()["Success"][0]["levels"] == 5


def test_a_dropped_feed_reconnects_and_resubscribes(listen, sim, stream_server):
    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"symbol": "RELIANCE"}]})
    client.wait_for("tick", lambda t: len(t) >= 3)

    sim.stream_fault("drop")
    dropped = time.monotonic()
    before = len(client.of("tick"))
    client.wait_for("tick", lambda t: len(t) >= before + 3, timeout=10)

    assert time.monotonic() - dropped < 5
    statuses = [s["status"] for s in client.of("status")]
    assert "reconnecting" in statuses
    assert statuses[-1] == "live"
    assert sim.stream_stats()["subscribers"] == {"4.1!2885": 1}


def test_a_silent_feed_is_declared_stale_and_reopened(listen, sim, monkeypatch):
    monkeypatch.setattr("stream.upstream.market_open", lambda now=None: True)
    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"symbol": "TCS"}]})
    client.wait_for("tick", lambda t: len(t) >= 2)
    opened = sim.stream_stats()["connections_total"]

    sim.stream_fault("silent")
    client.wait_for("status", lambda s: any(x["status"] == "stale" for x in s), timeout=8)
    sim.clear_stream_faults("silent")
    before = len(client.of("tick"))
    client.wait_for("tick", lambda t: len(t) > before, timeout=8)

    assert sim.stream_stats()["connections_total"] > opened


def test_a_new_session_moves_the_feed_without_client_action(listen, sim):
    from sessions_admin.services import breeze_session_activate

    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"symbol": "TCS"}]})
    client.wait_for("tick", lambda t: len(t) >= 2)

    activated = time.monotonic()
    breeze_session_activate(api_session=sim.issue_session(), activated_by="test")
    client.wait_for("status", lambda s: any(x["status"] == "session_renewed" for x in s))
    before = len(client.of("tick"))
    client.wait_for("tick", lambda t: len(t) > before + 1)

    assert time.monotonic() - activated < 5


def test_an_expired_session_is_told_once_and_resumes_on_activation(listen, sim):
    from sessions_admin.models import BreezeSession
    from sessions_admin.services import breeze_session_activate

    native = listen().connect(transports=["websocket"])
    native.call("subscribe", {"instruments": [{"symbol": "TCS"}]})
    seed = listen().connect(transports=["websocket"])
    seed.call("subscribe_to_watchlist", {"stocks": ["RELIANCE"]})
    native.wait_for("tick", lambda t: len(t) >= 2)

    expired = time.monotonic()
    sim.stream_fault("expire")
    native.wait_for("status", lambda s: any(x["status"] == "session_expired" for x in s))
    told_s = time.monotonic() - expired
    seed.wait_for("watchlist_error", lambda e: any(x["code"] == "session_expired" for x in e))
    time.sleep(3)  # no reconnect storm while waiting for staff
    refused = sim.stream_stats()["connects_refused"]

    assert told_s < 2
    assert refused <= 1
    assert [s["status"] for s in native.of("status")].count("session_expired") == 1
    assert BreezeSession.objects.get(status=BreezeSession.Status.REJECTED)

    breeze_session_activate(api_session=sim.issue_session(), activated_by="test")
    before = len(native.of("tick"))
    native.wait_for("tick", lambda t: len(t) > before + 1, timeout=8)


def test_unknown_instruments_are_never_joined(listen, sim):
    client = listen().connect(transports=["websocket"])

    ack = client.call(
        "subscribe",
        {"instruments": [{"stock_code": "NOSUCH"}, {"symbol": "RELIANCE", "exchange_code": "XX"}]},
    )

    assert ack["subscribed"] == []
    assert {e["index"] for e in ack["errors"]} == {0, 1}
    time.sleep(1.5)
    assert sim.stream_stats()["joins"] == {}


def test_a_key_is_needed_where_rest_needs_one(listen, settings, make_key):
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    _, good = make_key("streamer", scopes=("stream",))
    _, rest_only = make_key("rest-only", scopes=("quotes",))

    seed = listen().connect(transports=["websocket"])
    refused = seed.call("subscribe_to_watchlist", {"stocks": ["TCS"]})
    wrong_scope = seed.call("subscribe_to_watchlist", {"stocks": ["TCS"], "proxy_key": rest_only})
    accepted = seed.call("subscribe_to_watchlist", {"stocks": ["TCS"], "proxy_key": good})

    assert refused["code"] == "client_key_required"
    assert wrong_scope["code"] == "scope_denied"
    assert accepted["subscribed"] == ["TCS"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        listen().connect(transports=["websocket"], auth={"key": "bpk_not-a-real-key-at-all"})
    native = listen().connect(transports=["websocket"], auth={"key": good})
    assert native.call("subscribe", {"instruments": [{"symbol": "TCS"}]})["subscribed"]


def test_a_connection_that_never_shows_a_key_is_closed(listen, settings):
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    lurker = listen().connect(transports=["websocket"])

    wait_until(lambda: not lurker.client.connected, timeout=8, what="the disconnect")

    assert lurker.of("watchlist_error")[-1]["code"] == "client_key_required"


def test_per_key_limits(listen, settings, make_key):
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    settings.BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY = 2
    settings.BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY = 3
    _, key = make_key(scopes=("stream",))
    first = listen().connect(transports=["websocket"], auth={"key": key})
    listen().connect(transports=["websocket"], auth={"key": key})

    with pytest.raises(socketio.exceptions.ConnectionError):
        listen().connect(transports=["websocket"], auth={"key": key})
    over = first.call(
        "subscribe",
        {"instruments": [{"symbol": s} for s in ("TCS", "INFY", "RELIANCE")], "depth": True},
    )
    within = first.call("subscribe", {"instruments": [{"symbol": "TCS"}], "depth": True})

    assert over["code"] == "stream_subscriptions_limited"
    assert within["subscribed"]


def test_browsers_from_other_origins_are_refused(listen, settings):
    settings.BREEZE_SANDBOX = False
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    # Polling: websocket-client sends an Origin of its own
    allowed = listen().connect(
        transports=["polling"], headers={"Origin": "https://app.example.com"}
    )
    assert allowed.client.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        listen().connect(transports=["polling"], headers={"Origin": "https://evil.example"})


def test_health_reports_the_stream(stream_server, listen):
    client = listen().connect(transports=["websocket"])
    client.call("subscribe", {"instruments": [{"symbol": "TCS"}]})
    client.wait_for("tick", lambda t: any(not x.get("snapshot") for x in t))

    body = requests.get(f"{stream_server.url}/breeze/health", timeout=5).json()

    assert body["stream"]["feed"] == "live"
    assert body["stream"]["clients"] >= 1
    assert json.dumps(body)  # plain JSON
