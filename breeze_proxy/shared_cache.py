"""Several reads and counters against the shared cache in one round trip.

On a cached quote, the proxy's own work is small and most of its cost is round trips to Redis:
the client key's record, its quota counter, the live session and the ready answer. This reads
them all in one pipeline. With the local-memory cache (no round trips to save) it simply does
the same operations one by one.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache


def read_and_count(
    gets: list[str], counters: list[tuple[str, int]]
) -> tuple[dict[str, Any], list[int]]:
    """The cached values of ``gets`` (absent keys left out) and, for each ``(key, ttl_s)``
    counter, its value after adding one (a new counter expires ``ttl_s`` after it starts)."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return cache.get_many(gets), [count(key, ttl_s) for key, ttl_s in counters]
    pipe = client.get_client(write=True).pipeline(transaction=False)
    for key in gets:
        pipe.get(client.make_key(key))
    for key, ttl_s in counters:
        pipe.incr(client.make_key(key))
        pipe.expire(client.make_key(key), ttl_s, nx=True)
    results = pipe.execute()
    found = {
        key: client.decode(value)
        for key, value in zip(gets, results[: len(gets)], strict=True)
        if value is not None
    }
    counts = [int(results[len(gets) + 2 * index]) for index in range(len(counters))]
    return found, counts


def count(key: str, ttl_s: int, *, store: Any = None) -> int:
    """Add one to the counter ``key`` and return its value: atomic (Redis ``INCR``), one round
    trip once the counter exists; a new counter expires ``ttl_s`` after it starts."""
    store = store or cache
    try:
        return store.incr(key)
    except ValueError:  # the counter's first hit
        if store.add(key, 1, ttl_s):
            return 1
        return store.incr(key)


PREFETCH_ATTRIBUTE = "prefetched_reads"


class Prefetched:
    """What a request read from the shared cache up front; layers consult it before reading."""

    def __init__(self, gets: list[str], found: dict[str, Any], counters: dict[str, int]) -> None:
        self.read = frozenset(gets)
        self.found = found
        self.counters = counters

    def has(self, key: str) -> bool:
        return key in self.read

    def get(self, key: str) -> Any:
        return self.found.get(key)


def prefetch(request: Any, gets: list[str], counters: list[tuple[str, int]]) -> Prefetched:
    found, counts = read_and_count(gets, counters)
    reads = Prefetched(gets, found, dict(zip((key for key, _ in counters), counts, strict=True)))
    setattr(request, PREFETCH_ATTRIBUTE, reads)
    return reads


def prefetched(request: Any) -> Prefetched | None:
    return getattr(request, PREFETCH_ATTRIBUTE, None)
