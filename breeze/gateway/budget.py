"""One budget of Breeze calls for the whole fleet, shared fairly, with a short queue in front.

Breeze accepts 100 calls a minute and 5000 a day per API key. The proxy keeps under
``BREEZE_RATE_PER_MIN`` in any moving window of :data:`WINDOW_S` seconds and under
``BREEZE_RATE_PER_DAY`` per IST date (so the day resets at midnight IST, like Breeze's). Each
call is also charged to an :class:`Account` — the client key (or, where keys are not required,
the caller's address) whose request caused it — which may spend at most its own share of the
minute and of the day, so that no single caller can spend the fleet's budget for everyone.

A caller that finds the window full waits up to ``BREEZE_QUEUE_WAIT_S`` for a slot. Priorities
decide who goes first: interactive calls (quotes) may use the whole window; bulk calls
(history) never take its last tenth and wait while any interactive call is waiting; background
calls (backfill) use only the first half of the window. When Breeze itself answers "limit
exceeded", the window (or the day) is filled, so no more calls are spent on refusals.

With Redis, one call to the budget is one atomic Lua script (check the window, the day and the
account's shares, then take a slot): one round trip, and no two instances can both take the
last slot. With the local-memory cache (one process) the same rules run under a lock.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from breeze import store, telemetry
from breeze.clock import ist_date_key, seconds_to_ist_midnight
from breeze.gateway import errors

logger = logging.getLogger("breeze.gateway")

# A call is counted when admitted and reaches Breeze a moment later; a 61 s window keeps
# Breeze's own 60 s window from ever seeing more than the budget.
WINDOW_S = 61
INTERACTIVE = "interactive"
BULK = "bulk"
BACKGROUND = "background"
PRIORITIES = (INTERACTIVE, BULK, BACKGROUND)

WINDOW_KEY = "budget:window"
WAITING_KEY = "budget:interactive-waiting"
PAUSED_KEY = "budget:paused-until"  # Breeze said "limit exceeded": no calls until then
DAY_TTL_S = 2 * 86400


def _day_key(day: str) -> str:
    return f"budget:day:{day}"


def _account_day_key(name: str, day: str) -> str:
    return f"budget:account:{name}:day:{day}"


def _account_minute_key(name: str, minute: int) -> str:
    return f"budget:account:{name}:minute:{minute}"


@dataclass(frozen=True)
class Account:
    """Who a call is charged to, and the most it may spend (0: no limit of its own)."""

    name: str
    per_minute: int = 0
    per_day: int = 0


@dataclass(frozen=True)
class Outcome:
    granted: bool
    retry_after: float = 0.0
    reason: str = ""  # "window", "day", "account_day", "account_minute", "yield"


def _reserve(priority: str) -> int:
    per_min = settings.BREEZE_RATE_PER_MIN
    if priority == BULK:
        return max(1, per_min // 10)
    if priority == BACKGROUND:
        return max(1, per_min // 2)
    return 0


# --- Redis: one Lua script -----------------------------------------------------------------

# The budget's rules in Lua, as a function of its keys K and arguments A, so that the flight's
# one-round-trip start (breeze.gateway.fetch) can take a slot in the same script.
TAKE_FUNCTION = """
local function take(K, A)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local window_ms = tonumber(A[1])
  local limit = tonumber(A[2]) - tonumber(A[3])
  local per_day = tonumber(A[4])
  local account_day = tonumber(A[5])
  local account_minute = tonumber(A[6])
  redis.call('ZREMRANGEBYSCORE', K[1], '-inf', now - window_ms)
  local paused = tonumber(redis.call('GET', K[6]) or '0')
  if paused > now then return {0, paused - now, 'window'} end
  if A[7] == '1' and tonumber(redis.call('GET', K[5]) or '0') > 0 then
    return {0, 250, 'yield'}
  end
  local used = redis.call('ZCARD', K[1])
  if used >= limit then
    local oldest = redis.call('ZRANGE', K[1], 0, 0, 'WITHSCORES')
    local retry = window_ms
    if oldest[2] then retry = tonumber(oldest[2]) + window_ms - now end
    return {0, retry, 'window'}
  end
  if tonumber(redis.call('GET', K[2]) or '0') >= per_day then return {0, 0, 'day'} end
  if K[3] ~= K[2] then
    if account_day > 0 and tonumber(redis.call('GET', K[3]) or '0') >= account_day then
      return {0, 0, 'account_day'}
    end
    if account_minute > 0 and tonumber(redis.call('GET', K[4]) or '0') >= account_minute then
      return {0, 60000 - (now % 60000), 'account_minute'}
    end
    redis.call('INCR', K[3])
    redis.call('EXPIRE', K[3], A[9])
    redis.call('INCR', K[4])
    redis.call('EXPIRE', K[4], 120)
  end
  redis.call('ZADD', K[1], now, A[8])
  redis.call('PEXPIRE', K[1], window_ms)
  redis.call('INCR', K[2])
  redis.call('EXPIRE', K[2], A[9])
  return {1, 0, ''}
end
"""
TAKE_KEYS = 6  # how many KEYS and ARGV the function's callers pass first
TAKE_ARGS = 9
_TAKE = TAKE_FUNCTION + "return take(KEYS, ARGV)"


_take_script: Any = None


def _script(r: store.Redis) -> Any:
    """The registered script (its SHA is computed once per process; each call names its client)."""
    global _take_script  # a per-process handle on the script text, not shared state
    if _take_script is None:
        _take_script = r.client.register_script(_TAKE)
    return _take_script


def redis_take_arguments(
    r: store.Redis, priority: str, account: Account | None, *, yields: bool = False
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of :data:`TAKE_FUNCTION` for one call."""
    day = ist_date_key()
    day_key = r.make_key(_day_key(day))
    if account is not None:
        minute = int(time.time() // 60)
        account_keys = [
            r.make_key(_account_day_key(account.name, day)),
            r.make_key(_account_minute_key(account.name, minute)),
        ]
    else:
        account_keys = [day_key, day_key]  # the script skips the account when K[3] == K[2]
    keys = [
        r.make_key(WINDOW_KEY),
        day_key,
        *account_keys,
        r.make_key(WAITING_KEY),
        r.make_key(PAUSED_KEY),
    ]
    args = [
        WINDOW_S * 1000,
        settings.BREEZE_RATE_PER_MIN,
        _reserve(priority),
        settings.BREEZE_RATE_PER_DAY,
        account.per_day if account else 0,
        account.per_minute if account else 0,
        "1" if yields else "0",
        uuid.uuid4().hex,
        DAY_TTL_S,
    ]
    return keys, args


def outcome_of(reply: list[Any]) -> Outcome:
    """The script's ``{granted, retry_ms, reason}`` as an :class:`Outcome`."""
    granted, retry_ms, reason = reply
    reason = reason.decode() if isinstance(reason, bytes) else str(reason)
    return Outcome(bool(granted), max(0.0, float(retry_ms) / 1000), reason)


def _take_redis(r: store.Redis, priority: str, account: Account | None, yields: bool) -> Outcome:
    keys, args = redis_take_arguments(r, priority, account, yields=yields)
    return outcome_of(_script(r)(keys=keys, args=args, client=r.client))


# --- local memory (one process): the same rules under a lock --------------------------------

_local_lock = threading.Lock()


def _take_local(priority: str, account: Account | None, yields: bool) -> Outcome:
    now = time.time()
    day = ist_date_key()
    with _local_lock:
        window = [t for t in cache.get(WINDOW_KEY, []) if t > now - WINDOW_S]
        paused_until = float(cache.get(PAUSED_KEY) or 0)
        if paused_until > now:
            return Outcome(False, paused_until - now, "window")
        if yields and (cache.get(WAITING_KEY) or 0) > 0:
            return Outcome(False, 0.25, "yield")
        if len(window) >= settings.BREEZE_RATE_PER_MIN - _reserve(priority):
            return Outcome(False, (min(window) + WINDOW_S - now) if window else WINDOW_S, "window")
        if (cache.get(_day_key(day)) or 0) >= settings.BREEZE_RATE_PER_DAY:
            return Outcome(False, 0.0, "day")
        if account is not None:
            minute_key = _account_minute_key(account.name, int(now // 60))
            day_key = _account_day_key(account.name, day)
            if account.per_day and (cache.get(day_key) or 0) >= account.per_day:
                return Outcome(False, 0.0, "account_day")
            if account.per_minute and (cache.get(minute_key) or 0) >= account.per_minute:
                return Outcome(False, 60 - now % 60, "account_minute")
            cache.set(day_key, (cache.get(day_key) or 0) + 1, DAY_TTL_S)
            cache.set(minute_key, (cache.get(minute_key) or 0) + 1, 120)
        window.append(now)
        cache.set(WINDOW_KEY, window, WINDOW_S + 1)
        cache.set(_day_key(day), (cache.get(_day_key(day)) or 0) + 1, DAY_TTL_S)
        return Outcome(True)


def _take(priority: str, account: Account | None, *, queued: bool) -> Outcome:
    # Bulk and background calls yield to waiting quotes, but only once they are queued
    # themselves: a free window is free for everyone.
    yields = queued and priority != INTERACTIVE
    r = store.redis()
    if r is not None:
        return _take_redis(r, priority, account, yields)
    return _take_local(priority, account, yields)


# --- the queue -----------------------------------------------------------------------------


def acquire(
    *,
    priority: str = INTERACTIVE,
    account: Account | None = None,
    wait_s: float | None = None,
    first: Outcome | None = None,
) -> None:
    """Take one call from the budget (charged to ``account``), waiting up to ``wait_s``.
    ``first``: the outcome of a first try the caller already made in its own round trip."""
    wait_s = settings.BREEZE_QUEUE_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    waiting = False
    try:
        queued = False
        while True:
            outcome = first or _take(priority, account, queued=queued)
            first = None
            if outcome.granted:
                telemetry.record_queue_wait(
                    priority, wait_s - (deadline - time.monotonic()), granted=True
                )
                return
            _refuse_for_good(outcome, account)
            left = deadline - time.monotonic()
            if left <= 0 or outcome.retry_after > left:  # no slot frees in time: say when
                raise errors.RateBudgetExhausted(retry_after=max(0.05, outcome.retry_after))
            if priority == INTERACTIVE and not waiting:
                waiting = True
                _incr(WAITING_KEY, 1)
            queued = True
            # Sleep until a slot is likely free, with jitter so waiters do not stampede.
            pause = max(0.01, min(outcome.retry_after, 0.25)) * random.uniform(0.5, 1.0)
            time.sleep(min(left, pause))
    except errors.BreezeError:
        telemetry.record_queue_wait(priority, wait_s - (deadline - time.monotonic()), granted=False)
        raise
    finally:
        if waiting:
            _incr(WAITING_KEY, -1)


def _refuse_for_good(outcome: Outcome, account: Account | None) -> None:
    """Spent days do not come back within a queue wait: refuse at once."""
    if outcome.reason == "day":
        raise errors.RateBudgetExhausted(
            "The proxy's daily Breeze call budget is spent.",
            retry_after=seconds_to_ist_midnight(),
        )
    if outcome.reason == "account_day":
        raise errors.AccountBudgetExhausted(
            details={"account": account.name if account else "", "per_day": account.per_day}
            if account
            else None,
            retry_after=seconds_to_ist_midnight(),
        )
    if outcome.reason == "account_minute":
        raise errors.AccountBudgetExhausted(
            "This client's share of the proxy's Breeze calls for this minute is spent.",
            details={"account": account.name, "per_minute": account.per_minute}
            if account
            else None,
            retry_after=outcome.retry_after,
        )


def _incr(key: str, delta: int) -> None:
    try:
        cache.incr(key, delta)
    except ValueError:
        cache.add(key, max(0, delta), timeout=600)


def pause(*, per_day: bool = False) -> None:
    """Breeze said the API key is over its limit: no more calls for a window (or the day)."""
    if per_day:
        cache.set(_day_key(ist_date_key()), settings.BREEZE_RATE_PER_DAY, DAY_TTL_S)
    else:
        until = time.time() + WINDOW_S
        r = store.redis()
        # The script compares milliseconds from Redis's clock; local memory, seconds.
        cache.set(PAUSED_KEY, int(until * 1000) if r is not None else until, WINDOW_S + 1)
    logger.warning("rate budget filled after Breeze's limit answer", extra={"per_day": per_day})


def usage(account: Account | None = None) -> dict[str, Any]:
    """Calls counted in the current window and IST day (for health, metrics and headers)."""
    now = time.time()
    day = ist_date_key()
    r = store.redis()
    if r is not None:
        key = r.make_key(WINDOW_KEY)
        r.client.zremrangebyscore(key, "-inf", int((now - WINDOW_S) * 1000))
        in_window = int(r.client.zcard(key))
    else:
        in_window = len([t for t in cache.get(WINDOW_KEY, []) if t > now - WINDOW_S])
    result: dict[str, Any] = {
        "minute": {"used": in_window, "limit": settings.BREEZE_RATE_PER_MIN},
        "day": {"used": int(cache.get(_day_key(day)) or 0), "limit": settings.BREEZE_RATE_PER_DAY},
    }
    if account is not None:
        result["account"] = {
            "name": account.name,
            "day": {
                "used": int(cache.get(_account_day_key(account.name, day)) or 0),
                "limit": account.per_day,
            },
        }
    return result


def reset() -> None:
    """Forget every call counted (operations and tests)."""
    cache.delete_many([WINDOW_KEY, WAITING_KEY, PAUSED_KEY, _day_key(ist_date_key())])
