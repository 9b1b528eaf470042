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

Load = Callable[[str], MarketAnswer]  # given the flight id; stores and releases via the cache


def single_flight(key: str, load: Load, *, wait_s: float) -> MarketAnswer:
    """The cached answer for ``key``, or ``load()``'s, calling it at most once at a time
    for ``key`` fleet-wide."""
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


def _fleet_flight(key: str, load: Load, wait_s: float) -> MarketAnswer:
    deadline = time.monotonic() + wait_s
    pause = 0.005
    seen_flight: str | None = None
    while time.monotonic() < deadline:
        found, flight = answer_cache.snapshot(key)
        if isinstance(found, errors.BreezeError):
            raise found
        if found is not None:
            return found
        if flight is None:
            if seen_flight is not None:
                # The flight we followed ended without an answer: did it report an error?
                reported = cache.get(answer_cache.flight_error_key(seen_flight))
                if reported is not None:
                    raise errors.rebuild(reported)
            mine = uuid.uuid4().hex
            if cache.add(answer_cache.lock_key(key), mine, timeout=max(1, int(wait_s + 1))):
                return load(mine)
            continue  # another instance took the lock first: follow it
        seen_flight = flight
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    raise errors.UpstreamTimeout(details="waited for an identical request elsewhere")
