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
from typing import Any

from django.conf import settings

from breeze import store
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

    def load(flight_id: str, breaker_state: dict, started: flight.Started | None) -> MarketAnswer:
        grant: breaker.Pass | None = None
        try:
            if started is None:
                grant = breaker.before_call(breaker_state)
                budget.acquire(priority=priority, account=account)
            else:  # begun in one round trip: breaker closed, lock held, a budget slot tried
                grant = breaker.Pass(failures=started.failures)
                if not started.budget.granted:
                    budget.acquire(priority=priority, account=account, first=started.budget)
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
    r = store.redis()
    begin = _beginner(r, key, priority, account, wait_s) if r is not None else None
    try:
        return flight.single_flight(
            key, session_id, load, wait_s=wait_s, extra_keys=breaker.KEYS, begin=begin
        )
    except errors.CircuitOpen:
        stale = flight.get_stale(key)
        if stale is not None:
            return stale
        raise


# --- the start of a flight in one round trip (Redis) ---------------------------------------

_BEGIN = (
    budget.TAKE_FUNCTION
    + """
-- KEYS: the budget's first, then answer, remembered error, lock, breaker open marker, failures.
-- ARGV: the budget's first, then this flight's id (encoded) and the lock's TTL in ms.
local n, m = TAKE_KEYS, TAKE_ARGS
local answer = redis.call('GET', KEYS[n + 1])
if answer then return {'answer', answer} end
local remembered = redis.call('GET', KEYS[n + 2])
if remembered then return {'error', remembered} end
local holder = redis.call('GET', KEYS[n + 3])
if holder then return {'follow'} end
if redis.call('EXISTS', KEYS[n + 4]) == 1 then return {'breaker'} end
redis.call('SET', KEYS[n + 3], ARGV[m + 1], 'PX', ARGV[m + 2])
local K, A = {}, {}
for i = 1, n do K[i] = KEYS[i] end
for i = 1, m do A[i] = ARGV[i] end
local slot = take(K, A)
return {'lead', slot, redis.call('GET', KEYS[n + 5]) or '0'}
""".replace("TAKE_KEYS", str(budget.TAKE_KEYS)).replace("TAKE_ARGS", str(budget.TAKE_ARGS))
)
_begin_script: Any = None


def _beginner(
    r: store.Redis, key: str, priority: str, account: budget.Account | None, wait_s: float
) -> flight.Begin:
    """The usual start of a flight as one script: look for the answer or a remembered error;
    unless someone else is fetching it or the breaker is not closed, take the lock and try for
    a budget slot. (Otherwise the flight starts the usual way, in several round trips.)"""

    def begin(flight_id: str) -> flight.Started:
        global _begin_script  # a per-process handle on the script text, not shared state
        if _begin_script is None:
            _begin_script = r.client.register_script(_BEGIN)
        budget_keys, budget_args = budget.redis_take_arguments(r, priority, account)
        names = [
            flight.lock_key(key) if name == "lock" else name
            for name in (key, flight.error_key(key), "lock", *breaker.KEYS)
        ]
        reply = _begin_script(
            keys=[*budget_keys, *[r.make_key(name) for name in names]],
            args=[*budget_args, r.encode(flight_id), max(1, int(wait_s * 1000) + 1000)],
            client=r.client,
        )
        kind = reply[0].decode()
        if kind in ("answer", "error"):
            return flight.Started(kind, r.decode(reply[1]))
        if kind == "lead":
            return flight.Started(kind, budget=budget.outcome_of(reply[1]), failures=int(reply[2]))
        return flight.Started(kind)

    return begin
