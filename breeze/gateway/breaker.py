"""The circuit breaker around Breeze: a small state machine of our own, kept in the shared store.

Closed: calls go through, and transport failures, timeouts and 5xx answers are counted
(validation errors, "no data", session errors and rate-limit answers are Breeze answering, so
they reset the count instead). After ``BREEZE_BREAKER_FAILURES`` consecutive failures it opens
for ``BREEZE_BREAKER_RESET_S`` seconds: calls are refused at once (the gateway serves the last
good answer marked stale where it has one). Then exactly one call in the whole fleet probes
Breeze (a short lock in the store); its success closes the breaker, its failure opens it again.

Its state is two keys in the store, read together with the answer a flight looks for (so the
breaker costs no round trip of its own on the way to Breeze), and a success with nothing to
forget writes nothing. If the store fails, calls go through: the breaker must never be the
outage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from breeze import store, telemetry
from breeze.gateway import errors

logger = logging.getLogger("breeze.gateway")

OPEN_KEY = "breaker:open-until"  # present while the breaker is open (or awaiting its probe)
FAILURES_KEY = "breaker:failures"  # consecutive tripping failures
PROBE_KEY = "breaker:probe"
KEYS = (OPEN_KEY, FAILURES_KEY)
FAILURE_WINDOW_S = 600  # consecutive failures further apart than this are not a pattern

TRIPPING_ERRORS = (errors.UpstreamUnavailable, errors.UpstreamTimeout, errors.UpstreamBadResponse)


@dataclass(frozen=True)
class Pass:
    """Leave to call Breeze once: ``probing`` when this call decides whether to close."""

    probing: bool = False
    failures: int = 0


def state(found: dict[str, Any], now: float | None = None) -> str:
    """``closed``, ``open`` or ``half_open`` from the breaker's keys as read from the store."""
    until = found.get(OPEN_KEY)
    if until is None:
        return "closed"
    return "open" if (now or time.time()) < float(until) else "half_open"


def current_state() -> str:
    try:
        return state(cache.get_many(list(KEYS)))
    except Exception:
        return "closed"


def before_call(found: dict[str, Any]) -> Pass:
    """Raise :class:`~breeze.gateway.errors.CircuitOpen` unless a call may go to Breeze now.

    ``found`` holds the breaker's keys as the caller read them (see :data:`KEYS`)."""
    now = time.time()
    current = state(found, now)
    failures = int(found.get(FAILURES_KEY) or 0)
    if current == "closed":
        return Pass(failures=failures)
    if current == "open":
        raise errors.CircuitOpen(retry_after=float(found[OPEN_KEY]) - now)
    try:  # reset time is up: one probe for the whole fleet
        probing = cache.add(PROBE_KEY, 1, timeout=int(settings.BREEZE_TIMEOUT_S) + 2)
    except Exception:
        logger.exception("circuit breaker store failed; letting the call through")
        return Pass(failures=failures)
    if not probing:
        raise errors.CircuitOpen(retry_after=1)
    logger.info("circuit breaker probing Breeze")
    return Pass(probing=True, failures=failures)


def record_success(grant: Pass) -> None:
    """Breeze answered: a probe closes the breaker, and the failure count restarts."""
    try:
        if grant.probing:
            cache.delete_many([OPEN_KEY, FAILURES_KEY, PROBE_KEY])
            logger.warning("circuit breaker closed: Breeze answered")
        elif grant.failures:
            cache.delete(FAILURES_KEY)
    except Exception:
        logger.exception("circuit breaker store failed")


def record_failure(grant: Pass, exc: errors.BreezeError) -> None:
    if not isinstance(exc, TRIPPING_ERRORS):
        record_success(grant)  # Breeze answered: the transport is healthy
        return
    try:
        failures = store.count(FAILURES_KEY, FAILURE_WINDOW_S)
        if grant.probing or failures >= settings.BREEZE_BREAKER_FAILURES:
            reset_s = settings.BREEZE_BREAKER_RESET_S
            # The open marker outlives the reset time so that the probe can find it.
            cache.set(OPEN_KEY, time.time() + reset_s, timeout=int(reset_s) + FAILURE_WINDOW_S)
            cache.delete(PROBE_KEY)
            telemetry.record_breaker_opened()
            logger.warning(
                "circuit breaker opened",
                extra={"failures": failures, "reason": exc.code, "reset_s": reset_s},
            )
    except Exception:
        logger.exception("circuit breaker store failed")


def reset() -> None:
    """Close the breaker (operations and tests)."""
    cache.delete_many([OPEN_KEY, FAILURES_KEY, PROBE_KEY])
