"""Per-key request quotas, shared by every worker and instance through Django's cache.

A fixed one-minute window per key: the counter ``throttle:client-key:<key id>:<window>`` is
raised with the cache's atomic ``incr`` (Redis ``INCR`` with ``REDIS_URL``), so concurrent
workers never lose a count the way a read-modify-write history list (DRF's
``SimpleRateThrottle``) would. The price of a fixed window is that a client may spend up to
twice its quota across a window boundary; it is a fairness quota, and Breeze itself is
protected by the fleet budget (``market.gateway.budget``), not by this.

Anonymous clients (keys not required, the sandbox) are not throttled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache as default_cache
from django.http.response import HttpResponseBase
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from access.authentication import ClientPrincipal
from access.services import client_key_mark_used
from breeze_proxy.shared_cache import count, prefetched

WINDOW_S = 60
RATE_LIMIT_ATTRIBUTE = "rate_limit_headers"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


class ClientKeyThrottle(BaseThrottle):
    """``cache`` and ``timer`` are attributes so tests (and other instances) can share or
    replace them."""

    cache = default_cache
    timer: Callable[[], float] = time.time
    scope = "client_key"

    def __init__(self) -> None:
        self.wait_s: float | None = None

    counter_ttl_s = WINDOW_S + 5

    @staticmethod
    def window_of(now: float) -> int:
        return int(now // WINDOW_S)

    @classmethod
    def counter_key(cls, counter: int | str, window: int) -> str:
        return f"throttle:{cls.scope}:{counter}:{window}"

    def cache_key(self, counter: int | str, window: int) -> str:
        return self.counter_key(counter, window)

    def _hit(self, key: str) -> int:
        """Count one request in ``key``: one atomic round trip in the usual case."""
        return count(key, self.counter_ttl_s, store=self.cache)

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, ClientPrincipal):
            return True
        now = self.timer()
        window = self.window_of(now)
        reset_s = max(1, math.ceil((window + 1) * WINDOW_S - now))
        key = self.cache_key(user.counter_id or user.key_id, window)
        reads = prefetched(request)
        count = reads.counters[key] if reads is not None and key in reads.counters else None
        if count is None:
            count = self._hit(key)
        if count == 1:  # the key's first request this window: note when it was last used
            client_key_mark_used(key_id=user.key_id)
        state = RateLimitState(
            limit=user.quota, remaining=max(0, user.quota - count), reset_s=reset_s
        )
        setattr(request, RATE_LIMIT_ATTRIBUTE, state)
        if count > user.quota:
            self.wait_s = reset_s
            return False
        return True

    def wait(self) -> float | None:
        return self.wait_s


class RateLimitHeadersMixin:
    """For views using :class:`ClientKeyThrottle`: every response, refusals included, says
    the quota (``RateLimit-Limit``), what is left of it and when the window resets."""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        state = getattr(request, RATE_LIMIT_ATTRIBUTE, None)
        if isinstance(state, RateLimitState):
            for name, value in state.headers().items():
                response[name] = value
        return response
