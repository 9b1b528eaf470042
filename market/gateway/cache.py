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

from market.gateway.answers import MarketAnswer


def answer_key(session_id: int, operation: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
    return f"answer:{session_id}:{operation}:{digest}"


def stale_key(key: str) -> str:
    return f"stale:{key.split(':', 2)[2]}"  # last good answers outlive the session they came from


def get_fresh(key: str) -> MarketAnswer | None:
    payload = cache.get(key)
    return None if payload is None else MarketAnswer(*payload, cache="hit")


def get_stale(key: str) -> MarketAnswer | None:
    payload = cache.get(stale_key(key))
    return None if payload is None else MarketAnswer(*payload, cache="stale")


def put(key: str, answer: MarketAnswer, ttl_s: float) -> None:
    payload = (answer.rows, answer.as_of)
    cache.set(key, payload, ttl_s)
    cache.set(stale_key(key), payload, settings.BREEZE_STALE_TTL_S)
