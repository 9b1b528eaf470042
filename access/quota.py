"""Per-caller request quotas: fixed one-minute windows counted in the shared store.

The counter of a window is raised with the store's atomic increment (Redis ``INCR``), so
concurrent workers and instances never lose a count. The price of a fixed window is that a
caller may spend up to twice its quota across a window boundary; this quota keeps a client
fair to the proxy, while Breeze's budget is protected per upstream call by
``breeze.gateway.budget``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus

from rest_framework import exceptions as drf_exceptions

from breeze.errors import ProxyError

WINDOW_S = 60
COUNTER_TTL_S = WINDOW_S + 5


def window_of(now: float) -> int:
    return int(now // WINDOW_S)


def reset_s(now: float) -> int:
    """Seconds until the current window ends."""
    return max(1, math.ceil((window_of(now) + 1) * WINDOW_S - now))


def counter_key(counter: str, window: int) -> str:
    return f"quota:{counter}:{window}"


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


class RateLimited(ProxyError, drf_exceptions.APIException):
    """The caller spent its requests for this minute. Also a DRF exception, so that DRF treats
    a refusal raised while authenticating as its own (see ``access.errors``)."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"
    message = "This client's request quota for the minute is spent; retry after Retry-After."

    def __init__(self, state: RateLimitState) -> None:
        super().__init__(retry_after=state.reset_s, details={"limit": state.limit})
        self.state = state

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.state.headers()}


def rate_limit(*, quota: int, count: int, now: float) -> RateLimitState:
    """The state after the ``count``-th request of the window; raises :class:`RateLimited`
    past ``quota``."""
    state = RateLimitState(limit=quota, remaining=max(0, quota - count), reset_s=reset_s(now))
    if count > quota:
        raise RateLimited(state)
    return state
