"""Tick decoding (breeze.gateway.ticks) against the SDK's own parse_data, on every layout the
simulator's feed produces, and on arbitrary input; the hub's delivery, fencing and conflation."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breeze.clock import IST
from breeze.gateway import ticks
from breeze_sim.livestream_ticks import depth_tick, feed_token, quote_tick, token_index
from breeze_sim.universe import universe_for
from stream.hub import COMPAT, NATIVE, Client, Hub, Interest
from stream.shapes import Described

NOW = datetime(2026, 11, 27, 11, 12, 20)  # naive IST, as the simulator keeps time
UNIVERSE = universe_for(NOW.date())
SAMPLES = ["4.1!2885", "1.1!500325", "4.1!NIFTY 50", "1.1!SENSEX"]


@pytest.fixture(scope="module")
def sdk_parse():
    from breeze.gateway.sdk import load_sdk

    cls = load_sdk().BreezeConnect
    fake = SimpleNamespace(parse_market_depth=lambda data, exchange: cls.parse_market_depth(
        None, data, exchange))  # fmt: skip
    return lambda data: cls.parse_data(fake, data)


def _arrays():
    index = token_index(NOW.date())
    found = []
    instruments = [index.resolve(token) for token in SAMPLES]
    nfo = next(i for i in UNIVERSE.options if i.exchange == "NFO")
    bfo = UNIVERSE.bfo_options[0]
    for inst in [*instruments, nfo, bfo]:
        found.append(quote_tick(inst, NOW, universe=UNIVERSE))
        if inst.kind != "index":
            found.append(depth_tick(inst, NOW, universe=UNIVERSE))
    return found


@pytest.mark.parametrize("array", _arrays(), ids=lambda a: f"{a[0]}:{len(a)}")
def test_decoding_agrees_with_the_sdk(array, sdk_parse):
    ours = ticks.decode(json.loads(json.dumps(array)))  # as it arrives: JSON
    theirs = sdk_parse(array)

    assert ours is not None
    for name in ("ltt", "time"):  # the SDK renders the machine's zone; ours is IST
        theirs.pop(name, None)
        if name in ours:
            assert ours[name] == datetime.fromtimestamp(ours["epoch"], IST).strftime("%c")
    assert {k: v for k, v in ours.items() if k not in ("ltt", "time", "epoch", "feed")} == theirs
    assert ours["feed"] == array[0]


def test_feed_tokens_are_never_made_from_nothing():
    assert ticks.feed_token("NSE", "2885") == "4.1!2885"
    assert ticks.feed_token("BFO", "1234", depth=True) == "8.2!1234"
    for exchange, token in (("NSE", ""), ("NSE", "False"), ("NSE", "None"), ("MCX", "1")):
        with pytest.raises(ticks.UnknownToken):
            ticks.feed_token(exchange, token)


def test_the_simulators_feed_tokens_parse():
    index = token_index(NOW.date())
    inst = index.resolve("4.1!2885")
    assert ticks.parse_feed(feed_token(inst)) == ("4", "1", "2885")
    assert ticks.parse_feed("4.1!False") == ("4", "1", "False")  # parses, but is never joined
    assert ticks.parse_feed("9.1!1") is None
    assert ticks.parse_feed(42) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=25),
    max_leaves=60,
)


@given(st.lists(json_values, max_size=25), st.sampled_from(["4.1!2885", "1.2!1", "8.2!9", "x"]))
@settings(max_examples=400, deadline=None)
def test_decoding_never_raises_and_never_half_reads(values, head):
    decoded = ticks.decode([head, *values])
    if decoded is not None:
        assert decoded["feed"] == head
        json.dumps(decoded, allow_nan=False)  # plain JSON, ready to publish


# --- the hub ------------------------------------------------------------------------------

DESCRIBED = Described(exchange_code="NSE", stock_code="RELIND", symbol="RELIANCE")


class FakeSockets:
    """The hub's transport, recording what each client's queue was handed."""

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {}
        self.backlog: dict[str, int] = {}

    def handle(self, eio_sid: str) -> str:
        return eio_sid

    def prepare(self, text: str) -> str:
        return text

    def put(self, handle: str, prepared: str) -> None:
        self.sent.setdefault(handle, []).append(prepared)

    def waiting(self, handle: str) -> int:
        return self.backlog.get(handle, 0)


def _message(seq: int, fence: int = 1, feed: str = "4.1!2885") -> bytes:
    array = quote_tick(token_index(NOW.date()).resolve(feed), NOW, seq=seq, universe=UNIVERSE)
    return json.dumps({"f": feed, "s": seq, "x": fence, "r": 0, "t": ticks.decode(array)}).encode()


def _hub(settings_fixture, buffer: int = 4):
    settings_fixture.BREEZE_STREAM_CLIENT_BUFFER = buffer
    sockets = FakeSockets()
    hub = Hub(sockets, on_change=lambda: None)
    return hub, sockets


def _events(packets):
    return [json.loads(p[1:]) for p in packets]


def test_each_client_gets_the_name_it_asked_for(settings):
    hub, sockets = _hub(settings)
    for sid, protocol, name in (("a", COMPAT, "RELIANCE"), ("b", COMPAT, "RELIND"),
                                ("c", NATIVE, "rel")):  # fmt: skip
        client = Client(sid=sid, eio_sid=f"e{sid}", key_id="k")
        hub.add_client(client)
        hub.subscribe(client, "4.1!2885", Interest(protocol, name, DESCRIBED))

    hub.deliver(_message(1))

    (a,), (b,), (c,) = (_events(sockets.sent[e]) for e in ("ea", "eb", "ec"))
    assert a[0] == b[0] == "watchlist_update"
    assert c[0] == "tick"
    assert (a[1]["stock_code"], b[1]["stock_code"], c[1]["id"]) == ("RELIANCE", "RELIND", "rel")


def test_a_slow_client_is_conflated_and_never_holds_up_the_others(settings):
    hub, sockets = _hub(settings, buffer=4)
    slow, fast = (
        Client(sid="s", eio_sid="es", key_id="k"),
        Client(sid="f", eio_sid="ef", key_id="k"),
    )
    for client in (slow, fast):
        hub.add_client(client)
        hub.subscribe(client, "4.1!2885", Interest(NATIVE, "rel", DESCRIBED))
    sockets.backlog["es"] = 10  # the slow client's socket has not drained

    for seq in range(1, 21):
        hub.deliver(_message(seq))

    assert [e[1]["seq"] for e in _events(sockets.sent["ef"])] == list(range(1, 21))
    assert "es" not in sockets.sent  # nothing piled onto the slow client's queue
    assert hub.conflated == 19
    assert len(slow.pending) == 1
    sockets.backlog["es"] = 0
    hub.drain()
    assert [e[1]["seq"] for e in _events(sockets.sent["es"])] == [20]  # only the latest


def test_a_deposed_leaders_late_ticks_are_dropped(settings):
    hub, sockets = _hub(settings)
    client = Client(sid="a", eio_sid="ea", key_id="k")
    hub.add_client(client)
    hub.subscribe(client, "4.1!2885", Interest(NATIVE, "rel", DESCRIBED))

    hub.deliver(_message(7, fence=2))
    hub.deliver(_message(8, fence=1))  # the old leader, paused past its lock, wakes up
    hub.deliver(_message(8, fence=2))

    assert [e[1]["seq"] for e in _events(sockets.sent["ea"])] == [7, 8]
    assert hub.stale_fence_drops == 1


def test_a_batching_client_gets_one_ticks_event_per_turn_in_arrival_order(settings):
    hub, sockets = _hub(settings)
    batching, plain = (
        Client(sid="b", eio_sid="eb", key_id="k", batch=True),
        Client(sid="p", eio_sid="ep", key_id="k"),
    )
    for client in (batching, plain):
        hub.add_client(client)
        for feed, name in (("4.1!2885", "rel"), ("4.1!11536", "tcs")):
            hub.subscribe(client, feed, Interest(NATIVE, name, DESCRIBED))
    hub._schedule_flush = lambda: None  # as if inside one turn of the event loop

    for seq in (1, 2):
        hub.deliver(_message(seq))
        hub.deliver(_message(seq, feed="4.1!11536"))
    assert "eb" not in sockets.sent  # nothing until the turn ends
    hub.flush()

    (batch,) = _events(sockets.sent["eb"])
    assert batch[0] == "ticks"
    assert [(event, data["id"], data["seq"]) for event, data in batch[1]] == [
        ("tick", "rel", 1), ("tick", "tcs", 1), ("tick", "rel", 2), ("tick", "tcs", 2),
    ]  # fmt: skip
    plain_events = _events(sockets.sent["ep"])
    assert [e[1] for e in batch[1]] == [e[1] for e in plain_events]  # the very same ticks


def test_a_slow_batching_client_is_conflated_into_one_ticks_event(settings):
    hub, sockets = _hub(settings, buffer=4)
    slow = Client(sid="s", eio_sid="es", key_id="k", batch=True)
    hub.add_client(slow)
    hub.subscribe(slow, "4.1!2885", Interest(NATIVE, "rel", DESCRIBED))
    hub.subscribe(slow, "4.1!11536", Interest(NATIVE, "tcs", DESCRIBED))
    sockets.backlog["es"] = 10

    for seq in range(1, 11):
        hub.deliver(_message(seq))
        hub.deliver(_message(seq, feed="4.1!11536"))
    assert "es" not in sockets.sent
    sockets.backlog["es"] = 0
    hub.drain()

    (batch,) = _events(sockets.sent["es"])
    assert sorted((data["id"], data["seq"]) for _, data in batch[1]) == [("rel", 10), ("tcs", 10)]
