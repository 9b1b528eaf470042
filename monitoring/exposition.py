"""The Prometheus exposition of ``/metrics``: this instance's counters and histograms (summed
over its gunicorn workers in multiprocess mode), plus the shared state read at scrape time.

The shared state (budget, breaker, session, market hours, instruments master, candle store,
live instances) is the fleet's, read from the store and the database when Prometheus scrapes,
so every instance reports the same values: aggregate them with ``max`` across instances, not
``sum`` (the alert rules in ``monitoring/alerts`` do).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

from breeze import telemetry
from monitoring import selectors

logger = logging.getLogger("monitoring")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = ("closed", "half_open", "open")


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily | None:
    if value is None:
        return None
    return GaugeMetricFamily(name, documentation, value=float(value))


def _budget() -> Iterator[Metric]:
    state = selectors.budget_state()
    used = GaugeMetricFamily(
        "breeze_budget_used", "Breeze calls counted in the window (fleet-wide).", labels=["window"]
    )
    limit = GaugeMetricFamily(
        "breeze_budget_limit", "The fleet's budget of Breeze calls per window.", labels=["window"]
    )
    remaining = GaugeMetricFamily(
        "breeze_budget_remaining", "Breeze calls left in the window.", labels=["window"]
    )
    for window in ("minute", "day"):
        used.add_metric([window], state[window]["used"])
        limit.add_metric([window], state[window]["limit"])
        remaining.add_metric([window], state[window]["remaining"])
    yield from (used, limit, remaining)


def _breaker() -> Iterator[Metric]:
    current = selectors.breaker_state()["state"]
    family = GaugeMetricFamily(
        "breeze_breaker_state",
        "The circuit breaker's state (1 for the current one): closed, half_open or open.",
        labels=["state"],
    )
    for state in BREAKER_STATES:
        family.add_metric([state], 1.0 if state == current else 0.0)
    yield family


def _session() -> Iterator[Metric | None]:
    state = selectors.session_state()
    yield _gauge("breeze_session_active", "1 while a live Breeze session exists.", state["active"])
    yield _gauge(
        "breeze_session_seconds_to_expiry",
        "Seconds until the live session expires (0 without one).",
        state["seconds_left"],
    )


def _market() -> Iterator[Metric | None]:
    state = selectors.market_state()
    yield _gauge("breeze_market_open", "1 during market hours (09:15-15:30 IST).", state["open"])
    yield _gauge(
        "breeze_market_seconds_to_open",
        "Seconds until the market next opens (0 while open).",
        state["seconds_to_open"],
    )


def _instruments() -> Iterator[Metric | None]:
    state = selectors.instruments_state()
    yield _gauge(
        "breeze_instruments_master_loaded",
        "1 when an instrument master is loaded.",
        state["loaded"],
    )
    yield _gauge(
        "breeze_instruments_master_age_seconds",
        "Age of the instrument master in use.",
        state["age_s"] if state["loaded"] else None,
    )


def _history() -> Iterator[Metric | None]:
    state = selectors.history_state()
    yield _gauge("breeze_history_candles", "Candles in the candle store.", state["candles"])
    yield _gauge(
        "breeze_history_series", "Series (contract, interval) in the store.", state["series"]
    )


def _instances() -> Iterator[Metric | None]:
    telemetry.flush()  # this process counts itself, even before its reporter's first round
    state = selectors.instances_state()
    yield _gauge("breeze_fleet_instances", "Instances that reported recently.", state["count"])


PARTS: dict[str, Callable[[], Iterator[Metric | None]]] = {
    "budget": _budget,
    "breaker": _breaker,
    "session": _session,
    "market": _market,
    "instruments": _instruments,
    "history": _history,
    "instances": _instances,
}


class StateCollector:
    """The shared state as gauges, read at scrape time; a part that cannot be read is left out
    (and counted in ``breeze_metrics_collect_errors``) rather than failing the scrape."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "breeze_metrics_collect_errors",
            "Parts of the shared state this scrape could not read (1 each).",
            labels=["part"],
        )
        for name, part in PARTS.items():
            try:
                metrics = [metric for metric in part() if metric is not None]
            except Exception:
                logger.exception("metrics: could not read %s", name)
                errors.add_metric([name], 1.0)
                continue
            yield from metrics
        yield errors


class _Sources:
    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def exposition() -> bytes:
    """The text exposition (format 0.0.4) of this instance's metrics and the shared state.
    The request path's counts reach prometheus-client's values in batches (at most a second
    late in other workers); this process adds its own first."""
    telemetry.push_prometheus()
    if telemetry.MULTIPROCESS:
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
    else:
        workers = REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Sources(workers, StateCollector()))
    return generate_latest(registry)
