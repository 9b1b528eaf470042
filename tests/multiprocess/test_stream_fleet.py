"""The live stream as a fleet: two ASGI instances (separate uvicorn processes on separate ports)
on the real Redis and PostgreSQL, one simulator with its live feed, and python-socketio clients
on both instances. One upstream feed serves everyone, survives its leader's death, a new
session, a dropped connection and an expired session, and answers REST quotes for free."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
import redis

from breeze_sim import SimulatorServer
from tests.multiprocess.conftest import ADMIN_KEY
from tests.multiprocess.stream_fixtures import (
    REDIS_DB,
    STREAM_ENV,
    TICK_RATE,
    Fleet,
    FleetClient,
    SimSessions,
    StreamInstance,
)
from tests.processes import database_url
from tests.stream.conftest import wait_until

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(240)]

FEEDS = {
    "RELIANCE": "4.1!2885",
    "TCS": "4.1!11536",
    "INFY": "4.1!1594",
    "HDFCBANK": "4.1!1333",
    "ICICIBANK": "4.1!4963",
    "SBIN": "4.1!3045",
}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stream_sim() -> Iterator[SimulatorServer]:
    """A simulator of this module's own: its live feed's connections are ours alone."""
    sim = SimulatorServer(host="127.0.0.1", port=0, stream_port=0, tick_rate=TICK_RATE).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def sessions(stream_sim: SimulatorServer) -> SimSessions:
    return SimSessions(stream_sim)


@pytest.fixture(scope="module")
def fleet(
    stream_sim, sessions, django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[Fleet]:
    """Two stream instances sharing one database and one Redis namespace, the instrument master
    loaded and a session activated through the admin API."""
    from django.core.management import call_command

    from instruments.services import instruments_sync

    store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        store.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is required (scripts/services.sh starts it)")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CACHE_KEY_PREFIX": f"stream-{uuid.uuid4().hex[:8]}",
        "BREEZE_SIM_URL": stream_sim.url,
        "BREEZE_LIVE_STREAM_URL": stream_sim.live_stream_url or "",
        "BREEZE_PROXY_ADMIN_KEY": ADMIN_KEY,
        "BREEZE_TIMEOUT_S": "2",
        "SECURE_SSL_REDIRECT": "false",
        **STREAM_ENV,
    }
    logs = tmp_path_factory.mktemp("stream-fleet")
    pair = [StreamInstance("stream-a", env, logs), StreamInstance("stream-b", env, logs)]
    fleet = Fleet(pair, store, env["CACHE_KEY_PREFIX"])
    with django_db_blocker.unblock():
        instruments_sync(url=stream_sim.security_master_url)
    try:
        _start_all(pair)
        activated = pair[0].activate(sessions.issue())
        assert activated.status_code == HTTPStatus.OK, activated.text
        yield fleet
    finally:
        for instance in pair:
            instance.stop()
        fleet.forget()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def _start_all(instances: list[StreamInstance]) -> None:
    """Start instances side by side (each spends seconds importing Django)."""
    errors: list[BaseException] = []

    def start(instance: StreamInstance) -> None:
        try:
            instance.start()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def fleet_ready(fleet: Fleet, stream_sim: SimulatorServer, sessions: SimSessions) -> None:
    """Each test starts with both instances up, no fault, fresh feed counters and a session."""
    _start_all([i for i in fleet.instances if not i.alive])
    stream_sim.clear_stream_faults()
    stream_sim.reset()
    if not fleet.instances[0].health()["session_valid"]:
        assert fleet.instances[0].activate(sessions.issue()).status_code == HTTPStatus.OK


@pytest.fixture
def connect() -> Iterator[Callable[..., FleetClient]]:
    made: list[FleetClient] = []

    def make(instance: StreamInstance, **options: Any) -> FleetClient:
        client = FleetClient(instance, **options)
        made.append(client)
        return client.connect()

    yield make
    for client in made:
        client.close()


# ----------------------------------------------------------------------------- helpers


def subscribe(client: FleetClient, *symbols: str, depth: bool = False) -> None:
    ack = client.call(
        "subscribe", {"instruments": [{"symbol": s, "id": s} for s in symbols], "depth": depth}
    )
    assert [s["id"] for s in ack["subscribed"]] == list(symbols), ack


def ticking(client: FleetClient, *ids: str, count: int = 3, since: float = 0.0) -> None:
    """Wait until ``client`` has ``count`` live ticks of each of ``ids`` after ``since``."""

    def enough() -> bool:
        live = client.live("tick", since)
        return all(sum(1 for t in live if t["id"] == i) >= count for i in ids)

    wait_until(enough, timeout=10, what=f"live ticks of {ids} on {client.instance.name}")


def resumed_after(client: FleetClient, status: str, since: float, timeout: float = 15) -> float:
    """When the first live tick arrived after ``status`` was told (both after ``since``):
    a tick delivered by the feed as it is now, not one still in flight from before."""
    told: list[float] = []

    def resumed() -> bool:
        at = client.status_at(status, since)
        if at is None:
            return False
        told[:] = [at]
        return client.first_live_after(at) is not None

    wait_until(resumed, timeout=timeout, what=f"ticks after {status} on {client.instance.name}")
    first = client.first_live_after(told[0])
    assert first is not None
    return first


def subscribers(sim: SimulatorServer) -> dict[str, int]:
    return sim.stream_stats()["subscribers"]


# ----------------------------------------------------------------------------- tests


def test_one_upstream_feed_serves_clients_on_both_instances(fleet, stream_sim, connect):
    leader, follower = fleet.roles()
    on_leader = connect(leader)
    subscribe(on_leader, "TCS")
    on_follower = connect(follower)
    subscribe(on_follower, "HDFCBANK")  # nobody on the leader wants it
    seed = connect(follower)  # the seed frontend's call, on the follower too
    seed.call("subscribe_to_watchlist", {"stocks": ["RELIANCE"]})

    ticking(on_leader, "TCS")
    ticking(on_follower, "HDFCBANK")
    seed.wait_for("watchlist_update", lambda u: len([x for x in u if not x.get("snapshot")]) >= 3)

    stats = stream_sim.stream_stats()
    assert stats["connections"] == 1
    assert stats["connections_total"] <= 1  # nobody else opened one meanwhile
    for name in ("TCS", "HDFCBANK", "RELIANCE"):
        assert stats["subscribers"][FEEDS[name]] == 1  # joined once, on the one connection
    assert stats["unknown_joins"] == {}
    assert fleet.leader() is leader  # the follower's instruments were joined by the leader
    assert {t["id"] for t in on_leader.live()} == {"TCS"}
    assert {t["id"] for t in on_follower.live()} == {"HDFCBANK"}
    seqs = [t["seq"] for t in on_follower.live()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap across the fleet
    stream = follower.health()["stream"]
    assert stream["feed"] == "live"
    assert len(stream["instances"]) == 2


def test_rest_quotes_for_streamed_instruments_cost_breeze_nothing(fleet, stream_sim, connect):
    a, b = fleet.instances
    on_a = connect(a)
    subscribe(on_a, "RELIANCE", depth=True)
    on_b = connect(b)
    subscribe(on_b, "RELIANCE")
    ticking(on_a, "RELIANCE")
    ticking(on_b, "RELIANCE")
    on_a.wait_for("depth", lambda d: len(d) >= 2)
    calls = stream_sim.stats()["total_calls"]

    quotes = [i.post("/breeze/quotes", {"symbol": "RELIANCE"}) for i in (a, b, a, b)]
    depth = [i.post("/breeze/depth", {"symbol": "RELIANCE"}) for i in (a, b)]

    assert stream_sim.stats()["total_calls"] == calls
    assert [q.status_code for q in quotes + depth] == [HTTPStatus.OK] * 6
    assert {q.headers["X-Cache"] for q in quotes + depth} == {"stream"}
    assert {q.json()["Success"][0]["stock_code"] for q in quotes} == {"RELIND"}
    assert [d.json()["Success"][0]["levels"] for d in depth] == [5, 5]


def test_a_new_session_moves_the_feed_and_keeps_subscriptions(fleet, stream_sim, sessions, connect):
    leader, follower = fleet.roles()
    on_leader = connect(leader)
    subscribe(on_leader, "SBIN")
    on_follower = connect(follower)
    subscribe(on_follower, "SBIN", "ICICIBANK")
    ticking(on_leader, "SBIN")
    ticking(on_follower, "SBIN", "ICICIBANK")
    token = sessions.issue()

    activated = time.monotonic()
    assert follower.activate(token).status_code == HTTPStatus.OK  # staff use either instance
    resumed = {c.instance.name: resumed_after(c, "session_renewed", activated) - activated
               for c in (on_leader, on_follower)}  # fmt: skip

    assert max(resumed.values()) < 5, resumed
    renewed = on_follower.status_at("session_renewed", activated)
    ticking(on_follower, "SBIN", "ICICIBANK", count=2, since=renewed)  # no client action
    new_key = sessions.keys[token]
    wait_until(
        lambda: sessions.keys_seen_by_feed(time.monotonic() - 1.2) == {new_key},
        timeout=5,
        what="the feed on the new session's credentials only",
    )
    assert stream_sim.stream_stats()["connections"] == 1


def test_a_dropped_feed_is_rejoined_within_5s(fleet, stream_sim, connect):
    a, b = fleet.instances
    on_a = connect(a)
    subscribe(on_a, "INFY")
    on_b = connect(b)
    subscribe(on_b, "TCS")
    ticking(on_a, "INFY")
    ticking(on_b, "TCS")
    joined = {FEEDS["INFY"], FEEDS["TCS"]}
    assert joined <= set(subscribers(stream_sim))

    dropped = time.monotonic()
    stream_sim.stream_fault("drop")
    resumed = {c.instance.name: resumed_after(c, "live", dropped) - dropped for c in (on_a, on_b)}

    assert max(resumed.values()) < 5, resumed
    assert stream_sim.stream_stats()["drops"] == 1
    assert all(c.status_at("reconnecting", dropped) for c in (on_a, on_b))
    assert joined <= set(subscribers(stream_sim))
    assert stream_sim.stream_stats()["connections"] == 1


def test_an_expired_session_is_told_once_everywhere_and_resumes_on_activation(
    fleet, stream_sim, sessions, connect
):
    a, b = fleet.instances
    on_a = connect(a)
    subscribe(on_a, "TCS")
    on_b = connect(b)
    subscribe(on_b, "INFY")
    seed = connect(b)
    seed.call("subscribe_to_watchlist", {"stocks": ["RELIANCE"]})
    ticking(on_a, "TCS")
    ticking(on_b, "INFY")
    before = stream_sim.stream_stats()

    expired = time.monotonic()
    stream_sim.stream_fault("expire")
    told = {}
    for client in (on_a, on_b):
        wait_until(lambda c=client: c.status_at("session_expired", expired), timeout=5,
                   what=f"session_expired on {client.instance.name}")  # fmt: skip
        told[client.instance.name] = client.status_at("session_expired", expired) - expired
    seed.wait_for("watchlist_error", lambda e: any(x["code"] == "session_expired" for x in e))
    time.sleep(3)  # waiting for staff: nothing may retry meanwhile
    after = stream_sim.stream_stats()

    assert max(told.values()) < 2, told
    assert after["connects_refused"] - before["connects_refused"] <= 1  # no reconnect storm
    assert after["connections_total"] == before["connections_total"]
    assert after["connections"] == 0
    for client in (on_a, on_b):
        assert [s for _, s in client.statuses(expired)].count("session_expired") == 1

    reactivated = time.monotonic()
    assert a.activate(sessions.issue()).status_code == HTTPStatus.OK
    for client, name in ((on_a, "TCS"), (on_b, "INFY")):
        ticking(client, name, count=2, since=reactivated)
    assert stream_sim.stream_stats()["connections"] == 1


def test_killing_the_leader_moves_the_feed_within_10s(fleet, stream_sim, connect):
    leader, follower = fleet.roles()
    survivor = connect(follower)
    subscribe(survivor, "HDFCBANK")
    doomed = connect(leader)
    subscribe(doomed, "HDFCBANK")
    ticking(survivor, "HDFCBANK")
    last_seq = survivor.live()[-1]["seq"]

    killed = time.monotonic()
    leader.kill()
    failover_s = resumed_after(survivor, "live", killed) - killed

    assert failover_s < 10, f"ticks flowed again after {failover_s:.1f}s"
    assert fleet.leader() is follower
    wait_until(lambda: stream_sim.stream_stats()["connections"] == 1, timeout=5,
               what="one upstream connection")  # fmt: skip
    assert stream_sim.stream_stats()["connections_total"] == 1  # the new leader's only
    resumed = [t["seq"] for t in survivor.live(since=killed)]
    assert resumed[-1] > last_seq  # numbering carried on, not restarted
    print(f"failover: ticks again {failover_s:.2f}s after SIGKILL of the leader")


def test_a_crashed_instances_subscriptions_lapse(fleet, stream_sim, connect):
    from stream.bus import INSTANCE_TTL_S

    leader, follower = fleet.roles()
    keeper = connect(leader)
    subscribe(keeper, "TCS")
    orphan = connect(follower)
    subscribe(orphan, "ICICIBANK")  # only the doomed instance's client wants it
    ticking(keeper, "TCS")
    ticking(orphan, "ICICIBANK")

    crashed = time.monotonic()
    follower.kill()
    wait_until(lambda: FEEDS["ICICIBANK"] not in subscribers(stream_sim),
               timeout=INSTANCE_TTL_S + 10, what="the leave of the orphaned feed")  # fmt: skip
    lapsed_s = time.monotonic() - crashed

    assert FEEDS["TCS"] in subscribers(stream_sim)
    ticking(keeper, "TCS", since=time.monotonic())
    stream = leader.health()["stream"]
    assert len(stream["instances"]) == 1
    print(f"crash: the orphaned feed was left {lapsed_s:.1f}s after SIGKILL")


def test_the_leaders_feed_keeps_up_while_its_event_loop_is_busy(stream_sim, sessions):
    """The leader's loop also serves its clients: model that work as 50 tasks of 0.1 ms a turn
    (a loop turn of ~5 ms; the bench's 500 clients an instance make them longer) and count the
    ticks the feed hands over. (The feed reads on a loop of its own: on the shared one it read
    half the ticks, seconds late, and lost its connection every ~30 s.)"""
    import asyncio

    from breeze.gateway.livestream import LiveFeed
    from breeze_sim.state import USER_ID

    _, key = stream_sim.state.exchange(sessions.issue(), stream_sim.now().date())
    feeds = [*FEEDS.values(), *(f.replace("4.1!", "4.2!") for f in FEEDS.values())]

    async def read_while_busy(seconds: float) -> tuple[int, float]:
        received: list[tuple[float, int]] = []
        feed = LiveFeed(
            stream_sim.live_stream_url or "",
            on_tick=lambda tick, at: received.append((at, tick["epoch"])),
            on_lost=lambda reason: None,
        )
        await feed.connect(USER_ID, key)
        await feed.join(feeds)
        await asyncio.sleep(1)
        busy = True

        async def other_work() -> None:
            while busy:
                until = time.perf_counter() + 0.0001
                while time.perf_counter() < until:
                    pass
                await asyncio.sleep(0)

        workers = [asyncio.create_task(other_work()) for _ in range(50)]
        started = time.time()
        await asyncio.sleep(seconds)
        busy = False
        await asyncio.gather(*workers)
        await feed.close()
        late = [at - epoch for at, epoch in received if at >= started]
        return len(late), max(late, default=0.0)

    seconds = 6.0
    read, worst = asyncio.run(read_while_busy(seconds))
    sent = len(feeds) * TICK_RATE * seconds

    assert read >= 0.9 * sent, f"read {read} of ~{sent:.0f} ticks; the last {worst:.1f}s late"
    assert worst < 2.0  # its epoch second plus a second at most
