"""The circuit breaker around Breeze, on pybreaker's state machine and storage.

It opens after ``BREEZE_BREAKER_FAILURES`` consecutive transport failures, timeouts or 5xx
answers (never on validation errors, "no data", session errors or rate-limit answers), refuses
calls for ``BREEZE_BREAKER_RESET_S`` seconds, then lets exactly one probe through fleet-wide; a
successful probe closes it. With ``REDIS_URL`` its state lives in Redis
(``pybreaker.CircuitRedisStorage``), so a breaker opened by one instance is open for all.

pybreaker's own ``call()`` holds a process-wide lock for the whole guarded call, which would
serialise every upstream request of a worker behind the slowest one; so this module drives
pybreaker's storage and transitions itself and keeps the guarded call outside any lock. If the
breaker's storage fails, calls go through (the breaker must never be the outage).
"""

from __future__ import annotations

import functools
import logging
import time

import pybreaker
from django.conf import settings
from django.core.cache import cache

from market.gateway import errors

logger = logging.getLogger("market.gateway")

TRIPPING_ERRORS = (errors.UpstreamUnavailable, errors.UpstreamTimeout, errors.UpstreamBadResponse)
PROBE_KEY = "breaker:probe"


@functools.cache
def _breaker(redis_url: str, namespace: str) -> pybreaker.CircuitBreaker:
    if redis_url:
        import redis

        storage: pybreaker.CircuitBreakerStorage = pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED,
            redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2),
            namespace=f"{namespace}:breeze-breaker",
        )
    else:
        storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    return pybreaker.CircuitBreaker(
        fail_max=settings.BREEZE_BREAKER_FAILURES,
        reset_timeout=settings.BREEZE_BREAKER_RESET_S,
        state_storage=storage,
        name="breeze",
    )


def _current() -> pybreaker.CircuitBreaker:
    breaker = _breaker(settings.REDIS_URL, settings.SHARED_STATE_NAMESPACE)
    breaker.fail_max = settings.BREEZE_BREAKER_FAILURES
    breaker.reset_timeout = settings.BREEZE_BREAKER_RESET_S
    return breaker


def state() -> str:
    try:
        return _current().current_state
    except Exception:
        return pybreaker.STATE_CLOSED


def _open_for(breaker: pybreaker.CircuitBreaker) -> float:
    opened = breaker._state_storage.opened_at
    if opened is None:
        return 0.0
    return max(0.0, opened.timestamp() + breaker.reset_timeout - time.time())


def _state_and_failures(breaker: pybreaker.CircuitBreaker) -> tuple[str, int]:
    """The state and the consecutive-failure count, in one round trip when in Redis."""
    storage = breaker._state_storage
    if isinstance(storage, pybreaker.CircuitRedisStorage):
        state_raw, counter_raw = storage._redis.mget(
            storage._namespace("state"), storage._namespace("fail_counter")
        )
        current = state_raw.decode() if state_raw else breaker.current_state
        return current, int(counter_raw or 0)
    return storage.state, storage.counter


def before_call() -> bool:
    """Raise CircuitOpen unless a call may go to Breeze now. True when the breaker is closed
    with no failures counted, so that a success needs no write at all."""
    try:
        breaker = _current()
        current, failures = _state_and_failures(breaker)
        if current == pybreaker.STATE_CLOSED:
            return failures == 0
        wait = _open_for(breaker) if current == pybreaker.STATE_OPEN else 0.0
        if wait > 0:
            raise errors.CircuitOpen(retry_after=wait)
        # Reset time is up (or half-open): one probe for the whole fleet.
        if cache.add(PROBE_KEY, 1, timeout=int(settings.BREEZE_TIMEOUT_S) + 2):
            breaker.half_open()
            logger.info("circuit breaker probing Breeze")
            return False
        raise errors.CircuitOpen(retry_after=1)
    except errors.CircuitOpen:
        raise
    except Exception:
        logger.exception("circuit breaker storage failed; letting the call through")
        return False


def record_success(*, healthy: bool = False) -> None:
    """Breeze answered: the consecutive-failure count restarts, a probing breaker closes."""
    try:
        breaker = _current()
        if healthy:
            return  # closed and nothing to forget: the common case costs no round trip
        if breaker.current_state != pybreaker.STATE_CLOSED:
            breaker.close()
            cache.delete(PROBE_KEY)
            logger.warning("circuit breaker closed: Breeze answered")
        else:
            breaker._state_storage.reset_counter()
    except Exception:
        logger.exception("circuit breaker storage failed")


def record_failure(exc: errors.BreezeError) -> None:
    if not isinstance(exc, TRIPPING_ERRORS):
        record_success()  # Breeze answered: the transport is healthy
        return
    try:
        breaker = _current()
        storage = breaker._state_storage
        storage.increment_counter()
        probing = breaker.current_state == pybreaker.STATE_HALF_OPEN
        if probing or storage.counter >= breaker.fail_max:
            breaker.open()
            cache.delete(PROBE_KEY)
            logger.warning(
                "circuit breaker opened",
                extra={
                    "failures": storage.counter,
                    "reason": exc.code,
                    "reset_s": breaker.reset_timeout,
                },
            )
    except Exception:
        logger.exception("circuit breaker storage failed")


def reset() -> None:
    """Close the breaker (operations and tests)."""
    breaker = _current()
    breaker.close()
    breaker._state_storage.reset_counter()
    cache.delete(PROBE_KEY)
