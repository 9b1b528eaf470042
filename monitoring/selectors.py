"""What the proxy's figures are now: the fleet's roll-up (requests, latency, errors, upstream
calls, cache) aggregated over the last 5 and 60 minutes, and the shared state (budget, breaker,
session, instruments master, candle store, stream, live instances). Read by the metrics API,
the staff dashboard and the Prometheus exposition alike.

The roll-up is fleet-wide because every process adds its own to the shared store
(``breeze.telemetry``); this process's latest figures are flushed first, so a caller always
sees its own requests. Other processes' figures are at most ``BREEZE_METRICS_FLUSH_S`` old.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from breeze import clock, telemetry
from breeze.calendar import MARKET_OPEN, calendar_with
from breeze.gateway import breaker, budget
from instruments import resolver
from market.models import Candle, CandleSeries
from monitoring.rollup import Series, Window, window_of
from sessions_admin.selectors import breeze_session_status_cached

logger = logging.getLogger("monitoring")

WINDOWS = (5, 60)  # minutes
QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
HISTORY_ROWS_CACHE_KEY = "monitoring:history-rows"
HISTORY_ROWS_TTL_S = 60
ESTIMATE_ABOVE_ROWS = 1_000_000  # PostgreSQL: the planner's estimate beyond this many candles


# --- shared state -----------------------------------------------------------------------------


def session_state(*, now: datetime | None = None) -> dict[str, Any]:
    status = breeze_session_status_cached()
    return {
        "active": bool(status.get("session_active")),
        "valid": bool(status.get("session_valid")),
        "status": status.get("status"),
        "expires_at": status.get("expires_at"),
        "seconds_left": int(status.get("seconds_left") or 0),
        "last_error": status.get("last_error"),
    }


def budget_state() -> dict[str, Any]:
    usage = budget.usage()
    state = {}
    for window in ("minute", "day"):
        used, limit = int(usage[window]["used"]), int(usage[window]["limit"])
        state[window] = {
            "used": used,
            "limit": limit,
            "remaining": max(0, limit - used),
            "fraction": round(used / limit, 4) if limit else 0.0,
        }
    return state


def breaker_state() -> dict[str, Any]:
    return {"state": breaker.current_state()}


def market_state(*, now: datetime | None = None) -> dict[str, Any]:
    """Whether the market is open (trading day, 09:15-15:30 IST) and when it next opens."""
    local = clock.to_ist(now) if now is not None else clock.now()
    calendar = calendar_with(settings.BREEZE_EXTRA_HOLIDAYS)
    wall = local.replace(tzinfo=None)
    is_open = calendar.is_market_open(wall)
    day = calendar.next_trading_day(wall.date())
    opens = datetime.combine(day, MARKET_OPEN)
    if opens <= wall:
        opens = datetime.combine(calendar.next_trading_day(day + timedelta(days=1)), MARKET_OPEN)
    return {
        "open": is_open,
        "seconds_to_open": 0 if is_open else int((opens - wall).total_seconds()),
        "next_open": clock.isoformat(opens.replace(tzinfo=clock.IST)),
    }


def instruments_state() -> dict[str, Any]:
    summary = resolver.summary()
    return {
        "loaded": bool(summary.get("loaded")),
        "age_s": summary.get("age_s"),
        "stale": bool(summary.get("stale")),
        "rows": summary.get("rows"),
        "loaded_at": summary.get("loaded_at"),
    }


def history_state() -> dict[str, Any]:
    """Candles and series in the store (counted at most once a minute; on PostgreSQL a large
    table is estimated from the planner's statistics instead of counted)."""
    state = cache.get(HISTORY_ROWS_CACHE_KEY)
    if state is None:
        state = {"candles": _row_count(Candle), "series": _row_count(CandleSeries)}
        cache.set(HISTORY_ROWS_CACHE_KEY, state, HISTORY_ROWS_TTL_S)
    return state


def _row_count(model: type) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                [model._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] and row[0] > ESTIMATE_ABOVE_ROWS:
            return int(row[0])
    return model.objects.count()


def stream_state() -> dict[str, Any]:
    """The stream app's own account (``stream.selectors.stream_status``), or not running."""
    try:
        from stream.selectors import stream_status
    except ImportError:
        return {"running": False}
    try:
        return {"running": True, **stream_status()}
    except Exception:
        logger.exception("stream status failed")
        return {"running": False, "error": "stream status unavailable"}


def instances_state(*, now: float | None = None) -> dict[str, Any]:
    """The live instances, from each process's report: an instance is live while one of its
    processes reported within three flush intervals (at least 30 s)."""
    now = time.time() if now is None else now
    live_after = now - max(30.0, 3 * telemetry.flush_interval_s())
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in telemetry.processes(now=now):
        if float(report.get("at", 0)) >= live_after:
            grouped[str(report.get("instance"))].append(report)
    live = []
    for instance, reports in sorted(grouped.items()):
        master = max(int(r.get("master_rss_bytes") or 0) for r in reports)
        live.append(
            {
                "id": instance,
                "host": reports[0].get("host"),
                "processes": len(reports),
                "rss_bytes": sum(int(r.get("rss_bytes") or 0) for r in reports) + master,
                "cpu_percent": round(sum(float(r.get("cpu_percent") or 0) for r in reports), 2),
                "cpu_seconds": round(sum(float(r.get("cpu_seconds") or 0) for r in reports), 2),
                "last_seen": clock.isoformat(
                    datetime.fromtimestamp(max(float(r["at"]) for r in reports), tz=clock.IST)
                ),
            }
        )
    return {"count": len(live), "live": live}


def _safely(name: str, read: Any) -> dict[str, Any]:
    try:
        return read()
    except Exception:
        logger.exception("monitoring could not read %s", name)
        return {"error": f"{name} unavailable"}


# --- the roll-up ------------------------------------------------------------------------------


def _series_figures(series: Series, minutes: float) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "count": series.count,
        "per_minute": round(series.count / minutes, 2) if minutes else 0.0,
        "4xx": series.err4,
        "5xx": series.err5,
        "4xx_rate": round(series.err4 / series.count, 4) if series.count else 0.0,
        "5xx_rate": round(series.err5 / series.count, 4) if series.count else 0.0,
        "mean_ms": series.mean_ms,
    }
    figures.update({name: series.percentile_ms(q) for name, q in QUANTILES.items()})
    return figures


def _upstream_figures(series: Series, minutes: float) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "calls": series.count,
        "per_minute": round(series.count / minutes, 2) if minutes else 0.0,
        "errors": series.errors,
        "mean_ms": series.mean_ms,
    }
    figures.update({name: series.percentile_ms(q) for name, q in QUANTILES.items()})
    return figures


def _cache_figures(window: Window) -> dict[str, Any]:
    hits, misses, stale, stream = (
        window.cache.get(k, 0) for k in ("hit", "miss", "stale", "stream")
    )
    answered = hits + misses + stale + stream
    return {
        "hits": hits,
        "misses": misses,
        "stale": stale,
        "stream": stream,
        "merged": window.cache.get("merged", 0),
        # Answers that cost no Breeze call of their own (the live feed's count as hits).
        "hit_ratio": round((hits + stream) / answered, 4) if answered else None,
    }


def _queue_figures(window: Window) -> dict[str, Any]:
    waited = window.queue.get("n", 0)
    return {
        "waits": waited,
        "refused": window.queue.get("r", 0),
        "mean_wait_ms": round(window.queue.get("s", 0) / waited / 1000, 2) if waited else None,
    }


def roll_up(*, now: float | None = None) -> dict[str, Any]:
    """The fleet's requests, upstream calls and cache over the last 5 and 60 minutes, and the
    last hour minute by minute (for the dashboard's charts)."""
    try:
        telemetry.flush()  # this process's own figures first
    except Exception:
        logger.warning("metrics flush failed before reading", exc_info=True)
    now = time.time() if now is None else now
    current = int(now // 60)
    longest = max(WINDOWS)
    minutes = telemetry.minutes(current - longest + 1, current)
    into_minute = (now % 60) / 60
    result: dict[str, Any] = {"windows": {}}
    for size in WINDOWS:
        window = window_of(minutes, current - size + 1, current)
        elapsed = (size - 1) + into_minute  # the current minute counts as far as it has gone
        result["windows"][f"{size}m"] = {
            "requests": _series_figures(window.requests(), elapsed),
            "endpoints": {
                route: _series_figures(series, elapsed)
                for route, series in sorted(window.routes.items())
            },
            "upstream": {
                **_upstream_figures(window.upstream(), elapsed),
                "operations": {
                    operation: _upstream_figures(series, elapsed)
                    for operation, series in sorted(window.operations.items())
                },
            },
            "cache": _cache_figures(window),
            "queue": _queue_figures(window),
        }
    timeline = []
    for minute in range(current - longest + 1, current + 1):
        window = window_of(minutes, minute, minute)
        requests = window.requests()
        timeline.append(
            {
                "minute": clock.isoformat(datetime.fromtimestamp(minute * 60, tz=clock.IST)),
                "requests": requests.count,
                "4xx": requests.err4,
                "5xx": requests.err5,
                "p50_ms": requests.percentile_ms(0.5),
                "p95_ms": requests.percentile_ms(0.95),
                "upstream_calls": window.upstream().count,
            }
        )
    result["timeline"] = timeline
    return result


def fleet_metrics_get(*, now: float | None = None) -> dict[str, Any]:
    """The whole fleet's figures: what ``GET /breeze/metrics`` answers."""
    now = time.time() if now is None else now
    rolled = roll_up(now=now)
    return {
        "generated_at": clock.isoformat(datetime.fromtimestamp(now, tz=clock.IST)),
        "instance": telemetry.instance_id(),
        "flush_interval_s": telemetry.flush_interval_s(),
        "windows": rolled["windows"],
        "timeline": rolled["timeline"],
        "budget": _safely("budget", budget_state),
        "breaker": _safely("breaker", breaker_state),
        "session": _safely("session", session_state),
        "market": _safely("market", market_state),
        "instances": _safely("instances", lambda: instances_state(now=now)),
        "stream": stream_state(),
        "instruments": _safely("instruments", instruments_state),
        "history": _safely("history", history_state),
    }
