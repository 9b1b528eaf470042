"""``python -m bench.history``: historical candles (issue 10), every row measured in one run.

The table (markdown) goes to stdout and, identical, to ``bench/results/history.md``; progress
goes to stderr and each child's output to ``bench/results/<name>.log``. Everything started is
torn down at the end, on failure and on Ctrl-C/SIGTERM. ``bench/run.sh history`` runs it too.

Order of the run:

1. preflight (Redis, PostgreSQL), flush the bench's Redis db, migrate, client key; the candle
   series the run uses (RELIND 1minute and 1day, TCS 1minute, NSE cash) are deleted from the
   bench database, so the store starts cold for them;
2. a simulator like Breeze (200 ms latency, 100 calls/min, 5000/day) and two proxy instances,
   A and B, with the default budget, one Redis namespace and one database:
   row 1: 30 calendar days of RELIND 1-minute candles through A, cold;
   row 2: the same request through B, then ``--repeats`` sequential repeats through B;
   row 3: five years of RELIND daily candles through A, cold;
3. a zero-latency, unlimited simulator; ``manage.py candles backfill`` (its own environment has
   a raised budget) fills ~100,000 TCS 1-minute candles; a fresh proxy instance C (default
   budget) then streams that range as CSV, then as JSON, to a client reading at a throttled
   rate while C's process tree RSS is sampled every 20 ms (row 4).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.processes import (
    PYTHON,
    ROOT,
    BenchError,
    Child,
    Fleet,
    SimControl,
    _tree,
    base_env,
    ensure_alive,
    free_port,
    run_checked,
    start_simulator,
)
from bench.scenarios import activate_session, key_header
from bench.stack import (
    DB_ENV,
    HIGH,
    RESULTS_DIR,
    Setup,
    client_key_for,
    commit,
    flush_redis,
    gunicorn_shape,
    manage,
    ok,
    preflight,
    proxy_env,
    publish,
    say,
    scan_logs,
    start_proxy,
)
from breeze.calendar import SlotClock, TradingCalendar
from breeze_sim.market_time import is_trading_day as sim_is_trading_day

IST = ZoneInfo("Asia/Kolkata")
PAGE = 1000  # Breeze's v2 cap: candles per history call
MINUTES_PER_DAY = 375  # 09:15 .. 15:29
STREAM_CANDLES = 100_000
READ_RATE_BPS = 4 * 2**20  # the slow client of row 4
READ_CHUNK = 64 * 1024
RSS_PERIOD_S = 0.02
MEMORY_TARGET_MIB = 50
MINUTE_STOCK, DAY_STOCK, STREAM_STOCK = "RELIND", "RELIND", "TCS"
HISTORY_PATH = "/breeze/historical"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- calendars


@dataclass(frozen=True)
class Span:
    """A range of whole trading days and what the two calendars say it holds."""

    first: date
    last: date
    days: int  # trading days per the simulator's holiday list (what "Breeze" has)
    proxy_days: int  # per breeze.calendar (what the proxy pages by)
    proxy_slots: int  # candle slots per breeze.calendar.SlotClock for the interval

    def candles(self, interval: str) -> int:
        return self.days * (MINUTES_PER_DAY if interval == "1minute" else 1)

    def min_calls(self, interval: str) -> int:
        return math.ceil(self.candles(interval) / PAGE)

    @property
    def calendars_agree(self) -> bool:
        return self.days == self.proxy_days


def span(first: date, last: date, interval: str) -> Span:
    sim_days = sum(
        sim_is_trading_day(first + timedelta(days=i)) for i in range((last - first).days + 1)
    )
    calendar = TradingCalendar()
    slots = SlotClock(calendar, interval)
    count = slots.last_at_or_before(datetime.combine(last, datetime.max.time())) - (
        slots.first_at_or_after(datetime.combine(first, datetime.min.time()))
    ) + 1  # fmt: skip
    return Span(first, last, sim_days, len(calendar.trading_days(first, last)), count)


def last_trading_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not sim_is_trading_day(day):
        day -= timedelta(days=1)
    return day


def trading_days_back(count: int, last: date) -> date:
    """The first of ``count`` trading days ending with ``last`` (a trading day)."""
    day, seen = last, 1
    while seen < count:
        day -= timedelta(days=1)
        seen += sim_is_trading_day(day)
    return day


# ----------------------------------------------------------------------------- HTTP


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # request sent -> last byte read
    head_s: float  # request sent -> response head read

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def history_request(
    url: str, body: dict[str, Any], client_key: str | None, *, accept: str | None = None,
    rate_bps: float | None = None, progress: Callable[[int], None] | None = None,
) -> Reply:  # fmt: skip
    """One POST /breeze/historical on a fresh connection, read to the end (at most ``rate_bps``
    bytes a second when given; ``progress`` is told the bytes received so far)."""
    host, _, port = url.split("://", 1)[1].partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=180)
    headers = {"Content-Type": "application/json", **key_header(client_key)}
    if accept:
        headers["Accept"] = accept
    try:
        started = time.perf_counter()
        conn.request("POST", HISTORY_PATH, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        head_s = time.perf_counter() - started
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = response.read(READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if progress is not None:
                progress(got)
            if rate_bps:
                ahead = got / rate_bps - (time.perf_counter() - started - head_s)
                if ahead > 0:
                    time.sleep(ahead)
        seconds = time.perf_counter() - started
        heads = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, heads, b"".join(chunks), seconds, head_s)
    finally:
        conn.close()


def body_for(stock: str, interval: str, first: date, last: date) -> dict[str, Any]:
    return {
        "stock_code": stock, "exchange_code": "NSE", "interval": interval,
        "from_date": first.isoformat(), "to_date": last.isoformat(),
    }  # fmt: skip


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


# ----------------------------------------------------------------------------- memory


def rss_by_pid(root: int) -> dict[int, int]:
    """Resident bytes of ``root`` and each of its descendants (/proc/<pid>/statm)."""
    found: dict[int, int] = {}
    for pid in _tree(root):
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        found[pid] = resident * PAGE_SIZE
    return found


class RssSampler:
    """Samples a process tree's RSS every ``period_s`` in a thread, with the client's progress
    (bytes received) at each sample."""

    def __init__(self, root: int, period_s: float = RSS_PERIOD_S) -> None:
        self.root, self.period_s = root, period_s
        self.received = 0
        self.samples: list[tuple[float, int, dict[int, int]]] = []  # (bytes so far, total, pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            pids = rss_by_pid(self.root)
            self.samples.append((self.received, sum(pids.values()), pids))
            next_at += self.period_s
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class MemoryResult:
    label: str
    status: int
    candles: int
    bytes_received: int
    seconds: float
    head_s: float
    upstream_calls: str
    complete: str
    idle_bytes: int
    peak_bytes: int
    worst_process_delta: int  # the largest growth of any one process of the tree
    samples: int
    period_ms: float
    at_fraction: dict[int, int] = field(default_factory=dict)  # % of body -> delta bytes

    @property
    def delta_mib(self) -> float:
        return (self.peak_bytes - self.idle_bytes) / 2**20


def stream_with_sampling(
    url: str, body: dict[str, Any], client_key: str | None, pid: int, *, accept: str | None,
    count: Callable[[bytes], int],
) -> MemoryResult:  # fmt: skip
    """Idle RSS of the tree just before, then the request read slowly while sampling."""
    idle_samples = []
    for _ in range(5):
        idle_samples.append(rss_by_pid(pid))
        time.sleep(RSS_PERIOD_S)
    idle = idle_samples[-1]
    idle_total = sum(idle.values())
    sampler = RssSampler(pid)

    def progress(got: int) -> None:
        sampler.received = got

    started = time.perf_counter()
    with sampler:
        reply = history_request(url, body, client_key, accept=accept, rate_bps=READ_RATE_BPS,
                                progress=progress)  # fmt: skip
        time.sleep(0.1)  # the worker finishing the response after the last byte
    wall = time.perf_counter() - started
    samples = sampler.samples
    peak = max(total for _, total, _ in samples)
    worst = max(
        (pids.get(p, 0) - base for _, _, pids in samples for p, base in idle.items()), default=0
    )
    size = max(1, len(reply.body))
    at_fraction: dict[int, int] = {}
    for pct in (10, 50, 100):
        reached = [total for got, total, _ in samples if got >= size * pct / 100]
        if reached:
            at_fraction[pct] = reached[0] - idle_total
    return MemoryResult(
        label=accept or "application/json", status=reply.status,
        candles=count(reply.body) if reply.status == 200 else 0,
        bytes_received=len(reply.body), seconds=reply.seconds, head_s=reply.head_s,
        upstream_calls=reply.header("X-Upstream-Calls"),
        complete=reply.header("X-History-Complete"),
        idle_bytes=idle_total, peak_bytes=peak, worst_process_delta=worst, samples=len(samples),
        period_ms=wall * 1000 / max(1, len(samples)), at_fraction=at_fraction,
    )  # fmt: skip


def csv_candles(body: bytes) -> int:
    return max(0, body.count(b"\n") - 1)  # less the header line


def json_candles(body: bytes) -> int:
    return len(json.loads(body)["Success"])


# ----------------------------------------------------------------------------- the run


@dataclass
class ColdResult:
    span: Span
    interval: str
    reply: Reply
    sim_calls: int
    sim_seconds: float = 0.0  # the simulator's own time for those calls (latency + compute)

    @property
    def data(self) -> dict[str, Any]:
        return self.reply.json() if self.reply.status == 200 else {}

    @property
    def candles(self) -> int:
        return len(self.data.get("Success", []))

    @property
    def response_calls(self) -> Any:
        return self.data.get("upstream_calls", self.reply.header("X-Upstream-Calls"))


@dataclass
class RepeatResult:
    first: Reply
    first_sim_calls: int
    times_ms: list[float]
    sim_calls: int  # over the first request and every repeat
    response_calls: list[int]
    same_candles: bool
    statuses: dict[int, int]
    cache_headers: dict[str, int]


def cold_store(series: list[tuple[str, str]]) -> str:
    """Delete the candle series the run measures (cascades to candles and coverage)."""
    pairs = ", ".join(f"({s!r}, {i!r})" for s, i in series)
    code = (
        "from django.db.models import Q\n"
        "from market.models import CandleSeries\n"
        "q = Q(pk__in=[])\n"
        f"for stock, interval in [{pairs}]:\n"
        "    q |= Q(stock_code=stock, interval=interval, exchange='NSE')\n"
        "import json\n"
        "print(json.dumps(CandleSeries.objects.filter(q).delete()[1]))\n"
    )
    out = manage(["shell", "--no-imports", "-c", code], base_env(**DB_ENV))
    counts = json.loads(out.strip().splitlines()[-1])
    return ", ".join(f"{v:,} {k.rsplit('.', 1)[-1]}" for k, v in counts.items()) or "nothing stored"


def sim_log_mark(sim: Child) -> int:
    return len(sim.log_path.read_bytes())


def sim_history_seconds(sim: Child, mark: int) -> tuple[int, float]:
    """History calls the simulator logged after ``mark`` and its own time for them (latency +
    compute), from lines like ``... historicalcharts_v2 Status=200 231.8ms``."""
    with sim.log_path.open("rb") as log:
        log.seek(mark)
        lines = log.read().decode(errors="replace").splitlines()
    times = [
        float(line.rsplit(" ", 1)[1].removesuffix("ms"))
        for line in lines
        if "historicalcharts" in line and line.endswith("ms")
    ]
    return len(times), sum(times) / 1000


def load_average() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def activate_cli(env: dict[str, str], token: str) -> None:
    """``manage.py breeze_session set`` with the token on stdin (no proxy needed)."""
    done = subprocess.run(
        [PYTHON, "manage.py", "breeze_session", "set"], cwd=ROOT, env=env, input=token + "\n",
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"breeze_session set failed: {done.stderr[-1000:]}")


def run(repeats: int) -> str:
    fleet = Fleet(RESULTS_DIR)
    try:
        return _run(fleet, repeats)
    finally:
        say("tearing down")
        fleet.stop_all()


def _run(fleet: Fleet, repeats: int) -> str:
    started = datetime.now(tz=UTC)
    run_id = started.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    notes: list[str] = []
    load_at_start = load_average()
    preflight()
    flush_redis()
    say("migrating")
    manage(["migrate", "--noinput", "-v0"], base_env(**DB_ENV))
    setup = Setup(fleet, run_id, secrets.token_urlsafe(24), None, dict(DB_ENV))
    setup.client_key = client_key_for(f"hist-{run_id}", base_env(**DB_ENV))
    deleted = cold_store(
        [(MINUTE_STOCK, "1minute"), (DAY_STOCK, "1day"), (STREAM_STOCK, "1minute")]
    )
    say(f"cold store: deleted {deleted}")

    today = datetime.now(IST).date()
    to_day = last_trading_day_before(today)
    month = span(to_day - timedelta(days=30), to_day, "1minute")
    years = span(to_day.replace(year=to_day.year - 5), to_day, "1day")
    stream_days = math.ceil(STREAM_CANDLES / MINUTES_PER_DAY)
    stream = span(trading_days_back(stream_days, to_day), to_day, "1minute")

    # --- rows 1-3: a simulator like Breeze, instances A and B ---------------------------
    sim, sim_url = start_simulator(
        fleet, "hist-sim", latency_ms=200, rate_per_min=100, rate_per_day=5000, stream=False
    )
    control = SimControl(sim_url)
    prefix = f"bench-hist-{run_id}"
    env_a = proxy_env(setup, sim_url=sim_url, port=free_port(), prefix=prefix)
    env_b = proxy_env(setup, sim_url=sim_url, port=free_port(), prefix=prefix)
    workers, threads = gunicorn_shape(env_a)
    say(f"simulator at {sim_url}; starting instances A and B (default budget)")
    proxy_a, url_a, _ = start_proxy(setup, "hist-proxy-a", env_a)
    proxy_b, url_b, _ = start_proxy(setup, "hist-proxy-b", env_b)
    activate_session(url_a, setup.admin_key, control.new_session(), setup.client_key)

    say(f"row 1: {month.first}..{month.last} 1minute through A (cold)")
    month_body = body_for(MINUTE_STOCK, "1minute", month.first, month.last)
    before, mark = control.stats()["total_calls"], sim_log_mark(sim)
    cold = ColdResult(month, "1minute", history_request(url_a, month_body, setup.client_key),
                      0)  # fmt: skip
    cold.sim_calls = control.stats()["total_calls"] - before
    time.sleep(0.05)  # the simulator's log line follows its answer
    cold.sim_seconds = sim_history_seconds(sim, mark)[1]
    if cold.reply.status != 200:
        say(f"row 1 answered {cold.reply.status}: {cold.reply.body[:300]!r}")
    ensure_alive([proxy_a, sim], "row 1")

    say(f"row 2: the same through B, then {repeats} repeats")
    before = control.stats()["total_calls"]
    first = history_request(url_b, month_body, setup.client_key)
    first_sim = control.stats()["total_calls"] - before
    times: list[float] = []
    calls: list[int] = []
    statuses: dict[int, int] = {}
    caches: dict[str, int] = {}
    reference = cold.data.get("Success")
    same = first.status == 200 and first.json().get("Success") == reference
    for index in range(repeats + 1):
        reply = first if index == 0 else history_request(url_b, month_body, setup.client_key)
        if index:
            times.append(reply.seconds * 1000)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        caches[reply.header("X-Cache")] = caches.get(reply.header("X-Cache"), 0) + 1
        if reply.status == 200:
            data = reply.json()
            calls.append(int(data["upstream_calls"]))
            same = same and data["complete"] is True and data["Success"] == reference
    warm = RepeatResult(first, first_sim, times, control.stats()["total_calls"] - before, calls,
                        same, statuses, caches)  # fmt: skip
    ensure_alive([proxy_b, sim], "row 2")

    say(f"row 3: {years.first}..{years.last} 1day through A (cold)")
    before, mark = control.stats()["total_calls"], sim_log_mark(sim)
    day_body = body_for(DAY_STOCK, "1day", years.first, years.last)
    daily = ColdResult(years, "1day", history_request(url_a, day_body, setup.client_key), 0)
    daily.sim_calls = control.stats()["total_calls"] - before
    time.sleep(0.05)
    daily.sim_seconds = sim_history_seconds(sim, mark)[1]
    if daily.reply.status != 200:
        say(f"row 3 answered {daily.reply.status}: {daily.reply.body[:300]!r}")
    ensure_alive([proxy_a, sim], "row 3")
    sim_stats = control.stats()
    control.close()
    for child in (proxy_a, proxy_b, sim):
        fleet.stop(child)

    # --- row 4: fill the store, then stream from a fresh instance -----------------------
    fill_sim, fill_url = start_simulator(
        fleet, "hist-sim-fill", latency_ms=0, rate_per_min=HIGH, rate_per_day=HIGH, stream=False
    )
    fill_control = SimControl(fill_url)
    fill_env = proxy_env(
        setup, sim_url=fill_url, port=free_port(), prefix=f"{prefix}-fill",
        BREEZE_RATE_PER_MIN=HIGH, BREEZE_RATE_PER_DAY=HIGH,
    )  # fmt: skip
    activate_cli(fill_env, fill_control.new_session())
    say(f"row 4: backfill {STREAM_STOCK} 1minute {stream.first}..{stream.last} (raised budget)")
    before = fill_control.stats()["total_calls"]
    out = run_checked(
        [PYTHON, "manage.py", "candles", "backfill", "--symbol", STREAM_STOCK,
         "--interval", "1minute", "--from", stream.first.isoformat(),
         "--to", stream.last.isoformat()],
        fill_env, timeout_s=240,
    )  # fmt: skip
    backfill = json.loads(out)
    backfill["sim_calls"] = fill_control.stats()["total_calls"] - before
    say(f"row 4: backfill {backfill}")

    env_c = proxy_env(setup, sim_url=fill_url, port=free_port(), prefix=f"{prefix}-c")
    proxy_c, url_c, _ = start_proxy(setup, "hist-proxy-c", env_c)
    time.sleep(1.0)  # let the fresh instance settle before its idle RSS is read
    stream_body = body_for(STREAM_STOCK, "1minute", stream.first, stream.last)
    before = fill_control.stats()["total_calls"]
    say("row 4: CSV stream from fresh instance C, RSS sampled every 20 ms")
    csv_memory = stream_with_sampling(url_c, stream_body, setup.client_key, proxy_c.pid,
                                      accept="text/csv", count=csv_candles)  # fmt: skip
    say("row 4: JSON stream from C")
    json_memory = stream_with_sampling(url_c, stream_body, setup.client_key, proxy_c.pid,
                                       accept=None, count=json_candles)  # fmt: skip
    stream_sim_calls = fill_control.stats()["total_calls"] - before
    ensure_alive([proxy_c, fill_sim], "row 4")
    fill_control.close()

    logs = scan_logs(["hist-proxy-a", "hist-proxy-b", "hist-proxy-c"])
    notes.append(
        f"Machine load (1/5/15-min load average) at start {load_at_start}, at the end "
        f"{load_average()}, on {os.cpu_count()} CPUs: the timings share the CPUs with whatever "
        "else runs on the machine."
    )
    return render(
        started=started, run_id=run_id, workers=workers, threads=threads, cold=cold, warm=warm,
        daily=daily, stream=stream, backfill=backfill, memories=[csv_memory, json_memory],
        stream_sim_calls=stream_sim_calls, sim_stats=sim_stats, logs=logs, notes=notes,
        client_key=setup.client_key is not None, deleted=deleted,
    )  # fmt: skip


# ----------------------------------------------------------------------------- table


def _mib(value: int) -> str:
    return f"{value / 2**20:.1f} MiB"


def _cold_rows(number: str, label: str, result: ColdResult) -> list[tuple[str, str, str, str]]:
    s, interval = result.span, result.interval
    unit = "trading minutes" if interval == "1minute" else "trading days"
    candles, need = s.candles(interval), s.min_calls(interval)
    if result.reply.status != 200:
        text = f"HTTP {result.reply.status}: {result.reply.body[:200]!r}"
        return [(f"{number} {label}", text, f"= {need}", ok(False))]
    data = result.data
    calls_ok = result.sim_calls == need and result.response_calls == need
    return [
        (
            f"{number}a {label}: upstream calls",
            f"sim {result.sim_calls}, response `upstream_calls` {result.response_calls}; minimum "
            f"⌈{candles:,} {unit} / {PAGE}⌉ = {need}",
            f"= {need}",
            ok(calls_ok),
        ),
        (
            f"{number}b {label}: answer",
            f"`complete` {str(data.get('complete')).lower()}, {result.candles:,} candles "
            f"({candles:,} {unit}); {result.reply.seconds:.2f} s wall "
            f"({result.reply.head_s:.2f} s to the response head; the simulator's own time for "
            f"its calls {result.sim_seconds:.2f} s), "
            f"{len(result.reply.body) / 2**20:.1f} MiB JSON",
            f"complete, {candles:,} candles",
            ok(data.get("complete") is True and result.candles == candles),
        ),
    ]


def render(
    *, started: datetime, run_id: str, workers: int, threads: int, cold: ColdResult,
    warm: RepeatResult, daily: ColdResult, stream: Span, backfill: dict[str, Any],
    memories: list[MemoryResult], stream_sim_calls: int, sim_stats: dict[str, Any],
    logs: dict[str, Any], notes: list[str], client_key: bool, deleted: str,
) -> str:  # fmt: skip
    m = cold.span
    rows: list[tuple[str, str, str, str]] = []
    rows += _cold_rows("1", f"30 days of 1-minute candles ({m.first}..{m.last}), cold, A", cold)
    n = len(warm.times_ms)
    rows.append((
        "2a Same request through instance B: upstream calls",
        f"sim {warm.sim_calls} over {n + 1} requests (first request: {warm.first_sim_calls}); "
        f"response `upstream_calls` {sorted(set(warm.response_calls))}; X-Cache "
        + ", ".join(f"{k or '—'}: {v}" for k, v in sorted(warm.cache_headers.items())),
        "0", ok(warm.sim_calls == 0 and set(warm.response_calls) == {0}
                and warm.statuses == {200: n + 1}),
    ))  # fmt: skip
    rows.append((
        f"2b Same request through B: latency ({n} sequential repeats)",
        f"p50 {percentile(warm.times_ms, 50):.0f} ms, p99 {percentile(warm.times_ms, 99):.0f} ms"
        f" (first request to B {warm.first.seconds * 1000:.0f} ms); same candles as A's, "
        f"complete: {'yes' if warm.same_candles else '**no**'}",
        "—", "—" if warm.same_candles else ok(False),
    ))  # fmt: skip
    y = daily.span
    rows += _cold_rows("3", f"5 years of daily candles ({y.first}..{y.last}), cold, A", daily)
    need = stream.min_calls("1minute")
    rows.append((
        f"4a Store fill: `manage.py candles backfill` {STREAM_STOCK} 1minute "
        f"({stream.first}..{stream.last})",
        f"sim {backfill['sim_calls']}, summary `upstream_calls` {backfill['upstream_calls']}; "
        f"{backfill['candles_stored']:,} candles stored in {backfill['duration_s']} s; "
        f"complete {str(backfill['complete']).lower()}",
        f"= ⌈{stream.candles('1minute'):,} / {PAGE}⌉ = {need}",
        ok(backfill["sim_calls"] == need and backfill["complete"] is True
           and backfill["candles_stored"] == stream.candles("1minute")),
    ))  # fmt: skip
    expected = stream.candles("1minute")
    for memory, letter in zip(memories, "bc", strict=True):
        kind = "CSV" if "csv" in memory.label else "JSON"
        flat = ", ".join(f"{pct}%: {_mib(d)}" for pct, d in memory.at_fraction.items())
        rows.append((
            f"4{letter} Memory streaming {expected:,} candles as {kind}, fresh instance C",
            f"peak +{memory.delta_mib:.1f} MiB over idle {_mib(memory.idle_bytes)} (tree); "
            f"growth by share of body received: {flat}; "
            f"{memory.candles:,} candles, {memory.bytes_received / 2**20:.1f} MiB in "
            f"{memory.seconds:.1f} s; HTTP {memory.status}, X-Upstream-Calls "
            f"{memory.upstream_calls}, complete {memory.complete}",
            f"< {MEMORY_TARGET_MIB} MiB, flat",
            ok(memory.delta_mib < MEMORY_TARGET_MIB and memory.candles == expected
               and memory.complete == "true"),
        ))  # fmt: skip

    csv_m = memories[0]
    lines = [
        f"## Breeze Proxy history benchmark — {started:%Y-%m-%d %H:%M} UTC, commit {commit()}, "
        f"run {run_id}",
        "",
        "| Measure | Measured | Target | Result |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {r} |" for a, b, c, r in rows],
        "",
        f"Machine: {os.cpu_count()} CPUs, loopback only; each proxy instance under "
        f"`gunicorn -c gunicorn.conf.py` ({workers} workers x {threads} threads), Redis db for "
        "the bench flushed at start, PostgreSQL; Breeze = bundled simulator.",
        "",
        "1. Rows 1-3: simulator with 200 ms latency and Breeze's own limits (100 calls/min, "
        "5000/day); instances A and B are separate gunicorns with the default budget "
        "(`BREEZE_RATE_PER_MIN`=90, `BREEZE_HISTORY_MAX_CALLS`=10), one Redis namespace, one "
        f"database. Cold store: the series used were deleted at start ({deleted}). Upstream "
        "calls = the simulator's `total_calls` delta around the request (the ground truth) and "
        "the answer's `upstream_calls`. Every request is a JSON `POST /breeze/historical` with "
        "bare dates (to_date = end of that day), ending on the last trading day before today "
        "(IST).",
        "2. Trading days/minutes from the simulator's holiday list "
        "(breeze_sim/market_time.py); breeze.calendar agrees: "
        + ", ".join(
            f"{name} {'yes' if s.calendars_agree else '**no**'} ({s.days} vs {s.proxy_days} "
            f"days, SlotClock {s.proxy_slots} slots)"
            for name, s in (("row 1", m), ("row 3", y), ("row 4", stream))
        )
        + ".",
        f"3. Row 2: B never served anything before; {n} sequential repeats after its first "
        "request, each on a fresh connection, timed from sending to the last byte; p99 is the "
        f"nearest rank (with {n} samples, the slowest). All repeats, ms, in order: "
        + ", ".join(f"{t:.0f}" for t in warm.times_ms)
        + ".",
        "4. Row 4 fill: a second simulator (no latency, no limits) and `manage.py candles "
        "backfill` (background priority, 5 pages per step) run with `BREEZE_RATE_PER_MIN` and "
        "`BREEZE_RATE_PER_DAY` raised in the command's own environment; the session was "
        "activated with `manage.py breeze_session set`. Instance C was then started fresh with "
        "the default budget and its own namespace; it made "
        f"{stream_sim_calls} upstream calls for both streams (the store answered).",
        f"5. Row 4 memory: RSS (`/proc/<pid>/statm`) summed over C's master and workers, "
        f"sampled every {RSS_PERIOD_S * 1000:.0f} ms ({csv_m.samples} samples, one per "
        f"{csv_m.period_ms:.0f} ms, during the CSV stream); idle = the sample taken just before "
        f"the request; the client read at {READ_RATE_BPS / 2**20:.0f} MiB/s in "
        f"{READ_CHUNK // 1024} KiB reads (`Accept: text/csv`, then the default JSON). The "
        "largest growth of any single process: "
        + ", ".join(
            f"{'CSV' if 'csv' in x.label else 'JSON'} {_mib(x.worst_process_delta)}"
            for x in memories
        )
        + ". C's first request includes the worker's first-request warm-up (connections, "
        "lazy imports), so the CSV figure is an upper bound.",
        f"6. Simulator over rows 1-3: {sim_stats.get('total_calls')} calls (incl. one "
        f"`customerdetails` for the session), {sim_stats.get('rate_limited', 0)} refused for "
        "rate.",
        (
            "7. Client keys: every request carried `X-Proxy-Key`; proxies ran with "
            "`BREEZE_REQUIRE_CLIENT_KEY=true`."
            if client_key
            else "7. Client keys: no `client_keys` command; requests carried no key."
        ),
        f"8. Proxy logs (bench/results/hist-proxy-*.log): {logs['errors']} ERROR/CRITICAL "
        f"lines, {logs['fivexx']} access lines with status ≥ 500.",
        *[f"{i}. {note}" for i, note in enumerate(notes, start=9)],
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=30, help="row 2's sequential repeats")
    args = parser.parse_args(argv)
    return publish(lambda: run(max(1, args.repeats)), "history.md")


if __name__ == "__main__":
    sys.exit(main())
