"""Answers kept in Django's cache (Redis when configured), shared by every worker and instance.

Keys include the live session's id, so answers fetched with an old session are never served
once a new one is activated. Each answer is stored twice: a fresh copy for its short TTL, and a
"last good" copy kept much longer that is served, marked stale, only while the circuit breaker
is open.
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


def from_payload(payload: tuple[Any, ...], *, served_as: str) -> MarketAnswer:
    rows, as_of, expires_at = payload
    return MarketAnswer(rows=rows, as_of=as_of, expires_at=expires_at, cache=served_as)


def get_fresh(key: str) -> MarketAnswer | None:
    payload = cache.get(key)
    return None if payload is None else from_payload(payload, served_as="hit")


def lookup(key: str) -> MarketAnswer | errors.BreezeError | None:
    """A fresh answer, or the error Breeze gave moments ago, in one cache round trip."""
    found = cache.get_many([key, error_key(key)])
    if key in found:
        return from_payload(found[key], served_as="hit")
    if error_key(key) in found:
        return errors.rebuild(found[error_key(key)])
    return None


def error_key(key: str) -> str:
    return f"error:{key}"


def put_error(key: str, exc: errors.BreezeError, ttl_s: float) -> None:
    """Remember a failure briefly, so a burst of identical requests during an outage gets
    the same answer instead of each calling Breeze again."""
    cache.set(error_key(key), errors.describe(exc), ttl_s)


def get_stale(key: str) -> MarketAnswer | None:
    payload = cache.get(stale_key(key))
    return None if payload is None else from_payload(payload, served_as="stale")


def put(key: str, answer: MarketAnswer) -> None:
    payload = (answer.rows, answer.as_of, answer.expires_at)
    cache.set(key, payload, max(0.001, answer.expires_at - answer.as_of))
    cache.set(stale_key(key), payload, settings.BREEZE_STALE_TTL_S)
