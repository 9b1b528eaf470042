"""Reading client keys. The lookup on every market request is served from Django's cache
(Redis when configured) for ``BREEZE_CLIENT_KEY_CACHE_TTL_S``; ``access.signals`` drops the
entry whenever a key row is saved, so a revocation takes effect at once on every instance."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from access.keys import key_digest, key_is_well_formed
from access.models import ClientKey
from breeze_proxy.shared_cache import Prefetched


@dataclass(frozen=True)
class KeyRecord:
    """What a request needs to know about a key; never the key, and small enough to cache."""

    id: int
    name: str
    digest: str
    scopes: frozenset[str]
    origins: tuple[str, ...]
    quota: int
    usable: bool


def key_cache_key(digest: str) -> str:
    return f"client-key:v1:{digest}"


def _record(row: ClientKey) -> KeyRecord:
    return KeyRecord(
        id=row.pk,
        name=row.name,
        digest=row.key_digest,
        scopes=frozenset(row.scope_list),
        origins=tuple(row.origin_list),
        quota=row.per_minute_quota,
        usable=row.is_usable,
    )


def counter_id(digest: str) -> str:
    """The name of a key's quota counter, derived from its digest so that it is known before
    the key is looked up (and both can be read in one round trip)."""
    return digest[:24]


def hot_reads(raw: str, *, now: float) -> tuple[list[str], list[tuple[str, int]]]:
    """The cache reads and the quota counter a request presenting ``raw`` will need."""
    if not key_is_well_formed(raw):
        return [], []
    from access.throttles import ClientKeyThrottle

    digest = key_digest(raw)
    counter = ClientKeyThrottle.counter_key(counter_id(digest), ClientKeyThrottle.window_of(now))
    return [key_cache_key(digest)], [(counter, ClientKeyThrottle.counter_ttl_s)]


def client_key_get_by_raw(*, raw: str, prefetched: Prefetched | None = None) -> KeyRecord | None:
    """The key presented as ``raw``, or None. Unknown digests are cached too (as ``False``),
    so a flood of made-up keys does not reach the database either."""
    digest = key_digest(raw)
    cache_key = key_cache_key(digest)
    if prefetched is not None and prefetched.has(cache_key):
        cached = prefetched.get(cache_key)
    else:
        cached = cache.get(cache_key)
    if cached is None:
        row = ClientKey.objects.filter(key_digest=digest).first()
        cached = _record(row) if row is not None else False
        cache.set(cache_key, cached, settings.BREEZE_CLIENT_KEY_CACHE_TTL_S)
    if not cached or not hmac.compare_digest(cached.digest, digest):
        return None
    return cached


def client_key_list() -> QuerySet[ClientKey]:
    return ClientKey.objects.order_by("name")


def client_key_get(*, name: str | None = None, prefix: str | None = None) -> ClientKey | None:
    if name:
        return ClientKey.objects.filter(name=name).first()
    if prefix:
        matches = list(ClientKey.objects.filter(prefix=prefix)[:2])
        return matches[0] if len(matches) == 1 else None
    return None
