"""Load: many concurrent clients against a proxy under its production gunicorn configuration.

``gunicorn -c gunicorn.conf.py`` with REDIS_URL (so its defaults: 2 workers x 40 threads) and
the test PostgreSQL; wrk (a C load generator, ``bench.wrk.ensure_wrk`` installs it when missing)
drives ``load_mix.lua``, which picks each request at random from five groups:

* ``cached``: a few cash quotes and one daily history, answered from the cache almost always;
* ``miss_quote``: hundreds of distinct option quotes (1 s TTL, so mostly fetched upstream);
* ``miss_history``: tens of thousands of distinct 5-minute windows (each one a Breeze call);
* ``batch``: a batch of cached quotes;
* ``bad``: invalid requests the proxy must refuse with 400 (or 415) before any upstream call.

The proxy's per-minute budget (90 by default) would answer most misses 429
``rate_budget_exhausted`` after a queue wait, which is documented; this test instead raises
BREEZE_RATE_PER_MIN / BREEZE_RATE_PER_DAY and the simulator's own limits so that misses reach the
simulator. Any 429 is still counted separately and is not a failure. Failures: any 5xx, any
connection error (connect, read, write or wrk's timeout), and bad requests not answered 4xx.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.workload import history_window, option_quotes
from bench.wrk import ensure_wrk
from tests.robustness.conftest import create_client_key

pytestmark = [pytest.mark.multiprocess]

LUA = Path(__file__).resolve().parent / "load_mix.lua"
PROXY_ENV = {
    "BREEZE_RATE_PER_MIN": "10000000",
    "BREEZE_RATE_PER_DAY": "100000000",
    "LOG_LEVEL": "INFO",  # production's level: one access line per request
}
CACHED = [
    ("/breeze/quotes", {"stock_code": code})
    for code in ("RELIND", "TCS", "INFTEC", "HDFBAN", "NIFTY")
] + [
    ("/breeze/depth", {"stock_code": "RELIND"}),
    (
        "/breeze/historical",
        {
            "stock_code": "RELIND",
            "exchange_code": "NSE",
            "interval": "1day",
            "from_date": "2025-03-03",
            "to_date": "2025-03-28",
        },
    ),
]
BAD = [
    ("/breeze/quotes", {"stock_code": ""}),
    ("/breeze/quotes", {"stockcode": "RELIND"}),
    ("/breeze/quotes", {"stock_code": "RELIND", "exchange_code": "XYZ"}),
    ("/breeze/quotes", {"stock_code": "NIFTY", "exchange_code": "NFO"}),
    ("/breeze/historical", {"stock_code": "TCS", "interval": "2minute", "from_date": "2025-03-03"}),
    (
        "/breeze/historical",
        {"stock_code": "TCS", "from_date": "2025-03-28", "to_date": "2025-03-03"},
    ),
    ("/breeze/option-chain", {"stock_code": "NIFTY"}),
    ("/breeze/quotes/batch", {"instruments": "RELIND"}),
    ("/breeze/quotes", "{not json"),
]


def _write_bodies(path: Path) -> None:
    lines: list[str] = []

    def add(group: str, url: str, body) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        lines.append(f"{group}\t{url}\t{text}")

    for url, body in CACHED:
        add("cached", url, body)
    for body in option_quotes():
        add("miss_quote", "/breeze/quotes", body)
    for idx in range(30_000):
        add("miss_history", "/breeze/historical", history_window(idx))
    add("batch", "/breeze/quotes/batch", {"instruments": [b for _, b in CACHED[:5]] * 2})
    for url, body in BAD:
        add("bad", url, body)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def load_proxy(start_proxy):
    return start_proxy("load", **PROXY_ENV)


def _run_load(proxy, sim, shared_redis, tmp_path, *, connections: int, seconds: int) -> None:
    shared_redis.flushdb()
    sim.reset()
    sim.configure(rate_per_min=100_000_000, rate_per_day=1_000_000_000)
    activated = proxy.activate(sim.issue_session())
    assert activated.status_code == 200, activated.text
    key = create_client_key("robustness-load") or ""

    bodies = tmp_path / "bodies.tsv"
    _write_bodies(bodies)
    wrk, _ = ensure_wrk()
    argv = [
        wrk, "-t4", f"-c{connections}", f"-d{seconds}s", "--timeout=10s", "--latency",
        "-s", str(LUA), proxy.url, "--", str(bodies), key,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("LOAD_JSON ")), None)
    output = done.stdout[-2000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    assert line, output
    raw = json.loads(line.removeprefix("LOAD_JSON "))

    answers: dict[str, int] = raw["answers"]
    by_status: dict[int, int] = {}
    for label, count in answers.items():
        status = int(label.split()[0])
        by_status[status] = by_status.get(status, 0) + count
    server_errors = sum(count for status, count in by_status.items() if status >= 500)
    connection_errors = sum(
        raw[name] for name in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    rate_limited = by_status.get(429, 0)
    duration = raw["duration_us"] / 1e6
    print(
        f"\n[load {connections} clients x {seconds} s] {raw['requests']} requests "
        f"({raw['requests'] / duration:.0f}/s), p50 {raw['p50_us'] / 1000:.1f} ms, "
        f"p90 {raw['p90_us'] / 1000:.1f} ms, p99 {raw['p99_us'] / 1000:.1f} ms, "
        f"max {raw['max_us'] / 1000:.1f} ms; 5xx: {server_errors}; 429 (not a failure): "
        f"{rate_limited}; connection errors: {connection_errors} "
        f"(connect {raw['connect_errors']}, read {raw['read_errors']}, "
        f"write {raw['write_errors']}, timeout {raw['timeouts']})\n"
        f"  sent by group: {dict(sorted(raw['sent'].items()))}\n"
        f"  by status: {dict(sorted(by_status.items()))}\n"
        f"  by status and code/X-Cache: {dict(sorted(answers.items()))}\n"
        f"  simulator calls: {sim.stats()['calls']}"
    )
    assert server_errors == 0, f"{server_errors} 5xx; first: {raw['first_5xx']}"
    assert connection_errors == 0
    assert raw["requests"] > 0
    assert by_status.get(200, 0) > 0
    assert by_status.get(400, 0) > 0, "no bad request was answered 400"
    assert sum(raw["sent"].values()) >= raw["requests"]


def test_load_short(load_proxy, sim, shared_redis, transactional_db, tmp_path):
    _run_load(load_proxy, sim, shared_redis, tmp_path, connections=50, seconds=5)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_load_200_clients_60s(load_proxy, sim, shared_redis, transactional_db, tmp_path):
    _run_load(load_proxy, sim, shared_redis, tmp_path, connections=200, seconds=60)
