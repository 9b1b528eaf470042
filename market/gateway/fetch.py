"""How every market answer is obtained: cache → merge → breaker → budget → Breeze.

This is the single path from a service to Breeze, so each protection applies to every
endpoint the same way:

1. a fresh answer in the shared cache is served as is (no upstream call, no budget);
2. identical concurrent requests merge into one flight (``merging``);
3. the circuit breaker refuses calls while Breeze is failing, serving the last good answer
   marked stale where there is one;
4. the fleet-wide budget admits the call or queues it (``budget``);
5. the SDK call itself; its answer (or error) is stored and the flight's lock released in one
   pipeline.
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

    def load(flight: str) -> MarketAnswer:
        try:
            healthy = breaker.before_call()
            budget.acquire(priority=priority)
            rows = call(client())
        except errors.BreezeError as exc:
            if isinstance(exc, errors.UpstreamRateLimited):
                budget.pause(per_day="per day" in str(exc.details))
            if not isinstance(exc, errors.CircuitOpen | errors.RateBudgetExhausted):
                breaker.record_failure(exc)  # counts only transport failures, timeouts and 5xx
            remember = min(ERROR_TTL_S, ttl_s) if isinstance(exc, REMEMBERED_ERRORS) else 0.0
            answer_cache.finish_flight(key, error=exc, error_ttl_s=remember, flight=flight)
            raise
        except BaseException:
            answer_cache.finish_flight(key, flight=flight)
            raise
        breaker.record_success(healthy=healthy)
        now = time.time()
        answer = MarketAnswer(rows=rows, as_of=now, expires_at=now + ttl_s)
        answer_cache.finish_flight(key, answer=answer)
        return answer

    wait_s = settings.BREEZE_TIMEOUT_S + settings.BREEZE_QUEUE_WAIT_S + 1
    try:
        return merging.single_flight(key, load, wait_s=wait_s)
    except errors.CircuitOpen:
        stale = answer_cache.get_stale(key)
        if stale is not None:
            return stale
        raise
