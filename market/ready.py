"""Rendered answers kept ready to send, keyed by the exact request body.

The hot path of a busy dashboard is the same few quote requests, many times a second. For a
body seen before whose answer is still fresh, the view sends the stored bytes instead of
validating, fetching and rendering again, after one cache round trip that also reads the live
session. The entry records the session it was fetched with, so a new session never sees the
old session's answers, and it expires exactly when the underlying cached answer does.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from market.gateway.answers import MarketAnswer

_renderer = JSONRenderer()


def key(operation: str, body: bytes) -> str:
    return f"ready:{operation}:{hashlib.sha256(body).hexdigest()[:32]}"


def _build(content: bytes, as_of: float, cache_state: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/json")
    response["X-Cache"] = "miss" if cache_state == "miss" else "hit"
    response["Age"] = str(max(0, int(time.time() - as_of)))
    return response


def response_from(found: dict[str, Any], ready_key: str, session_id: int) -> HttpResponse | None:
    """The stored response among ``found`` cache values, if it belongs to this session."""
    stored = found.get(ready_key)
    if stored is None or stored[0] != session_id:
        return None
    _, content, as_of = stored
    return _build(content, as_of, "hit")


def keep(ready_key: str, session_id: int, answer: MarketAnswer) -> HttpResponse:
    """Render ``answer`` once, remember it for the rest of its freshness, and return it."""
    content = _renderer.render(answer.body())
    fresh_for = answer.fresh_for_s
    if fresh_for > 0.01:
        cache.set(ready_key, (session_id, content, answer.as_of), fresh_for)
    return _build(content, answer.as_of, answer.cache)
