"""Rendered answers kept ready to send, keyed by the exact request body.

The hot path of a busy dashboard is the same few quote requests, many times a second. For a
body seen before whose answer is still fresh, the view sends the stored bytes instead of
validating, fetching and rendering again: one cache read after the live-session lookup. The key
includes the live session's id, so a new session never sees the old session's answers, and the
entry expires exactly when the underlying cached answer does.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from market.gateway.answers import MarketAnswer

_renderer = JSONRenderer()


def _key(session_id: int, operation: str, body: bytes) -> str:
    return f"ready:{session_id}:{operation}:{hashlib.sha256(body).hexdigest()[:32]}"


def response_for(answer: MarketAnswer) -> HttpResponse:
    return _build(_renderer.render(answer.body()), answer.as_of, answer.cache)


def _build(content: bytes, as_of: float, cache_state: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/json")
    response["X-Cache"] = "miss" if cache_state == "miss" else "hit"
    response["Age"] = str(max(0, int(time.time() - as_of)))
    return response


def get(session_id: int, operation: str, body: bytes) -> HttpResponse | None:
    stored = cache.get(_key(session_id, operation, body))
    if stored is None:
        return None
    content, as_of = stored
    return _build(content, as_of, "hit")


def keep(session_id: int, operation: str, body: bytes, answer: MarketAnswer) -> HttpResponse:
    """Render ``answer`` once, remember it for the rest of its freshness, and return it."""
    content = _renderer.render(answer.body())
    fresh_for = answer.fresh_for_s
    if fresh_for > 0.01:
        cache.set(_key(session_id, operation, body), (content, answer.as_of), fresh_for)
    return _build(content, answer.as_of, answer.cache)
