"""One budget of Breeze calls for the whole fleet, with a short queue in front of it.

Breeze accepts 100 calls a minute and 5000 a day per API key; the proxy keeps under
``BREEZE_RATE_PER_MIN`` (moving 60 s window, from the ``limits`` library, in Redis when
configured) and ``BREEZE_RATE_PER_DAY`` (a counter per IST date, so it resets at midnight IST
like Breeze's). A caller that finds the budget spent waits up to ``BREEZE_QUEUE_WAIT_S`` for a
slot; interactive calls (quotes) go first, history waits while any quote is waiting and never
takes the last tenth of the minute's budget. When Breeze itself answers "limit exceeded", the
whole budget pauses instead of spending more calls on refusals.
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
from limits.strategies import MovingWindowRateLimiter

from market.gateway import errors
from market.gateway.client import IST, seconds_to_ist_midnight

logger = logging.getLogger("market.gateway")

INTERACTIVE = "interactive"
BULK = "bulk"
PAUSE_KEY = "budget:paused-until"
WAITING_KEY = "budget:interactive-waiting"


@functools.cache
def _limiter(storage_uri: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(storage_uri))


def _minute_item() -> limits.RateLimitItem:
    return limits.RateLimitItemPerMinute(settings.BREEZE_RATE_PER_MIN)


def _identity() -> tuple[str, str]:
    return (settings.SHARED_STATE_NAMESPACE, "breeze-calls")


def _storage_uri() -> str:
    return settings.REDIS_URL or "memory://"


def _day_key(now: datetime | None = None) -> str:
    return f"budget:day:{(now or datetime.now(tz=IST)).date().isoformat()}"


def pause(seconds: float) -> None:
    """Stop spending calls for ``seconds`` (Breeze said the key is over its limit)."""
    until = time.time() + seconds
    cache.set(PAUSE_KEY, until, max(1, int(seconds + 1)))
    logger.warning("rate budget paused by Breeze's limit answer", extra={"seconds": seconds})


def _paused_for() -> float:
    until = cache.get(PAUSE_KEY)
    return max(0.0, float(until) - time.time()) if until else 0.0


def _take_day_slot() -> bool:
    key = _day_key()
    cache.add(key, 0, timeout=2 * 86400)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.add(key, 1, timeout=2 * 86400)
        used = 1
    return used <= settings.BREEZE_RATE_PER_DAY


def _try_minute_slot(priority: str) -> bool:
    limiter = _limiter(_storage_uri())
    item = _minute_item()
    if priority == BULK:
        if (cache.get(WAITING_KEY) or 0) > 0:
            return False
        reserve = max(1, settings.BREEZE_RATE_PER_MIN // 10)
        if limiter.get_window_stats(item, *_identity()).remaining <= reserve:
            return False
    return limiter.hit(item, *_identity())


def _seconds_until_slot() -> float:
    stats = _limiter(_storage_uri()).get_window_stats(_minute_item(), *_identity())
    return max(0.05, stats.reset_time - time.time())


def acquire(*, priority: str = INTERACTIVE, wait_s: float | None = None) -> None:
    """Take one call from the budget, waiting in the queue up to ``wait_s`` seconds."""
    wait_s = settings.BREEZE_QUEUE_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    waiting = False
    try:
        while True:
            paused = _paused_for()
            if not paused and _try_minute_slot(priority):
                if _take_day_slot():
                    return
                raise errors.RateBudgetExhausted(
                    "The proxy's daily Breeze call budget is spent.",
                    retry_after=seconds_to_ist_midnight(),
                )
            retry_after = paused or _seconds_until_slot()
            left = deadline - time.monotonic()
            if left <= 0 or retry_after > left:  # no slot frees in time: say when
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
    _limiter(_storage_uri()).clear(_minute_item(), *_identity())
    cache.delete_many([PAUSE_KEY, WAITING_KEY, _day_key()])


def usage() -> dict[str, float]:
    """Figures for health and the benchmark."""
    stats = _limiter(_storage_uri()).get_window_stats(_minute_item(), *_identity())
    return {
        "per_minute_limit": settings.BREEZE_RATE_PER_MIN,
        "per_minute_remaining": stats.remaining,
        "per_day_limit": settings.BREEZE_RATE_PER_DAY,
        "per_day_used": cache.get(_day_key()) or 0,
        "paused_for_s": round(_paused_for(), 1),
    }
