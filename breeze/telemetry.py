"""Telemetry: the proxy's Prometheus metrics, and the per-minute roll-up behind the fleet's
metrics API. One cheap call records each event for both.

* **Prometheus** (``/metrics``): counters, gauges and histograms of prometheus-client. Under
  gunicorn they run in multiprocess mode: ``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR``
  before anything imports prometheus-client, each worker writes its values to small mmap files
  there, and a scrape sums them (its ``child_exit`` hook forgets the live gauges of a worker
  that exits). In one process (runserver, uvicorn, tests) the ordinary registry is used.
* **The fleet** (``GET /breeze/metrics``, the staff dashboard): each process adds every event
  to an in-memory roll-up — per minute and per route (or upstream operation): a count, its 4xx
  and 5xx, a latency sum and a fixed-size latency histogram (:data:`BOUNDS_MS`) — and a daemon
  thread adds that to the shared store every ``BREEZE_METRICS_FLUSH_S`` seconds in ONE
  pipeline: one Redis hash per minute that expires after :data:`MINUTE_TTL_S`, plus one field
  per process with its RSS and CPU (the instance list). A request never waits for Redis. With
  the local-memory cache (the embedded default: one process) the roll-up is kept in the
  process instead.

Memory is fixed by construction: labels come from bounded sets (route names from the URL
configuration, the :class:`~breeze.operations.Operation` enum, status codes from a fixed list,
at most :data:`MAX_KEY_NAMES` client key names per process), the histogram has a fixed list of
buckets, and minutes expire.

This module is part of the Breeze service layer: it imports no Django app, only the shared
store; the ``monitoring`` app reads, aggregates and renders what it records.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections import defaultdict
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from breeze import store

logger = logging.getLogger("breeze.telemetry")

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
disable_created_metrics()  # no *_created series: half the series, nothing an alert reads

# --- bounded label values ------------------------------------------------------------------

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Every status the proxy answers deliberately; anything else is counted by its class ("5xx").
STATUSES = frozenset(
    {200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 422, 429}
    | {431, 500, 502, 503, 504}
)
# "stream": the live feed's last tick, written as the answer (the stream app does that).
CACHE_RESULTS = frozenset({"hit", "miss", "stale", "stream"})
MAX_KEY_NAMES = 100  # distinct client key names per process; more are counted as "other"
MAX_OUTCOMES = 40  # distinct error codes per process (the error classes are a fixed family)


def method_label(method: str | None) -> str:
    return method if method in METHODS else "other"


def status_label(status: int) -> str:
    return str(status) if status in STATUSES else f"{status // 100}xx"


class _Bounded:
    """At most ``limit`` distinct values; later new ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) >= self.limit:
                return "other"
            self.seen.add(value)
            return value


_key_names = _Bounded(MAX_KEY_NAMES)
_outcomes = _Bounded(MAX_OUTCOMES)

# --- Prometheus metrics --------------------------------------------------------------------

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UPSTREAM_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "breeze_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "breeze_http_request_duration_seconds",
    "Time from the request reaching the proxy to its response leaving it, by route and method.",
    ["route", "method"],
    buckets=HTTP_BUCKETS,
)
CACHE_ANSWERS = Counter(
    "breeze_cache_answers",
    "Market answers by where they came from: hit (the shared cache), miss (Breeze was called), "
    "stale (the last good answer while the breaker is open) or stream (the live feed's tick).",
    ["route", "result"],
)
CACHE_MERGED = Counter(
    "breeze_cache_merged_requests",
    "Requests answered by an identical request's upstream call (single flight).",
    ["operation"],
)
UPSTREAM_CALLS = Counter(
    "breeze_upstream_calls",
    "Calls to Breeze by operation and outcome (ok, or the error code).",
    ["operation", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "breeze_upstream_call_duration_seconds",
    "Duration of calls to Breeze, by operation.",
    ["operation"],
    buckets=UPSTREAM_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "breeze_budget_queue_wait_seconds",
    "Time calls waited in the budget's queue, by priority and outcome (granted or refused).",
    ["priority", "outcome"],
    buckets=WAIT_BUCKETS,
)
BREAKER_OPENED = Counter(
    "breeze_breaker_opened",
    "Times this process opened the circuit breaker.",
)
CLIENT_REQUESTS = Counter(
    "breeze_client_requests",
    "Requests admitted, by client key name (admin-key, anonymous, or the key's name).",
    ["key"],
)
CLIENT_REFUSALS = Counter(
    "breeze_client_refusals",
    "Requests refused by the access decision, by client key name and error code.",
    ["key", "code"],
)
HISTORY_CALLS_SAVED = Counter(
    "breeze_history_upstream_calls_saved",
    "Breeze calls history requests did not make because the candle store held the candles.",
)
PROCESS_RSS = Gauge(
    "breeze_process_resident_memory_bytes",
    "Resident memory of the serving processes (summed over live workers).",
    multiprocess_mode="livesum",
)
PROCESS_CPU = Gauge(
    "breeze_process_cpu_seconds",
    "CPU time (user + system) of the live serving processes.",
    multiprocess_mode="livesum",
)
# The live stream (the stream app updates these).
STREAM_CLIENTS = Gauge(
    "breeze_stream_clients",
    "Socket.IO clients connected (summed over live processes).",
    multiprocess_mode="livesum",
)
STREAM_SUBSCRIPTIONS = Gauge(
    "breeze_stream_subscriptions",
    "Instruments subscribed on the upstream feed.",
    multiprocess_mode="livemax",
)
STREAM_FEED_UP = Gauge(
    "breeze_stream_feed_up",
    "1 while this instance holds a connected upstream livestream feed.",
    multiprocess_mode="livemax",
)
STREAM_LEADER = Gauge(
    "breeze_stream_leader",
    "1 while this instance is the fleet's stream leader (holds the upstream feed).",
    multiprocess_mode="livemax",
)
STREAM_TICKS_IN = Counter(
    "breeze_stream_ticks_in",
    "Ticks received from the upstream feed (leader) or the fan-out bus (every instance).",
)
STREAM_TICKS_OUT = Counter(
    "breeze_stream_ticks_out",
    "Ticks emitted to clients.",
)
STREAM_TICK_LAG = Histogram(
    "breeze_stream_tick_lag_seconds",
    "From the tick's exchange time (or the leader's receive time) to its emission to a client.",
    buckets=LAG_BUCKETS,
)

# --- switching it off (the benchmark's "metrics off" run) ----------------------------------

_enabled: bool | None = None


def enabled() -> bool:
    """``BREEZE_METRICS_ENABLED`` (read once per process)."""
    global _enabled  # a per-process copy of a setting, not shared state
    if _enabled is None:
        from django.conf import settings

        _enabled = bool(getattr(settings, "BREEZE_METRICS_ENABLED", True))
    return _enabled


def set_enabled(value: bool | None) -> None:
    """Switch recording on or off in this process (tests); None: read the setting again."""
    global _enabled
    _enabled = value


# --- the per-minute roll-up ----------------------------------------------------------------

# Latency buckets of the roll-up, upper bounds in milliseconds; one more bucket holds the rest.
BOUNDS_MS = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000,
    3000, 5000, 10000, 30000,
)  # fmt: skip
BUCKETS = len(BOUNDS_MS) + 1
MINUTE_TTL_S = 2 * 3600  # a minute's hash lives this long in Redis
KEEP_MINUTES = MINUTE_TTL_S // 60
MINUTE_KEY = "metrics:minute:{}"
PROCESSES_KEY = "metrics:processes"
PROCESS_FORGET_S = 600  # a process silent this long is removed from the instance list
FIELD_SEP = "|"


class _Slot:
    """The roll-up's field names for one route or operation, made once."""

    __slots__ = ("buckets", "count", "err4", "err5", "errors", "sum_us")

    def __init__(self, kind: str, name: str) -> None:
        prefix = f"{kind}{FIELD_SEP}{name}{FIELD_SEP}"
        self.count = prefix + "n"
        self.err4 = prefix + "4"
        self.err5 = prefix + "5"
        self.errors = prefix + "e"
        self.sum_us = prefix + "s"
        self.buckets = tuple(f"{prefix}b{index}" for index in range(BUCKETS))


_slots: dict[tuple[str, str], _Slot] = {}
_lock = threading.Lock()
_pending: dict[int, defaultdict[str, int]] = {}


def _slot(kind: str, name: str) -> _Slot:
    slot = _slots.get((kind, name))
    if slot is None:
        slot = _slots.setdefault((kind, name), _Slot(kind, name))
    return slot


def _minute_fields(minute: int) -> defaultdict[str, int]:
    fields = _pending.get(minute)
    if fields is None:
        fields = _pending[minute] = defaultdict(int)
    return fields


def bucket_of(ms: float) -> int:
    return bisect.bisect_left(BOUNDS_MS, ms)


# --- recording (called on the request path: no I/O) -----------------------------------------

# The request path's Prometheus figures (one request, several series) are counted here first,
# in plain integers under the roll-up's lock, and added to prometheus-client's values in one
# batch per series at most every PROMETHEUS_PUSH_S (and before every scrape of this process):
# under gunicorn each value written is an mmap write behind one process-wide lock, which, per
# request and per series, cost more than everything else recording does.
PROMETHEUS_PUSH_S = 1.0
_prom_counts: defaultdict[tuple[Any, tuple[str, ...]], int] = defaultdict(int)
_prom_latency: dict[tuple[str, str], list[float]] = {}  # buckets..., then the sum in seconds
_HTTP_BOUNDS = (*HTTP_BUCKETS, float("inf"))


def record_request(route: str, method: str, status: int, seconds: float, cache: str = "") -> None:
    """One HTTP request answered (``route``: a route name, never a raw path)."""
    if not enabled():
        return
    method = method_label(method)
    ms = seconds * 1000.0
    slot = _slot("r", route)
    minute = int(time.time() // 60)
    with _lock:
        _prom_counts[(HTTP_REQUESTS, (route, method, status_label(status)))] += 1
        latency = _prom_latency.get((route, method))
        if latency is None:
            latency = _prom_latency[(route, method)] = [0] * len(_HTTP_BOUNDS) + [0.0]
        latency[bisect.bisect_left(_HTTP_BOUNDS, seconds)] += 1
        latency[-1] += seconds
        fields = _minute_fields(minute)
        fields[slot.count] += 1
        fields[slot.buckets[bisect.bisect_left(BOUNDS_MS, ms)]] += 1
        fields[slot.sum_us] += int(ms * 1000)
        if status >= 500:
            fields[slot.err5] += 1
        elif status >= 400:
            fields[slot.err4] += 1
        if cache in CACHE_RESULTS:
            _prom_counts[(CACHE_ANSWERS, (route, cache))] += 1
            fields["c" + FIELD_SEP + cache] += 1
    _ensure_reporter()


def push_prometheus() -> None:
    """Add what the request path counted since the last push to prometheus-client's values."""
    global _prom_counts, _prom_latency
    with _lock:
        counts, _prom_counts = _prom_counts, defaultdict(int)
        latencies, _prom_latency = _prom_latency, {}
    for (metric, labels), amount in counts.items():
        metric.labels(*labels).inc(amount)
    for labels, latency in latencies.items():
        child = HTTP_LATENCY.labels(*labels)
        # prometheus-client's Histogram has no "observe n values" call: its bucket and sum
        # values are added to as observe() itself does (tests/monitoring pins the result).
        for index, amount in enumerate(latency[:-1]):
            if amount:
                child._buckets[index].inc(amount)
        child._sum.inc(latency[-1])


def record_upstream(operation: str, outcome: str, seconds: float) -> None:
    """One call to Breeze (``outcome``: "ok" or the error code)."""
    if not enabled():
        return
    outcome = _outcomes(outcome)
    UPSTREAM_CALLS.labels(operation, outcome).inc()
    UPSTREAM_LATENCY.labels(operation).observe(seconds)
    ms = seconds * 1000.0
    slot = _slot("u", operation)
    minute = int(time.time() // 60)
    with _lock:
        fields = _minute_fields(minute)
        fields[slot.count] += 1
        fields[slot.buckets[bisect.bisect_left(BOUNDS_MS, ms)]] += 1
        fields[slot.sum_us] += int(ms * 1000)
        if outcome != "ok":
            fields[slot.errors] += 1


def record_merged(operation: str) -> None:
    """A request answered by an identical request's call (it made none of its own)."""
    if not enabled():
        return
    CACHE_MERGED.labels(operation).inc()
    minute = int(time.time() // 60)
    with _lock:
        _minute_fields(minute)["c" + FIELD_SEP + "merged"] += 1


def record_queue_wait(priority: str, seconds: float, *, granted: bool) -> None:
    """A call's time in the budget's queue, and whether it got its slot."""
    if not enabled():
        return
    QUEUE_WAIT.labels(priority, "granted" if granted else "refused").observe(seconds)
    minute = int(time.time() // 60)
    with _lock:
        fields = _minute_fields(minute)
        fields["q" + FIELD_SEP + "n"] += 1
        fields["q" + FIELD_SEP + "s"] += int(seconds * 1_000_000)
        if not granted:
            fields["q" + FIELD_SEP + "r"] += 1


def record_breaker_opened() -> None:
    if enabled():
        BREAKER_OPENED.inc()


def record_client(key: str, *, refused: str = "") -> None:
    """The access decision for one request: admitted, or refused with code ``refused``."""
    if not enabled():
        return
    key = _key_names(key)
    series = (CLIENT_REFUSALS, (key, _outcomes(refused))) if refused else (CLIENT_REQUESTS, (key,))
    with _lock:
        _prom_counts[series] += 1


def record_history_saved(calls: int) -> None:
    if calls > 0 and enabled():
        HISTORY_CALLS_SAVED.inc(calls)


# --- this process, as the instance list shows it -------------------------------------------

_instance_id: str | None = None
_started_at = time.time()
# (wall time, CPU seconds, CPU percent since the reading before) at the last reading
_cpu_seen: tuple[float, float, float] | None = None
_under_gunicorn: bool | None = None


def instance_id() -> str:
    """The instance this process serves in: ``BREEZE_INSTANCE_ID`` (gunicorn.conf.py sets it in
    the master, so its workers share it), else this process's own."""
    global _instance_id  # the process's identity, made once
    if _instance_id is None:
        _instance_id = os.environ.get("BREEZE_INSTANCE_ID") or (
            f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
    return _instance_id


def _rss_bytes(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        if pid != "self":
            return 0
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _master_rss() -> int:
    """The gunicorn master's RSS, when this process is one of its workers (it serves nothing,
    but it is part of the instance's memory)."""
    global _under_gunicorn
    parent = os.getppid()
    if _under_gunicorn is None:
        try:
            with open(f"/proc/{parent}/cmdline", "rb") as cmdline:
                _under_gunicorn = b"gunicorn" in cmdline.read()
        except OSError:
            _under_gunicorn = False
    return _rss_bytes(parent) if _under_gunicorn else 0


def process_report() -> dict[str, Any]:
    """This process's line in the instance list: its RSS and CPU use since the last report."""
    global _cpu_seen
    now = time.time()
    times = os.times()
    cpu_s = times.user + times.system
    previous = _cpu_seen
    if previous is None:
        _cpu_seen = (now, cpu_s, 100.0 * cpu_s / max(1e-6, now - _started_at))
    elif now - previous[0] >= 1.0:  # a report soon after another keeps the last reading
        _cpu_seen = (now, cpu_s, 100.0 * (cpu_s - previous[1]) / (now - previous[0]))
    cpu_percent = _cpu_seen[2]
    rss = _rss_bytes()
    if enabled():
        PROCESS_RSS.set(rss)
        PROCESS_CPU.set(cpu_s)
    return {
        "instance": instance_id(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "rss_bytes": rss,
        "master_rss_bytes": _master_rss(),
        "cpu_seconds": round(cpu_s, 3),
        "cpu_percent": round(max(0.0, cpu_percent), 2),
        "started_at": round(_started_at, 3),
        "at": round(now, 3),
    }


# --- the flush to the shared store ---------------------------------------------------------

_local_lock = threading.Lock()
_local_minutes: dict[int, defaultdict[str, int]] = {}
_local_processes: dict[str, dict[str, Any]] = {}


def flush() -> None:
    """Add this process's roll-up to the shared store and report the process (one pipeline)."""
    global _pending
    with _lock:
        pending, _pending = _pending, {}
    report = process_report()
    field = f"{report['instance']}{FIELD_SEP}{report['pid']}"
    r = store.redis()
    if r is None:
        _merge_local(pending, field, report)
        return
    try:
        pipe = r.client.pipeline(transaction=False)
        for minute, fields in pending.items():
            key = r.make_key(MINUTE_KEY.format(minute))
            for name, amount in fields.items():
                if amount:
                    pipe.hincrby(key, name, amount)
            pipe.expire(key, MINUTE_TTL_S)
        processes = r.make_key(PROCESSES_KEY)
        pipe.hset(processes, field, json.dumps(report))
        pipe.expire(processes, MINUTE_TTL_S)
        pipe.execute()
    except Exception:
        _restore(pending)
        raise


def _restore(pending: dict[int, defaultdict[str, int]]) -> None:
    """Keep what could not be flushed for the next try (recent minutes only: bounded)."""
    oldest = int(time.time() // 60) - KEEP_MINUTES
    with _lock:
        for minute, fields in pending.items():
            if minute > oldest:
                into = _minute_fields(minute)
                for name, amount in fields.items():
                    into[name] += amount


def _merge_local(pending: dict[int, defaultdict[str, int]], field: str, report: dict) -> None:
    oldest = int(time.time() // 60) - KEEP_MINUTES
    with _local_lock:
        for minute, fields in pending.items():
            into = _local_minutes.setdefault(minute, defaultdict(int))
            for name, amount in fields.items():
                into[name] += amount
        for minute in [m for m in _local_minutes if m <= oldest]:
            del _local_minutes[minute]
        _local_processes[field] = report


def minutes(first: int, last: int) -> dict[int, dict[str, int]]:
    """The fleet's roll-up for each minute from ``first`` to ``last`` (epoch minutes)."""
    r = store.redis()
    if r is None:
        with _local_lock:
            return {
                minute: dict(_local_minutes[minute])
                for minute in range(first, last + 1)
                if minute in _local_minutes
            }
    pipe = r.client.pipeline(transaction=False)
    wanted = list(range(first, last + 1))
    for minute in wanted:
        pipe.hgetall(r.make_key(MINUTE_KEY.format(minute)))
    found: dict[int, dict[str, int]] = {}
    for minute, fields in zip(wanted, pipe.execute(), strict=True):
        if fields:
            found[minute] = {name.decode(): int(value) for name, value in fields.items()}
    return found


def processes(*, now: float | None = None) -> list[dict[str, Any]]:
    """Every process that reported in the last :data:`PROCESS_FORGET_S` seconds (older ones are
    removed, so the list stays as long as the fleet is large)."""
    now = time.time() if now is None else now
    r = store.redis()
    if r is None:
        with _local_lock:
            for field in [
                f for f, p in _local_processes.items() if now - p["at"] > PROCESS_FORGET_S
            ]:
                del _local_processes[field]
            return [dict(report) for report in _local_processes.values()]
    key = r.make_key(PROCESSES_KEY)
    reports, forgotten = [], []
    for field, raw in r.client.hgetall(key).items():
        try:
            report = json.loads(raw)
        except ValueError:
            forgotten.append(field)
            continue
        if now - float(report.get("at", 0)) > PROCESS_FORGET_S:
            forgotten.append(field)
        else:
            reports.append(report)
    if forgotten:
        r.client.hdel(key, *forgotten)
    return reports


# --- the reporter thread -------------------------------------------------------------------

_reporter_pid = 0
_reporter_lock = threading.Lock()
_failures_logged_at = 0.0


def flush_interval_s() -> float:
    from django.conf import settings

    return max(0.2, float(getattr(settings, "BREEZE_METRICS_FLUSH_S", 5.0)))


def _ensure_reporter() -> None:
    if _reporter_pid != _pid:
        start_reporter()


def start_reporter() -> None:
    """Start this process's reporter thread (once per process; gunicorn's post_worker_init and
    the first request both call it)."""
    global _reporter_pid
    if not enabled():
        return
    with _reporter_lock:
        if _reporter_pid == _pid:
            return
        _reporter_pid = _pid
        thread = threading.Thread(target=_report_forever, name="metrics-reporter", daemon=True)
        thread.start()
    atexit.register(_push_quietly)
    atexit.register(_flush_quietly)


def _report_forever() -> None:
    interval = flush_interval_s()
    pause = min(interval, PROMETHEUS_PUSH_S)
    next_flush = 0.0
    while True:
        _push_quietly()
        if time.monotonic() >= next_flush:
            _flush_quietly()
            next_flush = time.monotonic() + interval
        time.sleep(pause)


def _push_quietly() -> None:
    try:
        push_prometheus()
    except Exception:
        logger.warning("metrics: adding to prometheus-client's values failed", exc_info=True)


def _flush_quietly() -> None:
    global _failures_logged_at
    try:
        flush()
    except Exception:
        if time.monotonic() - _failures_logged_at > 60:  # one line a minute while it fails
            _failures_logged_at = time.monotonic()
            logger.warning("metrics flush to the shared store failed", exc_info=True)


_pid = os.getpid()


def _after_fork() -> None:
    """A forked worker starts with nothing of its parent's: no pending counts, no thread."""
    global _pid, _pending, _cpu_seen, _instance_id, _under_gunicorn, _started_at
    global _prom_counts, _prom_latency
    _prom_counts, _prom_latency = defaultdict(int), {}
    _pid = os.getpid()
    _started_at = time.time()
    _pending = {}
    _cpu_seen = None
    _under_gunicorn = None
    if not os.environ.get("BREEZE_INSTANCE_ID"):
        _instance_id = None


os.register_at_fork(after_in_child=_after_fork)


def reset() -> None:
    """Forget everything recorded in this process and the local roll-up (tests)."""
    global _pending, _prom_counts, _prom_latency
    with _lock:
        _pending = {}
        _prom_counts, _prom_latency = defaultdict(int), {}
    with _local_lock:
        _local_minutes.clear()
        _local_processes.clear()
