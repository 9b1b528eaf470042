"""Answers kept in Django's cache (Redis when configured), shared by every worker and instance.

Keys include the live session's id, so answers fetched with an old session are never served
once a new one is activated. Each answer is stored twice: a fresh copy for its short TTL, and a
"last good" copy kept much longer that is served, marked stale, only while the circuit breaker
is open. Reads of an answer, a recent error and the in-flight lock happen in one round trip,
and the writes that end a flight go in one pipeline: on a 2-core machine, round trips to Redis
are most of what a cache miss costs the proxy.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.cache import cache

from market.gateway import errors
from market.gateway.answers import MarketAnswer


def answer_key(session_id: int, operation: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
    return f"answer:{session_id}:{operation}:{digest}"


def stale_key(key: str) -> str:
    return f"stale:{key.split(':', 2)[2]}"  # last good answers outlive the session they came from


def error_key(key: str) -> str:
    return f"error:{key}"


def lock_key(key: str) -> str:
    return f"inflight:{key}"


def from_payload(payload: tuple[Any, ...], *, served_as: str) -> MarketAnswer:
    rows, as_of, expires_at = payload
    return MarketAnswer(rows=rows, as_of=as_of, expires_at=expires_at, cache=served_as)


def snapshot(key: str) -> tuple[MarketAnswer | errors.BreezeError | None, str | None]:
    """In one round trip: a fresh answer or a recent error for ``key``, and who is fetching it.

    The read is atomic, and a flight stores its answer before releasing its lock, so "no
    answer and no lock" means nobody has fetched this recently and nobody is fetching it now.
    """
    found = cache.get_many([key, error_key(key), lock_key(key)])
    flight = found.get(lock_key(key))
    if key in found:
        return from_payload(found[key], served_as="hit"), flight
    if error_key(key) in found:
        return errors.rebuild(found[error_key(key)]), flight
    return None, flight


def get_stale(key: str) -> MarketAnswer | None:
    payload = cache.get(stale_key(key))
    return None if payload is None else from_payload(payload, served_as="stale")


def finish_flight(
    key: str,
    *,
    answer: MarketAnswer | None = None,
    error: errors.BreezeError | None = None,
    error_ttl_s: float = 0.0,
    flight: str = "",
) -> None:
    """Store what a flight produced and release its lock, in one pipeline."""
    sets: list[tuple[str, Any, float]] = []
    if answer is not None:
        payload = (answer.rows, answer.as_of, answer.expires_at)
        sets.append((key, payload, max(0.001, answer.expires_at - answer.as_of)))
        sets.append((stale_key(key), payload, settings.BREEZE_STALE_TTL_S))
    if error is not None:
        described = errors.describe(error)
        sets.append((flight_error_key(flight), described, FLIGHT_ERROR_TTL_S))
        if error_ttl_s > 0:
            sets.append((error_key(key), described, error_ttl_s))
    _write(sets, deletes=[lock_key(key)])


FLIGHT_ERROR_TTL_S = 2.0


def flight_error_key(flight: str) -> str:
    return f"flight-error:{flight}"


def _write(sets: list[tuple[str, Any, float]], deletes: list[str]) -> None:
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):  # django-redis: one pipeline
        pipe = client.get_client(write=True).pipeline(transaction=False)
        for name, value, ttl_s in sets:
            pipe.set(client.make_key(name), client.encode(value), px=max(1, int(ttl_s * 1000)))
        for name in deletes:
            pipe.delete(client.make_key(name))
        pipe.execute()
        return
    for name, value, ttl_s in sets:
        cache.set(name, value, ttl_s)
    cache.delete_many(deletes)
