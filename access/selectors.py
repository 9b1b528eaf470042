"""Reading client keys. The lookup every market request makes is answered from the shared store:
a known key as its :class:`KeyRecord` (for ``BREEZE_CLIENT_KEY_CACHE_TTL_S``), an unknown digest
as ``False`` (for ``BREEZE_UNKNOWN_KEY_CACHE_TTL_S``, so a repeated made-up key does not reach
the database either). ``access.signals`` writes the fresh record whenever a key row changes, so
a revocation takes effect at once on every instance."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from access.models import ClientKey


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
    calls_per_day: int = 0


def key_cache_key(digest: str) -> str:
    return f"client-key:v2:{digest}"


def record_of(row: ClientKey) -> KeyRecord:
    return KeyRecord(
        id=row.pk,
        name=row.name,
        digest=row.key_digest,
        scopes=frozenset(row.scope_list),
        origins=tuple(row.origin_list),
        quota=row.per_minute_quota,
        usable=row.is_usable,
        calls_per_day=row.calls_per_day or 0,
    )


def client_key_get_by_digest(digest: str) -> KeyRecord | None:
    """The key whose digest is ``digest``, from the database, remembered in the store (the
    caller has already looked in the store, in its own round trip)."""
    row = ClientKey.objects.filter(key_digest=digest).first()
    record = record_of(row) if row is not None else None
    # add, never set: a change committed meanwhile has written the fresh record (signals).
    ttl = (
        settings.BREEZE_CLIENT_KEY_CACHE_TTL_S
        if record
        else settings.BREEZE_UNKNOWN_KEY_CACHE_TTL_S
    )
    cache.add(key_cache_key(digest), record or False, ttl)
    return record


def client_key_list() -> QuerySet[ClientKey]:
    return ClientKey.objects.order_by("name")


def client_key_get(*, name: str | None = None, prefix: str | None = None) -> ClientKey | None:
    if name:
        return ClientKey.objects.filter(name=name).first()
    if prefix:
        matches = list(ClientKey.objects.filter(prefix=prefix)[:2])
        return matches[0] if len(matches) == 1 else None
    return None
