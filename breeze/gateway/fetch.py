"""The single path from a service to Breeze: cache → merge → breaker → budget → SDK.

Every endpoint's answer takes this path, so each protection applies to all of them the same
way:

1. a fresh answer in the shared store, fetched with the live session, is served as is (no
   upstream call, no budget);
2. identical concurrent requests merge into one flight, fleet-wide (:mod:`~breeze.gateway.flight`);
3. the circuit breaker refuses calls while Breeze is failing, serving the last good answer
   marked stale where there is one (:mod:`~breeze.gateway.breaker`);
4. the fleet's budget admits the call, charged to the caller's account, or queues it
   (:mod:`~breeze.gateway.budget`);
5. the SDK call itself (:mod:`~breeze.gateway.client`); its answer, or its error, is stored
   and the flight's lock released in one pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from breeze.gateway import breaker, budget, errors, flight
from breeze.gateway.answers import MarketAnswer
from breeze.gateway.client import SessionCredentials, client_for
from breeze.operations import Query

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
# Refusals that never reached Breeze say nothing about its health.
_NOT_CALLED = (errors.CircuitOpen, errors.RateBudgetExhausted, errors.AccountBudgetExhausted)


def fetch(
    query: Query,
    *,
    session_id: int,
    credentials: Callable[[], SessionCredentials],
    ttl_s: float,
    priority: str = budget.INTERACTIVE,
    account: budget.Account | None = None,
) -> MarketAnswer:
    """``query``'s answer under session ``session_id`` (whose credentials are only decrypted
    when Breeze is actually called), kept fresh for ``ttl_s`` seconds."""
    key = flight.answer_key(query)

    def load(flight_id: str, breaker_state: dict) -> MarketAnswer:
        grant: breaker.Pass | None = None
        try:
            grant = breaker.before_call(breaker_state)
            budget.acquire(priority=priority, account=account)
            rows = client_for(credentials()).answer(query)
            now = time.time()
            answer = MarketAnswer.from_rows(
                rows, as_of=now, expires_at=now + ttl_s, session_id=session_id, upstream_calls=1
            )
        except errors.BreezeError as exc:
            if isinstance(exc, errors.UpstreamRateLimited):
                budget.pause(per_day="per day" in str(exc.details))
            if grant is not None and not isinstance(exc, _NOT_CALLED):
                breaker.record_failure(grant, exc)  # counts transport failures, timeouts, 5xx
            remember = min(ERROR_TTL_S, ttl_s) if isinstance(exc, REMEMBERED_ERRORS) else 0.0
            flight.finish(key, flight=flight_id, error=exc, error_ttl_s=remember)
            raise
        except BaseException:
            flight.finish(key, flight=flight_id)
            raise
        breaker.record_success(grant)
        flight.finish(key, flight=flight_id, answer=answer)
        return answer

    wait_s = settings.BREEZE_TIMEOUT_S + settings.BREEZE_QUEUE_WAIT_S + 1
    try:
        return flight.single_flight(key, session_id, load, wait_s=wait_s, extra_keys=breaker.KEYS)
    except errors.CircuitOpen:
        stale = flight.get_stale(key)
        if stale is not None:
            return stale
        raise
