"""The shared store, in as few round trips as possible.

Everything the fleet shares and that is not a database row lives in Django's default cache:
Redis with ``REDIS_URL`` (every worker and instance sees the same values), local memory in
the embedded default (one process). On a 2-core instance the proxy's own cost per request is
mostly round trips to Redis, so the helpers here batch them: :func:`exchange` sends any mix
of reads, counters, writes and deletes as one pipeline. With the local-memory cache there is
nothing to batch and the same operations simply run one after the other.

The Redis the proxy uses must run with ``maxmemory-policy noeviction`` (see the README): the
counters that protect the fleet (quotas, lockouts, budget windows, the breaker) must never be
evicted to make room for cached answers, which are bounded by construction instead
(``breeze.gateway.flight``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache


@dataclass(frozen=True)
class Redis:
    """django-redis's client with the cache's key and value encoding."""

    client: Any
    make_key: Any
    encode: Any
    decode: Any


def redis() -> Redis | None:
    """The Redis behind the cache, or None with a local-memory cache."""
    backend = getattr(cache, "client", None)
    if backend is None or not hasattr(backend, "get_client"):
        return None
    return Redis(backend.get_client(write=True), backend.make_key, backend.encode, backend.decode)


def exchange(
    *,
    gets: Sequence[str] = (),
    counters: Sequence[tuple[str, int]] = (),
    sets: Sequence[tuple[str, Any, float]] = (),
    deletes: Sequence[str] = (),
) -> tuple[dict[str, Any], list[int]]:
    """One round trip: the values of ``gets`` (absent keys left out), then each ``(key, ttl_s)``
    counter raised by one (a new counter expires ``ttl_s`` after it starts) with its new value,
    then ``sets`` written (``(key, value, ttl_s)``) and ``deletes`` removed, in that order."""
    r = redis()
    if r is None:
        found = cache.get_many(gets) if gets else {}
        counts = [count(key, ttl_s) for key, ttl_s in counters]
        for key, value, ttl_s in sets:
            cache.set(key, value, ttl_s)
        if deletes:
            cache.delete_many(deletes)
        return found, counts
    pipe = r.client.pipeline(transaction=False)
    for key in gets:
        pipe.get(r.make_key(key))
    for key, ttl_s in counters:
        pipe.incr(r.make_key(key))
        pipe.expire(r.make_key(key), max(1, int(ttl_s)), nx=True)
    for key, value, ttl_s in sets:
        pipe.set(r.make_key(key), r.encode(value), px=max(1, int(ttl_s * 1000)))
    for key in deletes:
        pipe.delete(r.make_key(key))
    results = pipe.execute()
    found = {
        key: r.decode(value)
        for key, value in zip(gets, results[: len(gets)], strict=True)
        if value is not None
    }
    counts = [int(results[len(gets) + 2 * index]) for index in range(len(counters))]
    return found, counts


_COUNT_AND_READ = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if #KEYS == 1 then return {n, {}} end
return {n, redis.call('MGET', unpack(KEYS, 2))}
"""
_count_and_read_script: Any = None


def count_and_read(
    counter: tuple[str, int] | None, gets: Sequence[str]
) -> tuple[dict[str, Any], list[int]]:
    """:func:`exchange` for the commonest shape — at most one counter and a few reads — as a
    single command (a Lua script, or ``MGET``): the request path's one round trip costs about
    as much as one bare ``GET``, where a pipeline of five commands costs half as much again in
    redis-py's own work."""
    r = redis()
    if r is None:
        return exchange(gets=gets, counters=[counter] if counter else [])
    keys = [r.make_key(key) for key in gets]
    if counter is None:
        values = r.client.mget(keys) if keys else []
        counts: list[int] = []
    else:
        global _count_and_read_script  # a per-process handle on the script, not shared state
        if _count_and_read_script is None:
            _count_and_read_script = r.client.register_script(_COUNT_AND_READ)
        name, ttl_s = counter
        n, values = _count_and_read_script(
            keys=[r.make_key(name), *keys], args=[max(1, int(ttl_s))], client=r.client
        )
        counts = [int(n)]
    found = {
        key: r.decode(value) for key, value in zip(gets, values, strict=True) if value is not None
    }
    return found, counts


@dataclass(frozen=True)
class Memory:
    policy: str
    used: int
    limit: int  # 0: no maxmemory

    @property
    def fill(self) -> float:
        return self.used / self.limit if self.limit else 0.0


_memory_seen: tuple[float, Memory | None] = (0.0, None)
MEMORY_CHECK_S = 5.0
ANSWERS_HIGH_WATER = 0.8  # above this share of maxmemory, answers are no longer stored


def memory(*, fresh: bool = False) -> Memory | None:
    """The Redis's eviction policy and memory use (``INFO memory``), read at most every few
    seconds per process; None with the local-memory cache."""
    global _memory_seen  # a per-process reading of the shared store, not shared state
    r = redis()
    if r is None:
        return None
    seen_at, seen = _memory_seen
    if fresh or seen is None or time.monotonic() - seen_at > MEMORY_CHECK_S:
        info = r.client.info("memory")
        seen = Memory(
            policy=str(info.get("maxmemory_policy", "")),
            used=int(info.get("used_memory", 0)),
            limit=int(info.get("maxmemory", 0)),
        )
        _memory_seen = (time.monotonic(), seen)
    return seen


def forget_memory_reading() -> None:
    """Read Redis's memory afresh next time (tests, and after configuration changes)."""
    global _memory_seen
    _memory_seen = (0.0, None)


def has_room_for_answers() -> bool:
    """Whether cached answers may still be written: the counters that protect the fleet keep
    the last fifth of Redis's memory for themselves (with ``noeviction``, a full Redis refuses
    writes instead of evicting, so it must never fill up with answers)."""
    try:
        reading = memory()
    except Exception:  # the store is failing: the write would fail too, and that is logged
        return True
    return reading is None or reading.fill < ANSWERS_HIGH_WATER


def count(key: str, ttl_s: int) -> int:
    """Add one to the counter ``key`` and return its value: atomic (Redis ``INCR``), one round
    trip; a new counter expires ``ttl_s`` after it starts."""
    r = redis()
    if r is not None:
        return exchange(counters=[(key, ttl_s)])[1][0]
    try:
        return cache.incr(key)
    except ValueError:  # the counter's first hit
        if cache.add(key, 1, ttl_s):
            return 1
        return cache.incr(key)


def uncount(key: str) -> None:
    """Take back one from a counter (a request refused after it was counted)."""
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(key)
