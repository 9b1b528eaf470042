"""The baseline for "added latency": the plain SDK calling the simulator, no proxy in between.

Run as ``python -m bench.direct`` in its own process (Django settings configured, pointed at the
simulator through BREEZE_SIM_URL). It uses the project's own neutralised SDK loader and
``BreezeClient``, whose transport keeps one keep-alive connection per thread: the best a client
without the proxy could do. Each thread makes one untimed warm-up call (connection set-up), then
calls back to back for the duration; prints one JSON line with the latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breeze_proxy.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")  # the SDK call log line is not part of a client


def percentile(sorted_ms: list[float], pct: float) -> float:
    """Nearest-rank percentile (what wrk reports too)."""
    if not sorted_ms:
        return float("nan")
    rank = max(1, min(len(sorted_ms), round(pct / 100 * len(sorted_ms) + 0.5)))
    return sorted_ms[rank - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-session", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--first-index", type=int, required=True)
    parser.add_argument("--stride", type=int, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from bench.workload import history_query
    from breeze.gateway.client import BreezeClient, session_exchange

    client = BreezeClient(session_exchange(api_session=args.api_session))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(args.concurrency)

    def worker(tid: int) -> None:
        idx = args.first_index + tid * args.stride
        try:
            client.history(history_query(idx))  # warm-up: opens this thread's socket
        except Exception as exc:  # report, do not crash the thread
            with lock:
                errors.append(repr(exc))
        start.wait(timeout=60)
        stop_at = time.monotonic() + args.duration
        mine: list[float] = []
        while time.monotonic() < stop_at:
            idx += 1
            began = time.perf_counter()
            try:
                client.history(history_query(idx))
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.duration + 120)
    latencies.sort()
    print(
        "DIRECT_JSON "
        + json.dumps(
            {
                "requests": len(latencies),
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "errors": len(errors),
                "first_errors": errors[:3],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
