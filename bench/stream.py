"""``python -m bench.stream``: the live stream (issue 11), every row measured in one run.

The table (markdown) goes to stdout and, identical, to ``bench/results/stream.md``; progress goes
to stderr and each child's output to ``bench/results/stream-<name>.log``. Everything started is
torn down at the end, on failure and on Ctrl-C/SIGTERM. ``bench/run.sh stream`` runs it too;
``--quick`` is a short smoke run (fewer clients, short segments).

Order of the run:

1. preflight (Redis, PostgreSQL); a database of the run's own, migrated; the simulator with its
   live feed (``--tick-rate 2``, REST limits out of reach); the instrument master synced from it
   (``manage.py instruments sync``); two ASGI instances A and B (``uvicorn
   breeze_proxy.asgi:application`` with deploy.sh's flags) on one Redis namespace and that
   database; a session activated on A;
2. 1,000 clients (500 on each instance) from 4 load processes (``bench.stream_client``), each
   subscribed to 20 of 50 instruments (5 of them with depth), until every client has live ticks
   on all 25 of its feeds;
3. segment 1 (60 s): latency, sequence gaps, RSS and CPU, upstream connections and reconnects,
   ticks read by the leader of those sent;
4. segment 2 (60 s): the same with one deliberately slow client on the leader's instance;
5. REST quotes for every streamed instrument on both instances;
6. faults, each measured from the moment it is injected: upstream dropped, a new session
   activated (on B), the session expired (then a new one activated), the leader SIGKILLed.

Latency. Every tick message the leader publishes on Redis carries ``r`` (its ``time.time()`` on
receipt), ``seq`` and the tick's epoch second; the load processes read the same channel, match
each event a client received by (feed, ``seq``) and subtract: the proxy's own path (publish,
Redis, fan-out, websocket, the client's read). The simulator's send time is not in its ticks (the
epoch second only), so the bench keeps a connection of its own to the feed (the probe, one feed
joined) that notes when each round of ticks (every 0.5 s, every joined feed at once) arrives: a
feed's ticks within one epoch second are that second's rounds in order. One machine, one clock.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.processes import (
    PYTHON,
    ROOT,
    BenchError,
    Child,
    Fleet,
    SimControl,
    base_env,
    ensure_alive,
    free_port,
    http_get_status,
    process_tree_cpu_s,
    process_tree_rss_bytes,
    wait_http_ok,
)
from bench.scenarios import activate_session, post_json
from bench.stack import HIGH, RESULTS_DIR, commit, database, manage, ok, publish, say, sync_master
from bench.stack import preflight as stack_preflight
from bench.stream_client import BIN_S, SLOW_ALIASES, SLOW_BUFFER, SLOW_DRAIN_S, SLOW_STALL_S
from breeze_sim.livestream_ticks import feed_token
from breeze_sim.market_time import IST
from breeze_sim.universe import universe_for

REDIS_URL = os.environ.get("BENCH_STREAM_REDIS_URL", "redis://127.0.0.1:6379/9")
TICK_RATE = 2.0  # ticks per second per joined feed (the simulator's --tick-rate)
PERIOD_S = 1 / TICK_RATE
INSTRUMENTS, PER_CLIENT, DEPTH_PER_CLIENT = 50, 20, 5
LATENCY_TARGET_MS = 100
SLOW_SHIFT_TARGET = 0.10
FAILOVER_TARGET_S, DROP_TARGET_S, ROLLOVER_TARGET_S, EXPIRED_TARGET_S = 10, 5, 5, 2
# deploy.sh's, for the stream service
UVICORN_FLAGS = [
    "--ws",
    "websockets-sansio",
    "--timeout-graceful-shutdown",
    "10",
    "--no-access-log",
]


@dataclass(frozen=True)
class Shape:
    clients: int
    procs: int
    segment_s: float
    warmup_s: float
    ramp_per_s: float  # new connections a second, per load process
    batch: bool = True  # clients subscribe with batch: true (one ``ticks`` event a round)

    @classmethod
    def full(cls) -> Shape:
        return cls(clients=1000, procs=4, segment_s=60, warmup_s=8, ramp_per_s=40)

    @classmethod
    def quick(cls) -> Shape:
        return cls(clients=100, procs=2, segment_s=25, warmup_s=3, ramp_per_s=40)


# ----------------------------------------------------------------------------- instruments


@dataclass(frozen=True)
class Instrument:
    ident: str
    label: str
    spec: dict[str, str]  # the native subscribe item / REST quote body
    feed: str
    depth_feed: str | None  # None: an index has no depth


def pick_instruments(today: date) -> list[Instrument]:
    """50 instruments the simulator lists today: NSE cash and indices, NFO futures, and the
    nearest-to-the-money NFO options of the first expiry after today."""
    universe = universe_for(today)
    cash = [i for i in universe.nse if i.exchange == "NSE"]
    futures = [i for i in universe.futures if i.exchange == "NFO" and i.expiry > today]
    options = [i for i in universe.options if i.exchange == "NFO" and i.expiry > today]
    first_expiry = min(i.expiry for i in options)
    options = sorted(
        (i for i in options if i.expiry == first_expiry),
        key=lambda i: (abs(i.strike - i.base_price), i.strike, i.right),
    )
    chosen = (cash + futures + options)[:INSTRUMENTS]
    if len(chosen) < INSTRUMENTS:
        raise BenchError(f"the simulator lists only {len(chosen)} instruments for the run")
    found = []
    for n, inst in enumerate(chosen):
        spec = {"stock_code": inst.stock_code, "exchange_code": inst.exchange}
        label = inst.symbol
        if inst.kind in ("future", "option"):
            spec["product_type"] = "futures" if inst.kind == "future" else "options"
            spec["expiry_date"] = inst.expiry.isoformat()
            label = f"{inst.stock_code} {inst.expiry:%d%b}"
            if inst.kind == "option":
                spec["right"] = "call" if inst.right == "CE" else "put"
                spec["strike_price"] = f"{inst.strike:g}"
                label += f" {inst.strike:g}{inst.right}"
            else:
                label += " FUT"
        depth = None if inst.kind == "index" else feed_token(inst, depth=True)
        found.append(Instrument(f"i{n:02d}", label, spec, feed_token(inst), depth))
    return found


def client_specs(instruments: list[Instrument], urls: list[str], count: int) -> list[dict]:
    """Client ``c`` talks to ``urls[c % 2]`` and listens to 20 consecutive instruments from
    offset 7c (mod 50); the first five of them that have depth, with depth."""
    specs = []
    for c in range(count):
        offset = (c * 7) % len(instruments)
        window = [instruments[(offset + j) % len(instruments)] for j in range(PER_CLIENT)]
        with_depth = [i for i in window if i.depth_feed][:DEPTH_PER_CLIENT]
        plain = [i for i in window if i not in with_depth]
        specs.append({
            "url": urls[c % len(urls)],
            "subs": [[i.ident for i in plain], [i.ident for i in with_depth]],
        })  # fmt: skip
    return specs


# ----------------------------------------------------------------------------- load processes


class LoadProc:
    """One ``bench.stream_client`` process: JSON commands on its stdin, one reply line each."""

    def __init__(self, fleet: Fleet, name: str, config: dict[str, Any]) -> None:
        log_path = RESULTS_DIR / f"{name}.log"
        log = log_path.open("wb")
        try:
            self.popen = subprocess.Popen(
                [PYTHON, "-m", "bench.stream_client"],
                cwd=ROOT, env=base_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        self.child = Child(name, self.popen, log_path)  # type: ignore[arg-type]
        fleet.children.append(self.child)
        self.name = name
        self._buffer = b""
        self.send(config)
        hello = self.receive(30)
        self.pid = int(hello["pid"])

    def send(self, payload: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(json.dumps(payload).encode() + b"\n")
            self.popen.stdin.flush()
        except OSError as exc:
            raise BenchError(f"{self.name} is gone: {self.child.log_tail()}") from exc

    def receive(self, timeout_s: float) -> dict[str, Any]:
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(
                    f"{self.name} did not answer in {timeout_s:g} s; "
                    f"log {self.child.log_path}:\n{self.child.log_tail()}"
                )
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise BenchError(f"{self.name} exited; log {self.child.log_path}:\n"
                                     f"{self.child.log_tail()}")  # fmt: skip
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise BenchError(f"{self.name}: {answer['error']}")
        return answer


def ask_all(procs: list[LoadProc], commands: list[dict[str, Any]], timeout_s: float) -> list:
    for proc, command in zip(procs, commands, strict=True):
        proc.send(command)
    return [proc.receive(timeout_s) for proc in procs]


# ----------------------------------------------------------------------------- observers


class TickRecorder:
    """The fleet's tick channel, read in a thread: the leader's receipt of every tick."""

    def __init__(self, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        self._channel = f"{prefix}:stream:ticks"
        # (feed, seq, the leader's r, our receipt, the tick's epoch second)
        self.received: list[tuple[str, int, float, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tick-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self._channel)
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            now = time.time()
            tick = json.loads(message["data"])
            self.received.append(
                (tick["f"], int(tick["s"]), float(tick["r"]), now, int(tick["t"]["epoch"]))
            )
        pubsub.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)


class Probe:
    """The bench's own connection to the simulator's live feed (not the proxy's), joined to
    one feed: when each round of ticks left the simulator (a round sends every joined feed's
    tick at once; ``rounds``: epoch second -> arrival times here, in order)."""

    def __init__(self, stream_url: str, sim_url: str, api_session: str, feed: str) -> None:
        import socketio

        from breeze_sim.client import customer_details
        from breeze_sim.protocol import decode_session_token
        from breeze_sim.server import DEFAULT_API_KEY

        answer = customer_details(f"{sim_url}/breezeapi/api/v1/", api_session, DEFAULT_API_KEY)
        pair = decode_session_token(answer["Success"]["session_token"])
        assert pair is not None
        self.rounds: dict[int, list[float]] = {}
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("stock", self._stock)
        self.client.connect(stream_url, auth={"user": pair[0], "token": pair[1]},
                            transports=["websocket"], wait_timeout=10)  # fmt: skip
        self.client.emit("join", [feed])

    def _stock(self, data: Any = None, *_: Any) -> None:
        now = time.time()
        if isinstance(data, list) and len(data) in (21, 23, 3):
            epoch = data[1] if len(data) == 3 else data[-2]
            with self._lock:
                self.rounds.setdefault(int(epoch), []).append(now)

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def between(self, start: float, end: float) -> dict[int, list[float]]:
        with self._lock:
            return {e: list(t) for e, t in self.rounds.items() if start - 1 <= e <= end + 1}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()


def sent_times(
    received: list[tuple[str, int, float, float, int]], rounds: dict[int, list[float]]
) -> dict[tuple[str, int], float]:
    """(feed, seq) -> when the simulator sent it: a feed's ticks within one epoch second, in
    seq order, are that second's rounds in order (never earlier than the leader got it)."""
    by_second: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for feed, seq, r, _, epoch in received:
        by_second.setdefault((feed, epoch), []).append((seq, r))
    sent = {}
    for (feed, epoch), ticks in by_second.items():
        times = rounds.get(epoch, [])
        for rank, (seq, r) in enumerate(sorted(ticks)):
            if rank < len(times):
                sent[(feed, seq)] = min(times[rank], r)
    return sent


@dataclass
class Upstream:
    """The leader's side of a segment: how late it read the simulator's ticks."""

    ticks: int = 0
    read_ms: list[float] = field(default_factory=list)  # per tick: leader's receipt - sent
    bus_ms: list[float] = field(default_factory=list)  # per tick: our receipt from Redis - r
    rounds: int = 0
    unsent: int = 0
    reconnects: int = 0  # connections the proxy opened to the simulator during the segment
    sent: int = 0  # ticks the simulator sent the proxy during the segment


def upstream_of(recorder: TickRecorder, probe: Probe, start: float, end: float) -> Upstream:
    """The leader's reading of the feed for ticks it received in [start, end]."""
    everything = list(recorder.received)
    sent = sent_times(everything, probe.between(0, end))
    result = Upstream(rounds=sum(1 for e, t in probe.between(start, end).items() for _ in t))
    for feed, seq, r, mine, _ in everything:
        if not start <= r <= end:
            continue
        result.ticks += 1
        result.bus_ms.append((mine - r) * 1000)
        at = sent.get((feed, seq))
        if at is None:
            result.unsent += 1
        else:
            result.read_ms.append((r - at) * 1000)
    return result


class Sampler:
    """Every half second: the proxy's connections to the simulator's live feed (the bench's
    probe not counted), the instances' RSS, and how long each takes to answer ``GET /`` (a
    rough view of its event loop's lag: the request waits for the loop, then a thread)."""

    def __init__(self, sim_url: str, instances: dict[str, tuple[int, str]]) -> None:
        self._control = SimControl(sim_url)
        self.pids = {name: pid for name, (pid, _) in instances.items()}
        self.urls = {name: url for name, (_, url) in instances.items()}
        self.probe: Probe | None = None
        self.max_connections = 0
        self.samples: list[tuple[float, int, int]] = []  # (time, proxy's, opened in all)
        self.rss: dict[str, list[tuple[float, int]]] = {name: [] for name in instances}
        self.http: dict[str, list[tuple[float, float]]] = {name: [] for name in instances}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            now = time.time()
            with contextlib.suppress(Exception):
                probed = self.probe is not None and self.probe.connected
                stats = self._control.call("GET", "stream")
                if probed == (self.probe is not None and self.probe.connected):
                    connections = int(stats["connections"]) - probed
                    total = int(stats["connections_total"])
                    self.samples.append((now, connections, total))
                    self.max_connections = max(self.max_connections, connections)
            for name, pid in list(self.pids.items()):
                rss, _ = process_tree_rss_bytes(pid)
                if rss:
                    self.rss[name].append((now, rss))
                began = time.perf_counter()
                if http_get_status(f"{self.urls[name]}/", timeout_s=5) == 200:
                    self.http[name].append((now, (time.perf_counter() - began) * 1000))

    def opened_between(self, start: float, end: float) -> int:
        totals = [total for t, _, total in self.samples if start <= t <= end]
        return totals[-1] - totals[0] if totals else 0

    def rss_between(self, name: str, start: float, end: float) -> list[int]:
        return [r for t, r in self.rss[name] if start <= t <= end]

    def http_between(self, name: str, start: float, end: float) -> list[float]:
        return [ms for t, ms in self.http[name] if start <= t <= end]

    def forget(self, name: str) -> None:
        self.pids.pop(name, None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._control.close()


# ----------------------------------------------------------------------------- figures


def percentile(hist: Counter[int], pct: float, bin_ms: float) -> float:
    """Nearest rank over a histogram of ``bin_ms``-wide bins (the bin's upper edge)."""
    total = sum(hist.values())
    if not total:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * total))
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return (bucket + 1) * bin_ms
    return math.nan


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class Segment:
    name: str
    start: float
    end: float
    lat_r: Counter[int] = field(default_factory=Counter)
    lat_e: Counter[int] = field(default_factory=Counter)
    bus_to_client: Counter[int] = field(default_factory=Counter)
    records: int = 0
    unmatched: int = 0
    clients: int = 0
    gaps: int = 0
    clients_with_gaps: int = 0
    disorder: int = 0
    live_events: int = 0
    load_cpu_s: float = 0.0
    unsent: int = 0
    slow: list[dict[str, Any]] = field(default_factory=list)
    upstream: Upstream = field(default_factory=Upstream)
    cpu_s: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[int]] = field(default_factory=dict)
    http_ms: dict[str, list[float]] = field(default_factory=dict)
    unknown_feeds: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def p(self, which: str, q: float) -> float:
        return percentile(getattr(self, which), q, BIN_S * 1000)


def measure_segment(
    name: str, procs: list[LoadProc], recorder: TickRecorder, probe: Probe, sampler: Sampler,
    control: SimControl, pids: dict[str, int], seconds: float,
) -> Segment:  # fmt: skip
    ask_all(procs, [{"cmd": "segment"}] * len(procs), 30)
    cpu0 = {n: process_tree_cpu_s(pid) for n, pid in pids.items()}
    sent0 = control.call("GET", "stream")["ticks_sent"]
    start = time.time()
    time.sleep(seconds)
    end = time.time()
    sent1 = control.call("GET", "stream")["ticks_sent"]
    cpu1 = {n: process_tree_cpu_s(pid) for n, pid in pids.items()}
    time.sleep(1.0)  # the last events' ticks reach every reader of the channel
    rounds = {str(e): t for e, t in probe.between(0, end).items()}
    reports = ask_all(procs, [{"cmd": "report", "rounds": rounds}] * len(procs), 180)
    segment = Segment(name, start, end, upstream=upstream_of(recorder, probe, start, end))
    segment.upstream.reconnects = sampler.opened_between(start, end)
    probe_ticks = sum(len(t) for t in probe.between(start, end).values())
    segment.upstream.sent = sent1 - sent0 - probe_ticks
    for report in reports:
        for which in ("lat_r", "lat_e", "bus_to_client"):
            getattr(segment, which).update({int(k): v for k, v in report[which].items()})
        for count in ("records", "unmatched", "unsent", "clients", "gaps", "clients_with_gaps",
                      "disorder", "live_events"):  # fmt: skip
            setattr(segment, count, getattr(segment, count) + report[count])
        segment.load_cpu_s += report["cpu_s"]
        segment.slow += report["slow"]
        segment.unknown_feeds.update(report["unknown_feeds"])
    segment.cpu_s = {n: cpu1[n] - cpu0[n] for n in pids}
    segment.rss = {n: sampler.rss_between(n, start, end) for n in sampler.rss}
    segment.http_ms = {n: sampler.http_between(n, start, end) for n in sampler.http}
    return segment


@dataclass
class Resumption:
    """After a fault: per client, when it was told, and when its first live tick came."""

    name: str
    clients: int
    told: list[float]  # seconds from the fault to the status
    resumed: list[float]  # seconds from the fault to the first live tick after the status
    told_twice: int = 0
    not_told: int = 0
    not_resumed: int = 0
    closed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def collect(
    procs: list[LoadProc], since: float, status: str, *, urls: set[str] | None = None,
    resume: bool = True,
) -> Resumption:  # fmt: skip
    replies = ask_all(procs, [{"cmd": "statuses", "since": since}] * len(procs), 60)
    told, resumed = [], []
    result = Resumption(status, 0, told, resumed)
    for reply in replies:
        for client in reply["clients"]:
            if urls is not None and client["url"] not in urls:
                result.closed += 1 if client["closed_at"] else 0
                continue
            result.clients += 1
            hits = [s for s in client["statuses"] if s[1] == status]
            if not hits:
                result.not_told += 1
                continue
            result.told_twice += len(hits) > 1
            told.append(hits[0][0] - since)
            if resume:
                first_tick = next((s[2] for s in client["statuses"]
                                   if s[0] >= hits[0][0] and s[2] is not None), None)  # fmt: skip
                if first_tick is None:
                    result.not_resumed += 1
                else:
                    resumed.append(first_tick - since)
    return result


def wait_resumed(
    procs: list[LoadProc], since: float, status: str, deadline_s: float, *,
    urls: set[str] | None = None, resume: bool = True,
) -> Resumption:  # fmt: skip
    """Poll until every (listed) client was told ``status`` and, with ``resume``, got a live
    tick after it, or ``deadline_s`` after ``since``."""
    while True:
        result = collect(procs, since, status, urls=urls, resume=resume)
        done = result.not_told == 0 and (not resume or result.not_resumed == 0)
        if done or time.time() - since > deadline_s:
            return result
        time.sleep(0.5)


# ----------------------------------------------------------------------------- profile


def py_spy() -> str | None:
    """py-spy, if installed (PATH, or PY_SPY=/path/to/py-spy)."""
    found = os.environ.get("PY_SPY") or shutil.which("py-spy")
    return found if found and os.access(found, os.X_OK) else None


def start_profiles(pids: dict[str, int], seconds: float) -> list[tuple[str, subprocess.Popen]]:
    tool = py_spy()
    if tool is None:
        return []
    started = []
    for name, pid in pids.items():
        out = RESULTS_DIR / f"stream-profile-{name}.txt"
        argv = [tool, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                "--rate", "200", "--gil", "--format", "raw", "--output", str(out),
                "--nonblocking"]  # fmt: skip
        started.append((name, subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)))  # fmt: skip
    return started


# Where an instance's CPU goes: a sample (a stack holding the GIL) is charged to the first
# stage of this list that any of its frames names (py-spy frames read "function (file:line)").
STAGES = [
    ("leader: stream quotes written to the cache (thread pool)", ("breeze/store.py",)),
    ("leader: feed read, decode, publish", (
        "breeze/gateway/livestream.py", "breeze/gateway/ticks.py", "stream/upstream.py",
        "socketio/async_client.py", "engineio/async_client.py", "aiohttp/",
    )),
    ("hub: shape + encode a tick (once per variant)", ("stream/shapes.py", "packet_for (")),
    ("uvicorn: websocket frames + transport.write", (
        "websockets_sansio_impl.py", "websockets/",
    )),
    ("engine.io: per-socket queue + writer task", (
        "engineio/async_socket.py", "asyncio/queues.py",
    )),
    ("hub: deliver to each client (queue appends)", ("stream/hub.py", "stream/service.py")),
    ("redis client (bus, reports)", ("redis/",)),
    ("json", ("json/",)),
    ("socket.io/engine.io other", ("socketio/", "engineio/")),
    ("event loop (uvloop/asyncio internals)", ("asyncio/", "uvloop")),
]  # fmt: skip


def summarise_profile(path: Path) -> list[tuple[str, float]]:
    """Share of GIL-holding samples per stage, from py-spy's raw output (collapsed stacks:
    ``frame;frame;... count``)."""
    totals: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        stage = next(
            (name for name, needles in STAGES if any(n in stack for n in needles)), "other"
        )
        totals[stage] += count
    if not samples:
        return []
    return [(stage, n / samples) for stage, n in totals.most_common()]


# ----------------------------------------------------------------------------- the run


@dataclass
class Instance:
    name: str
    child: Child
    url: str


def load_average() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def redis_pid() -> int | None:
    import redis

    with contextlib.suppress(Exception):
        return int(redis.Redis.from_url(REDIS_URL).info("server")["process_id"])
    return None


def forget_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


def leader_pid(prefix: str) -> int | None:
    import redis

    value = redis.Redis.from_url(REDIS_URL).get(f"{prefix}:stream:leader")
    if not value:
        return None
    return int(value.decode().split("|")[0].rsplit("-", 2)[1])


def run(shape: Shape, profile: bool) -> str:
    fleet = Fleet(RESULTS_DIR)
    run_id = secrets.token_hex(4)
    prefix, db_name = f"bench-stream-{run_id}", f"bench_stream_{run_id}"
    try:
        stack_preflight()
        db_env = database(db_name)
        return _run(fleet, shape, profile, prefix, db_env)
    finally:
        say("tearing down")
        fleet.stop_all()
        with contextlib.suppress(Exception):
            forget_prefix(prefix)
        with contextlib.suppress(Exception):
            database(db_name, drop=True)


def _run(fleet: Fleet, shape: Shape, profile: bool, prefix: str, db_env: dict[str, str]) -> str:
    started = datetime.now(tz=UTC)
    load_at_start = load_average()
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        raise BenchError(f"Redis at {REDIS_URL} does not answer ({exc})") from exc
    say("migrating")
    manage(["migrate", "--noinput", "-v0"], base_env(**db_env))

    # --- the simulator, the master, the instances ------------------------------------------
    sim_port, stream_port = free_port(), free_port()
    sim = fleet.spawn("stream-sim", [
        PYTHON, "-m", "breeze_sim", "--host", "127.0.0.1", "--port", str(sim_port),
        "--stream-port", str(stream_port), "--tick-rate", f"{TICK_RATE:g}",
        "--rate-per-min", HIGH, "--rate-per-day", HIGH,
    ], base_env())  # fmt: skip
    sim_url, stream_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{stream_port}"
    wait_http_ok(sim, f"{sim_url}/__sim__/health", timeout_s=30)
    control = SimControl(sim_url)
    master = sync_master(sim_url, db_env)
    admin_key = secrets.token_urlsafe(24)
    env = base_env(
        **db_env, REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix, BREEZE_PROXY_ADMIN_KEY=admin_key,
        BREEZE_SIM_URL=sim_url, BREEZE_LIVE_STREAM_URL=stream_url,
        BREEZE_RATE_PER_MIN=HIGH, BREEZE_RATE_PER_DAY=HIGH,
        # 1,000 clients come from one address without a key: lift the per-caller limits
        BREEZE_OPEN_QUOTA="0", BREEZE_OPEN_CALLS_PER_MINUTE=HIGH, BREEZE_OPEN_CALLS_PER_DAY=HIGH,
        BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY=HIGH,
        BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY=HIGH,
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    instances = []
    for name in ("a", "b"):
        port = free_port()
        child = fleet.spawn(f"stream-{name}", [
            PYTHON, "-m", "uvicorn", "breeze_proxy.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), *UVICORN_FLAGS,
        ], {**env, "PORT": str(port)})  # fmt: skip
        instances.append(Instance(name.upper(), child, f"http://127.0.0.1:{port}"))
    for instance in instances:
        wait_http_ok(instance.child, f"{instance.url}/", timeout_s=60)
    a, b = instances
    first_session = control.new_session()
    activate_session(a.url, admin_key, first_session, None)
    pids = {i.name: i.child.pid for i in instances}
    say(f"simulator {sim_url} (feed {stream_url}); instances A {a.url}, B {b.url}")

    today = datetime.now(IST).date()
    instruments = pick_instruments(today)
    specs = client_specs(instruments, [a.url, b.url], shape.clients)
    config = {
        "instruments": {i.ident: i.spec for i in instruments},
        "feeds": {i.ident: [i.feed, i.depth_feed] for i in instruments},
        "redis_url": REDIS_URL,
        "prefix": prefix,
        "batch": shape.batch,
    }
    recorder = TickRecorder(prefix)
    sampler = Sampler(sim_url, {i.name: (i.child.pid, i.url) for i in instances})
    probe = Probe(stream_url, sim_url, first_session, instruments[0].feed)
    sampler.probe = probe
    procs = [LoadProc(fleet, f"stream-load-{n}", config) for n in range(shape.procs)]
    others = {"sim": sim.pid, **{p.name: p.pid for p in procs}}
    rpid = redis_pid()
    if rpid:
        others["redis"] = rpid

    # --- clients -----------------------------------------------------------------------------
    say(f"connecting {shape.clients} clients from {shape.procs} load processes")
    shares = [specs[n :: shape.procs] for n in range(shape.procs)]
    connect_started = time.time()
    connected = ask_all(procs, [{"cmd": "connect", "clients": share, "rate": shape.ramp_per_s}
                                for share in shares], 600)  # fmt: skip
    failed = sum(c["failed"] for c in connected)
    if failed:
        raise BenchError(f"{failed} clients could not connect: {[c['errors'] for c in connected]}")
    say(f"connected and subscribed in {time.time() - connect_started:.1f} s; waiting for ticks")
    deadline = time.time() + 90
    while True:
        readiness = ask_all(procs, [{"cmd": "ready"}] * len(procs), 30)
        ready = sum(r["ready"] for r in readiness)
        if ready == shape.clients:
            break
        if time.time() > deadline:
            seen = sum(r["feeds_seen"] for r in readiness)
            expected = sum(r["feeds_expected"] for r in readiness)
            raise BenchError(f"only {ready} of {shape.clients} clients have ticks on all their "
                             f"feeds ({seen} of {expected} feeds) after 90 s")  # fmt: skip
        time.sleep(1)
    ramp_s = time.time() - connect_started
    feeds_joined = len(control.call("GET", "stream")["subscribers"])
    say(f"all clients live after {ramp_s:.1f} s; {feeds_joined} feeds joined upstream")
    time.sleep(shape.warmup_s)
    ensure_alive([sim, a.child, b.child], "the ramp")

    # --- segment 1: steady -------------------------------------------------------------------
    say(f"segment 1: {shape.segment_s:g} s steady")
    profiles = start_profiles(pids, min(20, shape.segment_s - 2)) if profile else []
    steady = measure_segment("steady", procs, recorder, probe, sampler, control,
                             {**pids, **others}, shape.segment_s)  # fmt: skip
    for _, spy in profiles:
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy.wait(timeout=30)
    ensure_alive([sim, a.child, b.child], "segment 1")

    # --- segment 2: one slow client ----------------------------------------------------------
    lead = leader_pid(prefix)
    slow_at = next((i for i in instances if i.child.pid == lead), a)
    say(f"segment 2: {shape.segment_s:g} s with a slow client on {slow_at.name} (the leader)")
    aliases = ["", *(f"~{n}" for n in range(1, SLOW_ALIASES))]
    slow_spec = {
        "url": slow_at.url,
        "subs": [[i.ident + a for a in aliases for i in instruments if not i.depth_feed],
                 [i.ident + a for a in aliases for i in instruments if i.depth_feed]],
        "slow": True,
    }  # fmt: skip
    procs[0].send({"cmd": "connect", "clients": [slow_spec], "rate": 1})
    procs[0].receive(60)
    slowed = measure_segment("slow client", procs, recorder, probe, sampler, control,
                             {**pids, **others}, shape.segment_s)  # fmt: skip
    probe.close()
    sampler.probe = None
    ensure_alive([sim, a.child, b.child], "segment 2")

    # --- REST quotes ---------------------------------------------------------------------------
    say("REST quotes for every streamed instrument on both instances")
    calls_before = control.stats()["total_calls"]
    caches: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    misses: list[str] = []
    for instance in instances:
        for inst in instruments:
            status, headers, _ = post_json(instance.url, "/breeze/quotes", inst.spec)
            statuses[status] += 1
            found = {k.lower(): v for k, v in headers.items()}
            caches[found.get("x-cache", "—")] += 1
            if found.get("x-cache") != "stream":
                misses.append(f"{inst.label} on {instance.name} ({found.get('x-cache')})")
    rest_calls = control.stats()["total_calls"] - calls_before

    # --- faults --------------------------------------------------------------------------------
    feed0 = control.call("GET", "stream")
    say("fault: upstream dropped")
    dropped = time.time()
    control.call("POST", "stream", {"fault": "drop"})
    wanted = len(feed0["subscribers"])
    sim_rejoined = math.nan
    while time.time() - dropped < 30:
        if len(control.call("GET", "stream")["subscribers"]) >= wanted:
            sim_rejoined = time.time() - dropped
            break
        time.sleep(0.05)
    drop = wait_resumed(procs, dropped, "live", 20)
    drop.extra["sim_rejoined_s"] = sim_rejoined
    drop.extra["feeds"] = wanted

    say("fault: a new session activated on B")
    time.sleep(2)
    token = control.new_session()
    renewed_at = time.time()
    activate_session(b.url, admin_key, token, None)
    rollover = wait_resumed(procs, renewed_at, "session_renewed", 20)

    say("fault: the session expired")
    time.sleep(2)
    before = control.call("GET", "stream")
    expired_at = time.time()
    control.call("POST", "stream", {"fault": "expire"})
    expiry = wait_resumed(procs, expired_at, "session_expired", 15, resume=False)
    time.sleep(max(0.0, expired_at + 5 - time.time()))  # waiting for staff: no retries
    after = control.call("GET", "stream")
    expiry.extra["refused"] = after["connects_refused"] - before["connects_refused"]
    expiry.extra["opened"] = after["connections_total"] - before["connections_total"]
    reactivated_at = time.time()
    activate_session(a.url, admin_key, control.new_session(), None)
    reactivation = wait_resumed(procs, reactivated_at, "session_renewed", 20)

    say("fault: the leader SIGKILLed")
    time.sleep(3)
    lead = leader_pid(prefix)
    doomed = next((i for i in instances if i.child.pid == lead), None)
    if doomed is None:
        raise BenchError(f"no live instance holds the leader's lock (pid {lead})")
    survivor = next(i for i in instances if i is not doomed)
    killed_at = time.time()
    os.killpg(doomed.child.pid, signal.SIGKILL)
    sampler.forget(doomed.name)
    failover = wait_resumed(procs, killed_at, "live", 30, urls={survivor.url})
    time.sleep(1)
    failover.extra.update(killed=doomed.name, survivor=survivor.name,
                          connections=control.call("GET", "stream")["connections"],
                          leader=leader_pid(prefix) == survivor.child.pid)  # fmt: skip
    ensure_alive([sim, survivor.child], "the faults")
    final = control.call("GET", "stream")
    sampler.stop()
    recorder.stop()
    with contextlib.suppress(BenchError):
        ask_all(procs, [{"cmd": "quit"}] * len(procs), 30)
    control.close()

    profile_rows = {}
    for name, _ in profiles:
        path = RESULTS_DIR / f"stream-profile-{name}.txt"
        if path.exists():
            profile_rows[name] = summarise_profile(path)
    return render(
        started=started, shape=shape, instruments=instruments, master=master, ramp_s=ramp_s,
        feeds_joined=feeds_joined, steady=steady, slowed=slowed, rest_calls=rest_calls,
        caches=caches, statuses=statuses, misses=misses, drop=drop, rollover=rollover,
        expiry=expiry,
        reactivation=reactivation, failover=failover, sampler=sampler, final=final,
        load_at_start=load_at_start,
        profile=profile_rows, profiling=bool(profile), others=list(others),
    )  # fmt: skip


# ----------------------------------------------------------------------------- table


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _s(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f} s"


def _mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def _told(r: Resumption) -> str:
    return f"{r.clients - r.not_told} of {r.clients} told"


def _first_tick(r: Resumption) -> str:
    return f"first tick p50 {_s(pct(r.resumed, 50))}, max {_s(max(r.resumed, default=math.nan))}"


def _all_resumed_within(r: Resumption, target_s: float) -> bool:
    return r.not_resumed == 0 and r.resumed != [] and max(r.resumed) < target_s


def render(
    *, started: datetime, shape: Shape, instruments: list[Instrument], master: dict[str, Any],
    ramp_s: float, feeds_joined: int, steady: Segment, slowed: Segment, rest_calls: int,
    caches: Counter[str], statuses: Counter[int], misses: list[str], drop: Resumption,
    rollover: Resumption, expiry: Resumption, reactivation: Resumption, failover: Resumption,
    sampler: Sampler, final: dict[str, Any], profile: dict[str, list[tuple[str, float]]],
    profiling: bool, others: list[str], load_at_start: str,
) -> str:  # fmt: skip
    rows: list[tuple[str, str, str, str]] = []
    per_instance = shape.clients // 2
    up, up2 = steady.upstream, slowed.upstream
    reconnects = up.reconnects + up2.reconnects
    rows.append((
        "1a Upstream connections (the simulator's live feed)",
        f"max {sampler.max_connections} at once, sampled every 0.5 s over the whole run "
        f"(the bench's timing probe not counted); {feeds_joined} feeds joined for "
        f"{shape.clients} clients",
        "1", ok(sampler.max_connections == 1),
    ))  # fmt: skip
    rows.append((
        f"1b Upstream reconnects with no fault injected (the two {shape.segment_s:g} s "
        "segments)",
        f"{reconnects} ({up.reconnects} in segment 1, {up2.reconnects} in segment 2); "
        f"{final['connections_total']} connections opened over the whole run",
        "0", ok(reconnects == 0),
    ))  # fmt: skip
    read_all = up.ticks >= up.sent * 0.99 and up2.ticks >= up2.sent * 0.99
    rows.append((
        "1c Ticks the leader read of those the simulator sent it",
        f"segment 1: {up.ticks:,} of {up.sent:,} ({up.ticks / max(1, up.sent) * 100:.0f}%); "
        f"segment 2: {up2.ticks:,} of {up2.sent:,} "
        f"({up2.ticks / max(1, up2.sent) * 100:.0f}%)"
        + ("" if read_all else "; the rest were never read: lost when the connection was "
           "dropped (a loss no client can see: `seq` is given on receipt)"),
        "all", ok(read_all),
    ))  # fmt: skip
    e50, e99 = steady.p("lat_e", 50), steady.p("lat_e", 99)
    p50, p99 = steady.p("lat_r", 50), steady.p("lat_r", 99)
    rows.append((
        f"2 Tick → client latency, {shape.clients} clients ({per_instance} per instance)",
        f"from the simulator's send: p50 {_ms(e50)}, p99 {_ms(e99)}. Stages: the simulator's "
        f"send to the leader's receipt (per tick) p50 {_ms(pct(up.read_ms, 50))}, p99 "
        f"{_ms(pct(up.read_ms, 99))}; the leader's receipt to the client p50 {_ms(p50)}, p99 "
        f"{_ms(p99)} "
        f"({steady.records:,} events in {steady.seconds:.0f} s; note 3)",
        f"p99 < {LATENCY_TARGET_MS} ms", ok(e99 < LATENCY_TARGET_MS),
    ))  # fmt: skip
    rows.append((
        "3 Sequence gaps, clients that keep up",
        f"{steady.gaps} missing updates over {steady.clients} clients "
        f"({steady.clients_with_gaps} clients with a gap; {steady.disorder} out of order); "
        f"with the slow client present: {slowed.gaps} over the other {slowed.clients} "
        f"({slowed.clients_with_gaps} with a gap)",
        "0", ok(steady.gaps == 0 and slowed.gaps == 0 and steady.disorder == 0),
    ))  # fmt: skip
    for name in ("A", "B"):
        rss = steady.rss.get(name) or [0]
        cpu = steady.cpu_s.get(name, 0.0) / steady.seconds
        http = steady.http_ms.get(name, [])
        rows.append((
            f"4{name.lower()} Instance {name}: RSS and CPU ({per_instance} clients)",
            f"RSS {_mib(sum(rss) / len(rss))} (max {_mib(max(rss))}); CPU {cpu * 100:.0f}% of "
            f"one core; `GET /` meanwhile p50 {_ms(pct(http, 50))}, "
            f"max {_ms(max(http, default=math.nan))}",
            "—", "—",
        ))  # fmt: skip
    slow = slowed.slow[0] if slowed.slow else {}
    s99, se99 = slowed.p("lat_r", 99), slowed.p("lat_e", 99)
    # What a slow client could delay is the fan-out: judged from the leader's receipt.
    shift = (s99 - p99) / p99 if p99 else math.nan
    feeds = sum(1 + bool(i.depth_feed) for i in instruments)
    rows.append((
        f"5 One slow client (all {feeds} feeds, each under {SLOW_ALIASES} ids; stalls "
        f"{SLOW_STALL_S:g} s, reads {SLOW_DRAIN_S:g} s): the others' p99",
        f"p99 from the leader's receipt (the fan-out) {_ms(p99)} → {_ms(s99)} "
        f"({shift * 100:+.1f}%); from the simulator {_ms(e99)} → {_ms(se99)}; the slow "
        "client got "
        f"{slow.get('live_events', 0):,} of "
        f"~{feeds * SLOW_ALIASES * TICK_RATE * slowed.seconds:,.0f} updates, "
        f"{slow.get('gaps', 0):,} conflated away (seq gaps), "
        f"{slow.get('disorder', 0)} out of order, still connected: "
        f"{slow.get('state') == 'subscribed'}",
        "conflated; others' p99 up < 10%",
        # A slow client could only delay the others: a lower p99 beside it is run-to-run
        # noise (about ±10% here), not harm.
        ok(shift < SLOW_SHIFT_TARGET and slow.get("gaps", 0) > 0
           and slow.get("state") == "subscribed"),
    ))  # fmt: skip
    rows.append((
        f"6 Leader killed (SIGKILL {failover.extra.get('killed')}) → ticks again on "
        f"{failover.extra.get('survivor')}",
        f"{_told(failover)} `live`; {_first_tick(failover)} after the kill "
        f"({failover.not_resumed} never); {failover.extra.get('connections')} upstream "
        "connection after",
        f"< {FAILOVER_TARGET_S} s",
        ok(failover.not_told == 0 and _all_resumed_within(failover, FAILOVER_TARGET_S)),
    ))  # fmt: skip
    rows.append((
        "7 Upstream dropped → resubscribed",
        f"simulator: all {drop.extra['feeds']} feeds joined again after "
        f"{_s(drop.extra['sim_rejoined_s'])}; clients: {_told(drop)} `live`, "
        f"{_first_tick(drop)} ({drop.not_resumed} never)",
        f"< {DROP_TARGET_S} s",
        ok(_all_resumed_within(drop, DROP_TARGET_S)),
    ))  # fmt: skip
    rows.append((
        "8 Token rollover (new session on B) → ticks resume, no client action",
        f"{_told(rollover)} `session_renewed` (p50 {_s(pct(rollover.told, 50))}); "
        f"{_first_tick(rollover)} after the activation ({rollover.not_resumed} never)",
        f"< {ROLLOVER_TARGET_S} s",
        ok(_all_resumed_within(rollover, ROLLOVER_TARGET_S)),
    ))  # fmt: skip
    rows.append((
        "9 Session expired → every client told",
        f"{_told(expiry)} `session_expired`, p50 {_s(pct(expiry.told, 50))}, max "
        f"{_s(max(expiry.told, default=math.nan))}; told twice: {expiry.told_twice}; in the "
        f"next 5 s the simulator refused {expiry.extra['refused']} connect(s) and opened "
        f"{expiry.extra['opened']}; after a new activation ticks again p50 "
        f"{_s(pct(reactivation.resumed, 50))}, max "
        f"{_s(max(reactivation.resumed, default=math.nan))}",
        f"< {EXPIRED_TARGET_S} s, once",
        ok(expiry.not_told == 0 and expiry.told_twice == 0 and expiry.told != []
           and max(expiry.told) < EXPIRED_TARGET_S and expiry.extra["refused"] <= 1
           and reactivation.not_resumed == 0),
    ))  # fmt: skip
    rows.append((
        f"10 REST quotes for the {len(instruments)} streamed instruments, on A and B",
        f"{rest_calls} upstream calls for {sum(statuses.values())} requests; HTTP "
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        + "; X-Cache "
        + ", ".join(f"{k}: {v}" for k, v in sorted(caches.items()))
        + (f" (not from the stream: {'; '.join(misses[:4])})" if misses else ""),
        "0", ok(rest_calls == 0 and statuses == Counter({200: sum(statuses.values())})),
    ))  # fmt: skip

    load_cpu = steady.load_cpu_s / steady.seconds
    where = ", ".join(
        f"{name} {steady.cpu_s.get(name, 0.0) / steady.seconds * 100:.0f}%"
        for name in ("A", "B", *others)
    )
    notes = [
        f"Machine: {os.cpu_count()} CPUs, loopback only, shared by everything below. Two "
        "instances `python -m uvicorn breeze_proxy.asgi:application "
        + " ".join(UVICORN_FLAGS)
        + "` (deploy.sh's flags; one process each, uvloop), Redis (a db of the bench's own, a "
        "fresh key prefix), PostgreSQL (a database of the run's own); Breeze = the bundled "
        f"simulator, `--tick-rate {TICK_RATE:g}` (one tick per joined feed every "
        f"{PERIOD_S:g} s), its small master "
        f"({', '.join(f'{k} {v}' for k, v in master.get('rows', {}).items())} rows). "
        "Production stream settings (leader TTL 6 s, reconnect backoff from 0.5 s, client "
        "buffer 64 packets); per-key limits raised for one address.",
        f"Clients: {shape.clients} Socket.IO connections (websocket transport, native "
        f"protocol{', batch: true' if shape.batch else ', one event per tick'}, no key) from "
        f"{shape.procs} load processes (`bench/stream_client.py`: a "
        "raw asyncio websocket speaking Engine.IO v4 / Socket.IO v5 itself; python-socketio "
        "clients cost too much CPU for 1,000 on two cores). Each listens to 20 of the 50 "
        f"instruments ({', '.join(i.label for i in instruments[:8])}, 12 NFO futures, 30 NFO "
        "options), 5 of them with depth: "
        f"{PER_CLIENT * TICK_RATE + DEPTH_PER_CLIENT * TICK_RATE:.0f} "
        f"events a second per client, {shape.clients * 50:,} a second in all. All "
        f"{shape.clients} had live ticks on all 25 of their feeds {ramp_s:.0f} s after the "
        "first connect.",
        "Latency: the simulator's tick carries its epoch second only, so the bench keeps a "
        "connection of its own to the simulator's feed (the probe, one feed joined): every "
        f"{PERIOD_S:g} s the simulator sends one round (every joined feed's tick at once) and "
        "the probe notes when each round arrived. A feed's ticks within one epoch second are "
        "that second's rounds in order, so each tick the leader published on Redis (with `r`, "
        "its `time.time()` on receipt, `seq` and the epoch) gets its send time. Every event a "
        "client received during a segment (not the snapshots on subscribe) is matched by "
        "(feed, seq) and charged from that send time (and, separately, from `r`); one "
        "machine, one clock. Stages in segment 1: the simulator's send to the leader's "
        f"receipt p50 {_ms(pct(up.read_ms, 50))}, p99 {_ms(pct(up.read_ms, 99))}, max "
        f"{_ms(max(up.read_ms, default=math.nan))} over {up.ticks:,} ticks; the leader's "
        f"receipt to a Redis subscriber (the bench's) p50 {_ms(pct(up.bus_ms, 50))}, p99 "
        f"{_ms(pct(up.bus_ms, 99))}; that subscriber to the client p50 "
        f"{_ms(steady.p('bus_to_client', 50))}, p99 {_ms(steady.p('bus_to_client', 99))}. "
        f"Histogram bins {BIN_S * 1000:g} ms; {steady.unmatched + steady.unsent} of "
        f"{steady.records:,} events could not be matched or timed.",
        f"Machine load (1/5/15-min load average) at the start {load_at_start}, at the end "
        f"{load_average()}: other work on the machine shares its CPUs with the run. "
        f"CPU during segment 1, % of one core: {where}; the load processes by their own "
        f"account {load_cpu * 100:.0f}%.",
        "Segment 2: the slow client connected to the leader's instance as the segment began, "
        f"listening to every feed under {SLOW_ALIASES} ids each (native `subscribe` allows "
        f"one instrument under several ids; ~{feeds * SLOW_ALIASES * TICK_RATE:.0f} events, "
        f"~400 KB a second) with a {SLOW_BUFFER}-byte receive buffer; it reads for "
        f"{SLOW_DRAIN_S:g} s, stalls its socket for {SLOW_STALL_S:g} s, reads all that waits "
        f"for {SLOW_DRAIN_S:g} s, and so on (so it answers the server's pings within "
        "Engine.IO's 45 s). The hub conflates once the client's Engine.IO queue backs up, "
        "i.e. only once the server's kernel send buffer is full: ~3 MB on loopback with "
        "Linux's default autotuning (`tcp_wmem` max 4 MiB), ~7 s of this client's feeds "
        "(~20 s for an ordinary client's). "
        f"The others: p50 {_ms(slowed.p('lat_e', 50))}, p99 {_ms(se99)} from the simulator. "
        "A conflated client's updates show as gaps in its `seq`, never as reordering.",
        "Faults (each measured from the moment it was injected, every client reporting when "
        "it was told and when its first live tick came after that): `drop` and `expire` "
        "through the simulator's control API, the rollover by `POST /breeze/admin/api-session` "
        "on B with a new token, the failover by SIGKILL of the instance holding the leader's "
        f"lock (its {shape.clients // 2} clients are gone with it; the survivor's are "
        "counted).",
    ]
    if profile:
        for name, shares in profile.items():
            top = ", ".join(f"{stage} {share * 100:.0f}%" for stage, share in shares[:8])
            notes.append(f"Profile of instance {name} (py-spy --gil: where its Python CPU time "
                         f"went; 200 Hz, 20 s of segment 1, "
                         f"bench/results/stream-profile-{name}.txt): {top}.")  # fmt: skip
    elif profiling:
        notes.append("Profile requested but py-spy was not found (PATH or PY_SPY).")
    lines = [
        f"## Breeze Proxy stream benchmark — {started:%Y-%m-%d %H:%M} UTC, commit {commit()}"
        + (" (--quick)" if shape.clients < 1000 else ""),
        "",
        "| Measure | Measured | Target | Result |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {r} |" for a, b, c, r in rows],
        "",
        *[f"{n}. {note}" for n, note in enumerate(notes, start=1)],
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="100 clients, 25 s segments")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy both instances for 20 s of segment 1 (PATH or PY_SPY)",
    )
    parser.add_argument(
        "--unbatched",
        action="store_true",
        help="clients take one event per tick instead of batch: true (one per round)",
    )
    args = parser.parse_args(argv)
    shape = Shape.quick() if args.quick else Shape.full()
    shape = dataclasses.replace(shape, batch=not args.unbatched)
    name = "stream.md" if shape.batch else "stream-unbatched.md"
    return publish(lambda: run(shape, args.profile), name)


if __name__ == "__main__":
    sys.exit(main())
