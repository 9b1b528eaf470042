"""How every market answer is obtained: cache → merge → breaker → budget → Breeze.

This is the single path from a service to Breeze, so each protection applies to every
endpoint the same way:

1. a fresh answer in the shared cache is served as is (no upstream call, no budget);
2. identical concurrent requests merge into one flight (``merging``);
3. the circuit breaker refuses calls while Breeze is failing, serving the last good answer
   marked stale where there is one;
4. the fleet-wide budget admits the call or queues it (``budget``);
5. the SDK call itself, whose answer is cached for its TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from market.gateway import breaker, budget, errors, merging
from market.gateway import cache as answer_cache
from market.gateway.answers import MarketAnswer, Rows
from market.gateway.client import BreezeClient

# Answers about the request itself or Breeze's health, worth repeating to identical requests
# for a moment; session and budget errors are not (they change with the session or the clock).
REMEMBERED_ERRORS = (
    errors.NoData,
    errors.UpstreamRejected,
    errors.UpstreamUnavailable,
    errors.UpstreamBadResponse,
    errors.UpstreamTimeout,
)
ERROR_TTL_S = 1.0


def fetch(
    *,
    session_id: int,
    operation: str,
    params: dict[str, Any],
    client: Callable[[], BreezeClient],
    call: Callable[[BreezeClient], Rows],
    ttl_s: float,
    priority: str = budget.INTERACTIVE,
) -> MarketAnswer:
    key = answer_cache.answer_key(session_id, operation, params)
    cached = answer_cache.lookup(key)
    if isinstance(cached, errors.BreezeError):
        raise cached
    if cached is not None:
        return cached

    def load() -> MarketAnswer:
        again = answer_cache.lookup(key)  # a flight may have landed while we queued
        if isinstance(again, errors.BreezeError):
            raise again
        if again is not None:
            return again
        was_closed = breaker.before_call()
        budget.acquire(priority=priority)
        try:
            rows = call(client())
        except errors.UpstreamRateLimited as exc:
            budget.pause(per_day="per day" in str(exc.details))
            breaker.record_failure(exc)
            raise
        except errors.BreezeError as exc:
            breaker.record_failure(exc)  # counts only transport failures, timeouts and 5xx
            if isinstance(exc, REMEMBERED_ERRORS):
                answer_cache.put_error(key, exc, min(ERROR_TTL_S, ttl_s))
            raise
        breaker.record_success(was_closed=was_closed)
        now = time.time()
        answer = MarketAnswer(rows=rows, as_of=now, expires_at=now + ttl_s)
        answer_cache.put(key, answer)
        return answer

    wait_s = settings.BREEZE_TIMEOUT_S + settings.BREEZE_QUEUE_WAIT_S + 1
    try:
        return merging.single_flight(key, load, wait_s=wait_s)
    except errors.CircuitOpen:
        stale = answer_cache.get_stale(key)
        if stale is not None:
            return stale
        raise
