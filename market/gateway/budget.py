"""One budget of Breeze calls for the whole fleet, with a short queue in front of it.

Breeze accepts 100 calls a minute and 5000 a day per API key; the proxy keeps under
``BREEZE_RATE_PER_MIN`` (a moving window) and ``BREEZE_RATE_PER_DAY`` (a counter per IST date,
so it resets at midnight IST like Breeze's), both from the ``limits`` library and kept in Redis
when configured. A caller that finds the budget spent waits up to ``BREEZE_QUEUE_WAIT_S`` for a
slot; interactive calls (quotes) go first: history waits while any quote is waiting and never
takes the last tenth of the minute's budget. When Breeze itself answers "limit exceeded", the
budget is filled up, so no more calls are spent on refusals until Breeze's window has passed.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from datetime import datetime

import limits
from django.conf import settings
from django.core.cache import cache
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from market.gateway import errors
from market.gateway.client import IST, seconds_to_ist_midnight

logger = logging.getLogger("market.gateway")

# A call is counted when admitted and reaches Breeze a moment later; a 61 s window keeps
# Breeze's own 60 s window from ever seeing more than the budget.
WINDOW_S = 61
INTERACTIVE = "interactive"
BULK = "bulk"
WAITING_KEY = "budget:interactive-waiting"


@functools.cache
def _limiters(storage_uri: str) -> tuple[MovingWindowRateLimiter, FixedWindowRateLimiter]:
    storage = storage_from_string(storage_uri)
    return MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)


def _minute() -> tuple[MovingWindowRateLimiter, limits.RateLimitItem, tuple[str, ...]]:
    limiter = _limiters(settings.REDIS_URL or "memory://")[0]
    item = limits.RateLimitItemPerSecond(settings.BREEZE_RATE_PER_MIN, WINDOW_S)
    return limiter, item, (settings.SHARED_STATE_NAMESPACE, "breeze-calls")


def _day() -> tuple[FixedWindowRateLimiter, limits.RateLimitItem, tuple[str, ...]]:
    # One counter per IST date: the key changes at midnight IST, whatever the window's start.
    limiter = _limiters(settings.REDIS_URL or "memory://")[1]
    item = limits.RateLimitItemPerDay(settings.BREEZE_RATE_PER_DAY, 2)
    today = datetime.now(tz=IST).date().isoformat()
    return limiter, item, (settings.SHARED_STATE_NAMESPACE, "breeze-calls-day", today)


def pause(*, per_day: bool = False) -> None:
    """Breeze said the key is over its limit: treat the window (or the day) as spent."""
    limiter, item, identity = _day() if per_day else _minute()
    remaining = limiter.get_window_stats(item, *identity).remaining
    if remaining > 0:
        limiter.hit(item, *identity, cost=remaining)
    logger.warning("rate budget filled after Breeze's limit answer", extra={"per_day": per_day})


def _try_minute_slot(priority: str, *, queued: bool = False) -> bool:
    limiter, item, identity = _minute()
    if priority == BULK:
        # Quotes wait only when the window is full, so the waiting count matters only to a
        # history call that is itself queued (one round trip saved on the common path).
        if queued and (cache.get(WAITING_KEY) or 0) > 0:
            return False
        reserve = max(1, settings.BREEZE_RATE_PER_MIN // 10)
        if limiter.get_window_stats(item, *identity).remaining <= reserve:
            return False
    return limiter.hit(item, *identity)


def _seconds_until_slot() -> float:
    limiter, item, identity = _minute()
    return max(0.05, limiter.get_window_stats(item, *identity).reset_time - time.time())


def acquire(*, priority: str = INTERACTIVE, wait_s: float | None = None) -> None:
    """Take one call from the budget, waiting in the queue up to ``wait_s`` seconds."""
    wait_s = settings.BREEZE_QUEUE_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    waiting = False
    attempts = 0
    try:
        while True:
            attempts += 1
            if _try_minute_slot(priority, queued=attempts > 1):
                day_limiter, day_item, day_identity = _day()
                if day_limiter.hit(day_item, *day_identity):
                    return
                raise errors.RateBudgetExhausted(
                    "The proxy's daily Breeze call budget is spent.",
                    retry_after=seconds_to_ist_midnight(),
                )
            retry_after = _seconds_until_slot()
            left = deadline - time.monotonic()
            if left <= 0 or retry_after > left:  # no slot frees in time: say when one will
                raise errors.RateBudgetExhausted(retry_after=retry_after)
            if priority == INTERACTIVE and not waiting:
                waiting = True
                _incr(WAITING_KEY)
            # Sleep until a slot is likely free, with jitter so waiters do not stampede.
            time.sleep(min(left, max(0.01, min(retry_after, 0.25)) * random.uniform(0.5, 1.0)))
    finally:
        if waiting:
            _incr(WAITING_KEY, -1)


def _incr(key: str, delta: int = 1) -> None:
    cache.add(key, 0, timeout=600)
    try:
        cache.incr(key, delta)
    except ValueError:
        cache.set(key, max(0, delta), timeout=600)


def reset() -> None:
    """Forget every call counted (operations and tests)."""
    for limiter, item, identity in (_minute(), _day()):
        limiter.clear(item, *identity)
    cache.delete(WAITING_KEY)
