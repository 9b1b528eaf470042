"""``python -m bench``: set everything up, measure every row in one run, print ONE table.

The table (markdown) goes to stdout and, identical, to ``bench/results/latest.md``; progress and
diagnostics go to stderr, and each child's output to ``bench/results/<name>.log``. Everything
started is torn down at the end, on failure and on Ctrl-C/SIGTERM.

Order of the run (each phase needs a quiet machine, so nothing overlaps):

1. preflight (wrk, Redis, PostgreSQL), a database of the run's own (dropped at the end), flush
   the bench's Redis db, migrate, client key;
2. main simulator (200 ms) and the main proxy: time to first 200 on ``GET /`` (row 6b);
3. floor app then proxy, cached quote, identical wrk settings (row 1); the same with
   metrics off, then on again (row 1d);
4. 100 simultaneous clients on one uncached quote, three times (row 3);
5. upstream misses, direct SDK vs proxy, at concurrency 1 and 50 (row 2);
6. connections vs calls over the main proxy's whole life (row 4), its RSS (row 6a);
7. a second simulator (50 ms, 100/min) and two proxy instances with the default budget under
   ~10x the budget for 72 s (row 5).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench import scenarios, wrk
from bench.processes import (
    Fleet,
    SimControl,
    base_env,
    ensure_alive,
    free_port,
    process_tree_cpu_s,
    process_tree_rss_bytes,
    start_gunicorn,
    start_simulator,
    wait_http_ok,
)
from bench.stack import (
    HIGH,
    RESULTS_DIR,
    Setup,
    client_key_for,
    database,
    flush_redis,
    gunicorn_shape,
    manage,
    preflight,
    proxy_env,
    publish,
    say,
    scan_logs,
    start_proxy,
    sync_master,
)
from bench.stack import commit as _commit
from bench.stack import ok as _ok


@dataclass(frozen=True)
class Durations:
    cached_s: int
    miss_warm_s: int
    miss_c1_s: int
    miss_c50_s: int
    budget_s: int

    @classmethod
    def full(cls) -> Durations:
        return cls(cached_s=15, miss_warm_s=3, miss_c1_s=6, miss_c50_s=8, budget_s=72)

    @classmethod
    def quick(cls) -> Durations:
        return cls(cached_s=3, miss_warm_s=1, miss_c1_s=2, miss_c50_s=2, budget_s=8)


# ----------------------------------------------------------------------------- the run


def run(durations: Durations, quick: bool) -> str:
    fleet = Fleet(RESULTS_DIR)
    db_name = f"bench_main_{secrets.token_hex(4)}"
    try:
        preflight()
        db_env = database(db_name)
        return _run(fleet, durations, quick, db_env)
    finally:
        say("tearing down")
        fleet.stop_all()
        with contextlib.suppress(Exception):
            database(db_name, drop=True)


def _cached_quotes(proxy: Any, url: str, client_key: str | None, seconds: int) -> tuple[Any, float]:
    """wrk on the cached quote (2 threads, 50 connections) and the proxy's CPU milliseconds
    per request meanwhile (master and workers)."""
    cpu_before = process_tree_cpu_s(proxy.pid)
    result = scenarios.wrk_post(
        f"{url}/breeze/quotes", scenarios.QUOTE_BODY, client_key,
        threads=2, connections=50, duration_s=seconds,
    )  # fmt: skip
    return result, (process_tree_cpu_s(proxy.pid) - cpu_before) * 1000 / max(1, result.requests)


def _run(fleet: Fleet, d: Durations, quick: bool, db_env: dict[str, str]) -> str:
    started = datetime.now(tz=UTC)
    run_id = started.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    notes: list[str] = []

    _, installed = wrk.ensure_wrk()
    if installed:
        notes.append("wrk was missing and was installed with apt-get during this run.")
    flush_redis()
    say("migrating")
    manage(["migrate", "--noinput", "-v0"], base_env(**db_env))
    setup = Setup(fleet, run_id, secrets.token_urlsafe(24), None, db_env)
    setup.client_key = client_key_for(run_id, base_env(**db_env))

    # --- main simulator and proxy -------------------------------------------------------
    sim, sim_url = start_simulator(
        fleet, "sim-main", latency_ms=200, rate_per_min=int(HIGH), rate_per_day=int(HIGH)
    )
    sync_master(sim_url, db_env)
    control = SimControl(sim_url)
    baseline = control.stats()  # the bench's health polls and this control connection
    say(f"simulator at {sim_url}; starting the proxy")
    main_env = proxy_env(
        setup, sim_url=sim_url, port=free_port(), prefix=f"bench-{run_id}",
        BREEZE_RATE_PER_MIN=HIGH, BREEZE_RATE_PER_DAY=HIGH,
    )  # fmt: skip
    workers, threads = gunicorn_shape(main_env)
    proxy, proxy_url, startup_s = start_proxy(setup, "proxy-main", main_env)
    scenarios.activate_session(proxy_url, setup.admin_key, control.new_session(), setup.client_key)

    # --- row 1: floor, then cached quote ------------------------------------------------
    say(f"row 1: floor app, wrk -t2 -c50 -d{d.cached_s}s")
    floor_port = free_port()
    # The proxy's own environment (the config sizes workers from REDIS_URL), another port.
    floor = start_gunicorn(fleet, "floor", "bench.floor_app:app",
                           {**main_env, "PORT": str(floor_port)})  # fmt: skip
    floor_url = f"http://127.0.0.1:{floor_port}"
    wait_http_ok(floor, f"{floor_url}/", timeout_s=30)
    floor_result = scenarios.wrk_post(
        f"{floor_url}/breeze/quotes", scenarios.QUOTE_BODY, setup.client_key,
        threads=2, connections=50, duration_s=d.cached_s,
    )  # fmt: skip
    fleet.stop(floor)
    say(f"row 1: proxy cached quote, wrk -t2 -c50 -d{d.cached_s}s")
    scenarios.warm_quote(proxy_url, setup.client_key)
    before_cached = control.stats()["total_calls"]
    proxy_cached, cpu_cached = _cached_quotes(proxy, proxy_url, setup.client_key, d.cached_s)
    cached_upstream = control.stats()["total_calls"] - before_cached
    cpu_ms = {"cached": cpu_cached}
    ensure_alive([proxy, sim], "row 1")
    cached = scenarios.CachedResult(proxy=proxy_cached, floor=floor_result)

    # --- row 1d: the same cached quote with metrics off, between two runs with them on --
    say(f"row 1d: proxy with BREEZE_METRICS_ENABLED=false, wrk -t2 -c50 -d{d.cached_s}s")
    before_off = control.stats()
    off_env = {**main_env, "PORT": str(free_port()), "BREEZE_METRICS_ENABLED": "false"}
    off_proxy, off_url, _ = start_proxy(setup, "proxy-metrics-off", off_env)
    scenarios.warm_quote(off_url, setup.client_key)
    metrics_off, cpu_ms["cached, metrics off"] = _cached_quotes(
        off_proxy, off_url, setup.client_key, d.cached_s
    )
    fleet.stop(off_proxy)
    after_off = control.stats()  # the off proxy's calls and connections are not row 4's
    off_calls = after_off["total_calls"] - before_off["total_calls"]
    off_conns = after_off["connections_opened"] - before_off["connections_opened"]
    say(f"row 1d: the main proxy (metrics on) again, wrk -t2 -c50 -d{d.cached_s}s")
    metrics_on_again, cpu_ms["cached, metrics on (again)"] = _cached_quotes(
        proxy, proxy_url, setup.client_key, d.cached_s
    )
    ensure_alive([proxy, sim], "row 1d")
    metrics_on = [proxy_cached, metrics_on_again]

    # --- row 3: stampede ----------------------------------------------------------------
    say("row 3: 100 simultaneous clients, same uncached quote (x3)")
    stampede = scenarios.stampede(proxy_url, control, setup.client_key, ["TCS", "INFTEC", "HDFBAN"])

    ensure_alive([proxy, sim], "row 3")

    # --- row 2: misses, direct vs proxy -------------------------------------------------
    blocks = scenarios.IndexBlocks()
    say("row 2: warming the proxy's upstream connections")
    scenarios.wrk_history_miss(proxy_url, setup.client_key, blocks, connections=50,
                               duration_s=d.miss_warm_s)  # fmt: skip
    pairs: list[scenarios.LatencyPair] = []
    direct_calls = direct_conns = 0
    for concurrency, seconds in ((1, d.miss_c1_s), (50, d.miss_c50_s)):
        say(f"row 2: direct SDK, concurrency {concurrency}, {seconds}s")
        token = control.new_session()
        before = control.stats()
        direct = scenarios.direct_sdk(sim_url, token, blocks, concurrency=concurrency,
                                      duration_s=seconds)  # fmt: skip
        after = control.stats()
        direct_calls += after["total_calls"] - before["total_calls"]
        direct_conns += after["connections_opened"] - before["connections_opened"]
        say(f"row 2: proxy, concurrency {concurrency}, {seconds}s")
        cpu_before = process_tree_cpu_s(proxy.pid)
        proxy_miss = scenarios.wrk_history_miss(
            proxy_url, setup.client_key, blocks, connections=concurrency, duration_s=seconds
        )
        cpu = (process_tree_cpu_s(proxy.pid) - cpu_before) * 1000 / max(1, proxy_miss.requests)
        cpu_ms[f"miss c{concurrency}"] = cpu
        pairs.append(scenarios.LatencyPair(concurrency, proxy_miss, direct))

    ensure_alive([proxy, sim], "row 2")

    # --- rows 4 and 6a: the main proxy's whole life -------------------------------------
    final = control.stats()
    control.close()
    bench_conns = baseline["connections_opened"] + control.connections - 1  # 1 is in baseline
    proxy_conns = final["connections_opened"] - bench_conns - direct_conns - off_conns
    proxy_calls = final["total_calls"] - baseline["total_calls"] - direct_calls - off_calls
    rss_bytes, rss_procs = process_tree_rss_bytes(proxy.pid)
    say("stopping the main proxy and simulator")
    fleet.stop(proxy)
    fleet.stop(sim)

    # --- row 5: two instances, one budget -----------------------------------------------
    say(f"row 5: two instances, default budget, ~15 req/s for {d.budget_s}s")
    sim2, sim2_url = start_simulator(
        fleet, "sim-budget", latency_ms=50, rate_per_min=100, rate_per_day=5000
    )
    control2 = SimControl(sim2_url)
    prefix2 = f"bench-{run_id}-budget"
    instances = []
    for name in ("proxy-budget-a", "proxy-budget-b"):
        env = proxy_env(setup, sim_url=sim2_url, port=free_port(), prefix=prefix2)
        instances.append(start_proxy(setup, name, env))
    budget_urls = [url for _, url, _ in instances]
    scenarios.activate_session(budget_urls[0], setup.admin_key, control2.new_session(),
                               setup.client_key)  # fmt: skip
    control2.call("POST", "reset")  # forget the activation's customerdetails call
    # Two client keys, one per instance: a key may spend only its share of the minute
    # (BREEZE_KEY_CALLS_PER_MINUTE, half the budget), so one key alone could not fill it.
    second_key = client_key_for(f"{run_id}-b", base_env(**db_env)) if setup.client_key else None
    budget = scenarios.rate_budget_load(
        budget_urls, [setup.client_key, second_key], blocks, rate_per_s=15.0,
        duration_s=d.budget_s,
    )  # fmt: skip
    time.sleep(0.5)
    ensure_alive([child for child, _, _ in instances] + [sim2], "row 5")
    budget.sim = control2.stats()
    control2.close()
    for child, _, _ in instances:
        fleet.stop(child)
    fleet.stop(sim2)

    log_findings = scan_logs(
        ["proxy-main", "proxy-metrics-off", "proxy-budget-a", "proxy-budget-b"]
    )
    return render(
        started=started, run_id=run_id, quick=quick, d=d, workers=workers, threads=threads,
        client_key=setup.client_key is not None, cached=cached, cached_upstream=cached_upstream,
        pairs=pairs, stampede=stampede, proxy_conns=proxy_conns, proxy_calls=proxy_calls,
        budget=budget, rss_bytes=rss_bytes, rss_procs=rss_procs, startup_s=startup_s,
        notes=notes, log_findings=log_findings, cpu_ms=cpu_ms,
        metrics_on=metrics_on, metrics_off=metrics_off,
    )  # fmt: skip


def render(
    *, started: datetime, run_id: str, quick: bool, d: Durations, workers: int, threads: int,
    client_key: bool, cached: scenarios.CachedResult, cached_upstream: int,
    pairs: list[scenarios.LatencyPair], stampede: scenarios.StampedeResult, proxy_conns: int,
    proxy_calls: int, budget: scenarios.BudgetResult, rss_bytes: int, rss_procs: int,
    startup_s: float, notes: list[str], log_findings: dict[str, Any], cpu_ms: dict[str, float],
    metrics_on: list[Any], metrics_off: Any,
) -> str:  # fmt: skip
    p, f = cached.proxy, cached.floor
    slots = workers * threads
    rows: list[tuple[str, str, str, str]] = []
    rows.append((
        "1a Cached quote, proxy (`POST /breeze/quotes` RELIND)",
        f"{p.rps:,.0f} req/s; p50 {p.p50_ms:.1f} ms, p99 {p.p99_ms:.1f} ms",
        "—", "—",
    ))  # fmt: skip
    rows.append((
        "1b Floor: minimal WSGI app, same gunicorn config",
        f"{f.rps:,.0f} req/s; p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms", "—", "—",
    ))  # fmt: skip
    rows.append(("1c Cached throughput ratio proxy / floor", f"{cached.ratio:.2f}",
                 "≥ 0.25 (goal 0.35)", _ok(cached.ratio >= 0.25)))  # fmt: skip
    on_rps = sum(run.rps for run in metrics_on) / len(metrics_on)
    overhead = on_rps / metrics_off.rps if metrics_off.rps else 0.0
    rows.append((
        "1d Metrics overhead: cached quote throughput, metrics on / off",
        f"{overhead:.3f} (on {on_rps:,.0f} req/s: mean of "
        f"{' and '.join(f'{run.rps:,.0f}' for run in metrics_on)}; off {metrics_off.rps:,.0f} "
        f"req/s; p50 on {metrics_on[0].p50_ms:.1f} ms, off {metrics_off.p50_ms:.1f} ms; "
        f"CPU per request on {cpu_ms['cached']:.2f} and "
        f"{cpu_ms['cached, metrics on (again)']:.2f} ms, off "
        f"{cpu_ms['cached, metrics off']:.2f} ms)",
        "≥ 0.95", _ok(overhead >= 0.95),
    ))  # fmt: skip
    for pair, letter in zip(pairs, "ab", strict=True):
        dp50, dp99 = float(pair.direct["p50_ms"]), float(pair.direct["p99_ms"])
        rows.append((
            f"2{letter} Added latency on a miss, concurrency {pair.concurrency}",
            f"p50 {pair.added_p50_ms:+.1f} ms ({pair.proxy.p50_ms:.1f} vs {dp50:.1f}); "
            f"p99 {pair.added_p99_ms:+.1f} ms ({pair.proxy.p99_ms:.1f} vs {dp99:.1f}); "
            f"n={pair.proxy.requests}/{pair.direct['requests']}",
            "p50 < 5 ms", _ok(pair.added_p50_ms < 5),
        ))  # fmt: skip
    worst = max(stampede.upstream_calls)
    rows.append((
        "3 Upstream calls, 100 simultaneous clients, same uncached quote",
        f"{worst} call(s) = {worst / stampede.requests_per_burst:.2f} per request "
        f"(bursts: {', '.join(map(str, stampede.upstream_calls))}; "
        f"answers {_statuses(stampede.statuses)})",
        "exactly 1", _ok(all(c == 1 for c in stampede.upstream_calls)),
    ))  # fmt: skip
    per_k = proxy_conns / proxy_calls * 1000 if proxy_calls else 0.0
    rows.append((
        "4 Upstream connections opened by the main proxy, whole run",
        f"{proxy_conns} connections for {proxy_calls:,} calls = {per_k:.1f} per 1000 calls; "
        f"workersxthreads = {workers}x{threads} = {slots}",
        f"≤ {slots} (one per thread)", _ok(proxy_conns <= slots),
    ))  # fmt: skip
    sim = budget.sim
    rows.append((
        "5a Rate budget, 2 instances: most upstream calls in any 60 s",
        f"{sim['max_calls_in_60s']} (of {sim['total_calls']} calls in {budget.duration_s:.0f} s)",
        "≤ 90", _ok(sim["max_calls_in_60s"] <= 90),
    ))  # fmt: skip
    rows.append(("5b Rate budget: calls Breeze refused (sim `rate_limited`)",
                 str(sim["rate_limited"]), "0", _ok(sim["rate_limited"] == 0)))  # fmt: skip
    five = budget.statuses.get("5xx", 0)
    rows.append((
        f"5c Rate budget: client answers ({budget.sent} requests, 15 req/s)",
        _statuses(budget.statuses)
        + f"; 429 without Retry-After: {budget.missing_retry_after}",
        "0 5xx; Retry-After on every 429",
        _ok(five == 0 and budget.missing_retry_after == 0 and budget.statuses.get("200", 0) > 0),
    ))  # fmt: skip
    mib = rss_bytes / 2**20
    rows.append(("6a Resident memory, master + workers, after the run",
                 f"{mib:.0f} MiB ({rss_procs} processes)", "< 400 MiB",
                 _ok(mib < 400)))  # fmt: skip
    rows.append(("6b Spawn to first 200 on `GET /`", f"{startup_s:.2f} s", "< 2 s",
                 _ok(startup_s < 2)))  # fmt: skip

    lines = [
        f"## Breeze Proxy benchmark — {started:%Y-%m-%d %H:%M} UTC, commit {_commit()}, "
        f"run {run_id}{' (QUICK MODE: short phases, not comparable)' if quick else ''}",
        "",
        "| Measure | Measured | Target | Result |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {r} |" for a, b, c, r in rows],
        "",
        f"Machine: {os.cpu_count()} CPUs, loopback only; proxy under "
        f"`gunicorn -c gunicorn.conf.py` ({workers} workers x {threads} threads), "
        "Redis db for the bench flushed at start, "
        "PostgreSQL (a database of the run's own, so no candle stored by an earlier run "
        "answers a miss); Breeze = bundled simulator.",
        "",
        f"1. Row 1: `wrk -t2 -c50 -d{d.cached_s}s` with `bench/lua/post_json.lua`, floor then "
        "proxy back to back, identical settings and body; cache warmed first; 1 s quote TTL, so "
        f"the proxy made {cached_upstream} upstream calls during its run. Socket errors / non-2xx:"
        f" proxy {p.socket_errors}/{p.non_2xx}, floor {f.socket_errors}/{f.non_2xx}.",
        "1d. Row 1d: a second proxy, identical but for `BREEZE_METRICS_ENABLED=false` (no "
        "Prometheus counters, no roll-up, no reporter thread), measured like 1a right after it; "
        "then the main proxy (metrics on) again, so the off run sits between two on runs in the "
        "same run; the ratio is the mean of the on runs over the off run. Its upstream calls "
        "and connections are left out of row 4.",
        "2. Row 2: every request is a miss: each asks for a historical 1-minute window (stock, "
        "trading day, 5 minutes) no other request of the run uses (`bench/lua/history_miss.lua`, "
        "`bench/workload.py`). Proxy: wrk, closed loop, after a 50-connection warm-up. Direct: "
        "`bench/direct.py`, the project's SDK loader + `BreezeClient` (one keep-alive connection "
        "per thread), same windows' shape, in its own process, after one untimed call per thread. "
        "Sim latency 200 ms; proxy and sim limits raised out of the way for this phase. Figures "
        "are proxy vs direct; n = proxy/direct samples. Non-2xx from the proxy: "
        + ", ".join(f"c{x.concurrency}: {x.proxy.non_2xx + x.proxy.socket_errors}" for x in pairs)
        + ".",
        "3. Row 3: 100 threads, each on an already-open connection, released by one barrier; "
        "three bursts on three quotes never asked before; sim `total_calls` delta per burst.",
        "4. Row 4: sim `connections_opened` over the main proxy's life (startup, rows 1-3), minus "
        "the bench's one control connection and the direct-SDK runs' connections; calls are sim "
        "API calls minus the direct runs'.",
        f"5. Row 5: a second simulator (50 ms, 100 calls/min) and two proxy instances (separate "
        "gunicorns, same Redis namespace and DB, default `BREEZE_RATE_PER_MIN`=90); open-loop "
        f"clients at 15 req/s for {budget.duration_s:.0f} s, alternating instances, alternating a "
        "never-repeated NIFTY option quote and a never-repeated historical window. Sim stats reset "
        "after the session activation (one `customerdetails`), so they count the load only.",
        "6. Row 6: RSS summed over the master and its workers from /proc after rows 1-4 (shared "
        "pages counted once per process: an upper bound); start-up = spawn of gunicorn to the "
        "first 200 on `GET /`, polled every 10 ms.",
        (
            "7. Client keys: `manage.py client_keys` exists; every request carried `X-Proxy-Key` "
            "and the proxies ran with `BREEZE_REQUIRE_CLIENT_KEY=true`."
            if client_key
            else "7. Client keys: the project has no `client_keys` management command yet, so "
            "the proxies ran without client keys (no `X-Proxy-Key`)."
        ),
        "8. Proxy CPU (master + workers, user + system, from /proc) per request: "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in cpu_ms.items())
        + f" (the machine has {os.cpu_count()} cores for proxy, simulator, Redis and wrk).",
        f"9. Proxy logs (bench/results/proxy-*.log): {log_findings['errors']} ERROR/CRITICAL "
        f"lines, {log_findings['fivexx']} access lines with status ≥ 500.",
        *[f"{i}. {note}" for i, note in enumerate(notes, start=10)],
    ]
    return "\n".join(lines) + "\n"


def _statuses(counter: Any) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0])))


# ----------------------------------------------------------------------------- entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short phases for trying the harness (figures not comparable)",
    )
    args = parser.parse_args(argv)
    durations = Durations.quick() if args.quick else Durations.full()
    return publish(lambda: run(durations, args.quick), "latest.md")


if __name__ == "__main__":
    sys.exit(main())
