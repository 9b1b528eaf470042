"""The measurements themselves: one function per table row, each returning plain figures.

The scenarios never touch the proxy's internals: they talk HTTP to the proxy (load from wrk or
from client threads in this process, which is separate from every gunicorn process) and read
the simulator's own counters, which are the ground truth for what reached "Breeze".
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench import wrk
from bench.processes import PYTHON, BenchError, SimControl, base_env, run_checked
from bench.workload import CAPACITY, DAYS, STOCKS, history_window, option_quotes

QUOTE_BODY = {"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"}


# ----------------------------------------------------------------------------- HTTP helpers


def _hostport(url: str) -> tuple[str, int]:
    host, _, port = url.split("://", 1)[1].split("/", 1)[0].partition(":")
    return host, int(port)


def post_json(
    url: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
    *, timeout_s: float = 30,
) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """One POST on a fresh connection; (status, headers, body)."""
    conn = http.client.HTTPConnection(*_hostport(url), timeout=timeout_s)
    try:
        conn.request(
            "POST", path, body=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def activate_session(proxy_url: str, admin_key: str, token: str, client_key: str | None) -> None:
    """What staff do each morning: hand the simulator's token to the admin API."""
    headers = {"X-Proxy-Admin-Key": admin_key, **key_header(client_key)}
    status, _, body = post_json(proxy_url, "/breeze/admin/api-session", {"api_session": token},
                                headers)  # fmt: skip
    if status != 200:
        raise BenchError(f"session activation answered {status}: {body[:300]!r}")


def key_header(client_key: str | None) -> dict[str, str]:
    return {"X-Proxy-Key": client_key} if client_key else {}


class IndexBlocks:
    """Hands out disjoint blocks of history-window indices, so no two requests of a run share
    a window (a shared one could be answered from the cache and flatter the miss figures)."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, streams: int, per_stream: int) -> tuple[int, int]:
        """(first index, stride): stream ``t`` uses first + t * stride + n for n < per_stream."""
        first = self._next
        self._next += streams * per_stream
        if self._next > CAPACITY:
            raise BenchError("the run needs more distinct history windows than workload offers")
        return first, per_stream


# ----------------------------------------------------------------------------- row 1


@dataclass
class CachedResult:
    proxy: wrk.WrkResult
    floor: wrk.WrkResult

    @property
    def ratio(self) -> float:
        return self.proxy.rps / self.floor.rps if self.floor.rps else 0.0


def wrk_post(url: str, body: dict[str, Any], client_key: str | None, *, threads: int,
             connections: int, duration_s: int) -> wrk.WrkResult:  # fmt: skip
    return wrk.run(
        url, "post_json.lua", [json.dumps(body), client_key or ""],
        threads=threads, connections=connections, duration_s=duration_s,
    )  # fmt: skip


def warm_quote(proxy_url: str, client_key: str | None) -> None:
    status, _, body = post_json(proxy_url, "/breeze/quotes", QUOTE_BODY, key_header(client_key))
    if status != 200:
        raise BenchError(f"warm-up quote answered {status}: {body[:300]!r}")


# ----------------------------------------------------------------------------- row 2


@dataclass
class LatencyPair:
    """Proxy vs direct SDK latency at one concurrency, every request an upstream miss."""

    concurrency: int
    proxy: wrk.WrkResult
    direct: dict[str, Any]

    @property
    def added_p50_ms(self) -> float:
        return self.proxy.p50_ms - float(self.direct["p50_ms"])

    @property
    def added_p99_ms(self) -> float:
        return self.proxy.p99_ms - float(self.direct["p99_ms"])


def wrk_history_miss(
    proxy_url: str, client_key: str | None, blocks: IndexBlocks, *, connections: int,
    duration_s: int,
) -> wrk.WrkResult:  # fmt: skip
    threads = min(2, connections)
    per_stream = max(200, connections * duration_s * 10 // threads)  # ≥ 2x the most it can send
    first, stride = blocks.take(threads, per_stream)
    return wrk.run(
        f"{proxy_url}/breeze/historical", "history_miss.lua",
        [str(first), str(stride), ",".join(STOCKS), ",".join(DAYS), client_key or ""],
        threads=threads, connections=connections, duration_s=duration_s,
    )  # fmt: skip


def direct_sdk(
    sim_url: str, api_session: str, blocks: IndexBlocks, *, concurrency: int, duration_s: float
) -> dict[str, Any]:
    """Run bench.direct in its own process against the simulator; its JSON summary."""
    per_stream = max(100, int(duration_s * 10) + 10)
    first, stride = blocks.take(concurrency, per_stream)
    env = base_env(BREEZE_SIM_URL=sim_url, DJANGO_SETTINGS_MODULE="breeze_proxy.settings",
                   LOG_LEVEL="ERROR")  # fmt: skip
    out = run_checked(
        [PYTHON, "-m", "bench.direct", "--api-session", api_session,
         "--concurrency", str(concurrency), "--duration", str(duration_s),
         "--first-index", str(first), "--stride", str(stride)],
        env, timeout_s=duration_s + 120,
    )  # fmt: skip
    line = next((ln for ln in out.splitlines() if ln.startswith("DIRECT_JSON ")), None)
    if line is None:
        raise BenchError(f"bench.direct printed no result:\n{out[-1500:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("DIRECT_JSON "))
    if result["errors"]:
        raise BenchError(f"direct SDK calls failed: {result['first_errors']}")
    return result


# ----------------------------------------------------------------------------- row 3


@dataclass
class StampedeResult:
    upstream_calls: list[int]  # per burst
    statuses: Counter[int]
    requests_per_burst: int


def stampede(
    proxy_url: str, control: SimControl, client_key: str | None, stock_codes: list[str],
    *, clients: int = 100,
) -> StampedeResult:  # fmt: skip
    """``clients`` threads, each on an already-open connection, released by one barrier to ask
    for the same never-asked quote at once; the simulator's call counter says how many calls
    reached it."""
    calls: list[int] = []
    statuses: Counter[int] = Counter()
    host, port = _hostport(proxy_url)
    payload_headers = {"Content-Type": "application/json", **key_header(client_key)}
    for code in stock_codes:
        body = json.dumps({"stock_code": code, "exchange_code": "NSE", "product_type": "cash"})
        conns = [http.client.HTTPConnection(host, port, timeout=30) for _ in range(clients)]
        for conn in conns:
            conn.connect()
        barrier = threading.Barrier(clients)
        lock = threading.Lock()

        def one(
            conn: http.client.HTTPConnection,
            body: str = body,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
        ) -> None:
            barrier.wait(timeout=30)
            try:
                conn.request("POST", "/breeze/quotes", body=body, headers=payload_headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
            finally:
                conn.close()
            with lock:
                statuses[status] += 1

        before = control.stats()["total_calls"]
        threads = [threading.Thread(target=one, args=(conn,)) for conn in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        time.sleep(0.3)  # let any straggling upstream call land in the counter
        calls.append(control.stats()["total_calls"] - before)
    return StampedeResult(calls, statuses, clients)


# ----------------------------------------------------------------------------- row 5


@dataclass
class BudgetResult:
    duration_s: float
    sent: int
    statuses: Counter[str] = field(default_factory=Counter)
    missing_retry_after: int = 0
    sim: dict[str, Any] = field(default_factory=dict)


def rate_budget_load(
    proxy_urls: list[str], client_keys: list[str | None], blocks: IndexBlocks, *,
    rate_per_s: float, duration_s: float,
) -> BudgetResult:  # fmt: skip
    """Open-loop load: request i leaves at t0 + i / rate whatever earlier answers did, split
    round-robin over the instances (instance n sends client_keys[n], so each key can spend
    its own share), alternating a never-repeated option quote (interactive priority) and a
    never-repeated historical window (bulk priority)."""
    total = int(rate_per_s * duration_s)
    options = option_quotes()
    first, _ = blocks.take(1, total)
    result = BudgetResult(duration_s=duration_s, sent=total)
    lock = threading.Lock()
    local = threading.local()
    headers_for = {
        url: {"Content-Type": "application/json", **key_header(client_keys[n % len(client_keys)])}
        for n, url in enumerate(proxy_urls)
    }

    def conn_for(url: str) -> http.client.HTTPConnection:
        conns = getattr(local, "conns", None)
        if conns is None:
            conns = local.conns = {}
        if url not in conns:
            conns[url] = http.client.HTTPConnection(*_hostport(url), timeout=30)
        return conns[url]

    jobs: list[tuple[str, str, dict[str, Any]]] = []
    quotes = 0
    for i in range(total):
        url = proxy_urls[i % len(proxy_urls)]
        if (i // len(proxy_urls)) % 2 == 0:
            jobs.append((url, "/breeze/quotes", options[quotes % len(options)]))
            quotes += 1
        else:
            jobs.append((url, "/breeze/historical", history_window(first + i)))

    def one(i: int) -> None:
        url, path, body = jobs[i]
        conn = conn_for(url)
        try:
            conn.request("POST", path, body=json.dumps(body), headers=headers_for[url])
            response = conn.getresponse()
            response.read()
            status, retry_after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException):
            conn.close()
            status, retry_after = 0, None
        label = _status_label(status)
        with lock:
            result.statuses[label] += 1
            if status == 429 and not retry_after:
                result.missing_retry_after += 1

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=150, thread_name_prefix="client") as pool:
        for i in range(total):
            delay = start + i / rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    return result


def _status_label(status: int) -> str:
    if status == 0:
        return "no answer"
    if status >= 500:
        return "5xx"
    return str(status)
