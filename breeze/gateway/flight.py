"""Single flight: each answer is fetched at most once at a time in the whole fleet, and kept.

Everything about an answer's life in the shared store is here: its canonical key (from the
typed query, so only validated values ever make a key), the fresh copy and the long-lived
"last good" copy served while the breaker is open, the short lock of the flight fetching it,
the error a flight reports to the requests waiting on it, and the one pipeline that ends a
flight.

Within a process, followers wait on the leader's future. Across workers and instances, the
leader holds the lock (``cache.add`` is atomic in Redis and in local memory); followers
elsewhere poll the store for the leader's answer, or for the error it reported, until their
deadline. A leader that dies without answering costs its followers only the lock's TTL, after
which one of them takes over.

Answers are bounded by construction: one is only stored after a Breeze call (so there are at
most as many as the fleet's daily budget within their TTL), none larger than
``BREEZE_CACHE_MAX_ENTRY_BYTES`` is stored, and none lives longer than its TTL cap.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from breeze import store, telemetry
from breeze.gateway import errors
from breeze.gateway.answers import MarketAnswer
from breeze.operations import Operation, Query

logger = logging.getLogger("breeze.gateway")

FLIGHT_ERROR_TTL_S = 2.0
_OPERATIONS = frozenset(operation.value for operation in Operation)

# Given the flight's id, the extra keys read with the answer and what a one-round-trip start
# already did (see Started); stores the answer and releases the lock via finish.
Load = Callable[[str, dict[str, Any], "Started | None"], MarketAnswer]


@dataclass(frozen=True)
class Started:
    """What a flight's one-round-trip start found (``breeze.gateway.fetch`` makes it with Redis).

    ``kind`` is "answer" (``value``: the stored answer), "error" (``value``: a remembered
    error), "lead" (this flight holds the lock; ``budget``: its first try for a budget slot;
    ``failures``: the breaker's count), or anything else for "carry on the usual way"."""

    kind: str
    value: Any = None
    budget: Any = None
    failures: int = 0


Begin = Callable[[str], Started]


def answer_key(query: Query) -> str:
    """The one key of ``query``'s answer, read by the ready path and the gateway alike."""
    return f"answer:{query.cache_key()}"


def depth_key(query: Query) -> str:
    """Where the live feed keeps a quote's 5-level depth answer (``/breeze/depth`` prefers it)."""
    return f"depth5:{query.cache_key()}"


def operation_of(key: str) -> str:
    """The operation an answer key belongs to (a metrics label: one of the enum's values)."""
    name = key.split(":", 2)[1] if key.count(":") >= 2 else ""
    return name if name in _OPERATIONS else "other"


def stale_key(key: str) -> str:
    return f"stale:{key}"  # last good answers outlive the session they came from


def error_key(key: str) -> str:
    return f"error:{key}"


def lock_key(key: str) -> str:
    return f"inflight:{key}"


def flight_error_key(flight: str) -> str:
    return f"flight-error:{flight}"


# --- in-process followers --------------------------------------------------------------------

_inflight: dict[str, Future[MarketAnswer]] = {}
_inflight_lock = threading.Lock()


def single_flight(
    key: str,
    session_id: int,
    load: Load,
    *,
    wait_s: float,
    extra_keys: Sequence[str] = (),
    begin: Begin | None = None,
) -> MarketAnswer:
    """The stored answer for ``key`` fetched with session ``session_id``, or ``load``'s, calling
    it at most once at a time for ``key`` fleet-wide. ``extra_keys`` are read in the same round
    trip as the answer and handed to ``load`` (the breaker's state); ``begin``, if given, tries
    the whole start of the flight in one round trip first."""
    deadline = time.monotonic() + wait_s
    while True:
        with _inflight_lock:
            future = _inflight.get(key)
            leader = future is None
            if leader:
                future = Future()
                _inflight[key] = future
        assert future is not None
        if leader:
            break
        try:
            answer = future.result(timeout=max(0.0, deadline - time.monotonic())).served_as("hit")
            telemetry.record_merged(operation_of(key))
            return answer
        except TimeoutError as exc:
            raise errors.UpstreamTimeout(details="waited for an identical request") from exc
        except errors.AccountBudgetExhausted:
            continue  # the leader's client was over its share, not ours: try ourselves
    try:
        answer = _fleet_flight(key, session_id, load, deadline, extra_keys, begin)
    except BaseException as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result(answer)
        return answer
    finally:
        with _inflight_lock:
            _inflight.pop(key, None)


def _fleet_flight(
    key: str,
    session_id: int,
    load: Load,
    deadline: float,
    extra_keys: Sequence[str],
    begin: Begin | None,
) -> MarketAnswer:
    if begin is not None:
        mine = uuid.uuid4().hex
        started = begin(mine)
        if started.kind == "answer" and started.value[0] == session_id:
            return MarketAnswer.from_stored(started.value, served_as="hit")
        if started.kind == "error":
            raise errors.rebuild(started.value)
        if started.kind == "lead":
            return load(mine, {}, started)
        # Someone else's flight, the breaker, or another session's answer: the usual way.
    pause = 0.005
    seen_flight: str | None = None
    while time.monotonic() < deadline:
        found = cache.get_many([key, error_key(key), lock_key(key), *extra_keys])
        stored = found.get(key)
        if stored is not None and stored[0] == session_id:
            if seen_flight is not None:  # the answer of another instance's flight we followed
                telemetry.record_merged(operation_of(key))
            return MarketAnswer.from_stored(stored, served_as="hit")
        if error_key(key) in found:
            raise errors.rebuild(found[error_key(key)])
        flight = found.get(lock_key(key))
        if flight is None:
            if seen_flight is not None:
                # The flight we followed ended without an answer: did it report an error?
                reported = cache.get(flight_error_key(seen_flight))
                if reported is not None:
                    raise errors.rebuild(reported)
            mine = uuid.uuid4().hex
            lock_ttl = max(1, int(deadline - time.monotonic() + 1))
            if cache.add(lock_key(key), mine, timeout=lock_ttl):
                return load(mine, {name: found[name] for name in extra_keys if name in found}, None)
            continue  # another instance took the lock first: follow it
        seen_flight = flight
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    raise errors.UpstreamTimeout(details="waited for an identical request elsewhere")


# --- ending a flight -------------------------------------------------------------------------


def finish(
    key: str,
    *,
    flight: str,
    answer: MarketAnswer | None = None,
    error: errors.BreezeError | None = None,
    error_ttl_s: float = 0.0,
) -> None:
    """Store what a flight produced and release its lock, in one pipeline.

    The answer is stored before the lock goes (same pipeline, in order), so "no answer and no
    lock" always means nobody fetched this recently and nobody is fetching it now."""
    sets: list[tuple[str, Any, float]] = []
    if answer is not None and _storable(key, answer):
        stored = answer.stored()
        sets.append((key, stored, max(0.001, answer.expires_at - answer.as_of)))
        stale_ttl = min(settings.BREEZE_STALE_TTL_S, settings.BREEZE_CACHE_MAX_TTL_S)
        sets.append((stale_key(key), stored, stale_ttl))
    if error is not None and not isinstance(error, errors.AccountBudgetExhausted):
        # A client over its own share is that client's problem: followers try for themselves.
        described = errors.describe(error)
        sets.append((flight_error_key(flight), described, FLIGHT_ERROR_TTL_S))
        if error_ttl_s > 0:
            sets.append((error_key(key), described, error_ttl_s))
    store.exchange(sets=sets, deletes=[lock_key(key)])


def _storable(key: str, answer: MarketAnswer) -> bool:
    if len(answer.rows_json) > settings.BREEZE_CACHE_MAX_ENTRY_BYTES:
        logger.warning(
            "answer too large to cache",
            extra={"bytes": len(answer.rows_json), "limit": settings.BREEZE_CACHE_MAX_ENTRY_BYTES},
        )
        return False
    if not store.has_room_for_answers():
        logger.warning("shared store near its memory limit: answer not cached")
        return False
    return True


def get_stale(key: str) -> MarketAnswer | None:
    stored = cache.get(stale_key(key))
    return None if stored is None else MarketAnswer.from_stored(stored, served_as="stale")
