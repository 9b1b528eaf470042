"""Request merging: concurrent identical requests make one upstream call.

Within a process, followers wait on the leader's future. Across workers and instances, the
leader holds a short lock in the shared cache (``cache.add`` is atomic in Redis and in local
memory); followers elsewhere poll the cache for the leader's answer, or for the error it
reported, until the deadline. A leader that dies without answering only costs its followers
the lock's TTL, after which one of them takes over.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future

from django.core.cache import cache

from market.gateway import cache as answer_cache
from market.gateway import errors
from market.gateway.answers import MarketAnswer

_inflight: dict[str, Future[MarketAnswer]] = {}
_inflight_lock = threading.Lock()

ERROR_TTL_S = 2


def single_flight(key: str, load: Callable[[], MarketAnswer], *, wait_s: float) -> MarketAnswer:
    """Return ``load()``'s answer, calling it at most once at a time for ``key`` fleet-wide."""
    with _inflight_lock:
        future = _inflight.get(key)
        leader = future is None
        if leader:
            future = Future()
            _inflight[key] = future
    assert future is not None
    if not leader:
        try:
            return future.result(timeout=wait_s).served_as("hit")
        except TimeoutError as exc:
            raise errors.UpstreamTimeout(details="waited for an identical request") from exc
    try:
        answer = _fleet_flight(key, load, wait_s)
    except BaseException as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result(answer)
        return answer
    finally:
        with _inflight_lock:
            _inflight.pop(key, None)


def _fleet_flight(key: str, load: Callable[[], MarketAnswer], wait_s: float) -> MarketAnswer:
    lock_key = f"inflight:{key}"
    deadline = time.monotonic() + wait_s
    while True:
        flight = uuid.uuid4().hex
        if cache.add(lock_key, flight, timeout=max(1, int(wait_s + 1))):
            try:
                return load()
            except errors.BreezeError as exc:
                cache.set(f"flight-error:{flight}", errors.describe(exc), ERROR_TTL_S)
                raise
            finally:
                cache.delete(lock_key)
        answer = _follow(key, lock_key, deadline)
        if answer is not None:
            return answer
        if time.monotonic() >= deadline:
            raise errors.UpstreamTimeout(details="waited for an identical request elsewhere")


def _follow(key: str, lock_key: str, deadline: float) -> MarketAnswer | None:
    """Wait for another instance's flight; None when it ended without an answer for us."""
    pause = 0.005
    seen_flight = None
    while time.monotonic() < deadline:
        found = cache.get_many([key, lock_key])
        if key in found:
            return answer_cache.from_payload(found[key], served_as="hit")
        flight = found.get(lock_key)
        if flight is None:
            # The leader finished: it either reported an error or left nothing to share.
            reported = cache.get(f"flight-error:{seen_flight}") if seen_flight else None
            if reported is not None:
                raise errors.rebuild(reported)
            return None
        seen_flight = flight
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return None
