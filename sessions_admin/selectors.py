"""Reading the Breeze session: which one is live, and its state for people and probes.

The live session is read on every market request, so it is kept in the shared cache (Redis
when configured) for a few seconds. Every change goes through ``sessions_admin.services``,
which drops that entry, so all workers and instances see a new session at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from breeze_proxy.shared_cache import Prefetched
from market.gateway.client import SessionCredentials
from sessions_admin import crypto
from sessions_admin.models import BreezeSession

LIVE_SESSION_CACHE_KEY = "breeze-session:live:v1"
LIVE_SESSION_CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class LiveSession:
    id: int
    breeze_user_id: str
    encrypted_session_key: str
    expires_at: datetime

    def credentials(self) -> SessionCredentials:
        return SessionCredentials(
            user_id=self.breeze_user_id, session_key=crypto.decrypt(self.encrypted_session_key)
        )

    def __repr__(self) -> str:
        return f"LiveSession(id={self.id}, expires_at={self.expires_at.isoformat()})"


def breeze_session_get_latest() -> BreezeSession | None:
    return BreezeSession.objects.exclude(status=BreezeSession.Status.FAILED).first()


def breeze_session_get_active(*, now: datetime | None = None) -> BreezeSession | None:
    now = now or timezone.now()
    return (
        BreezeSession.objects.filter(status=BreezeSession.Status.ACTIVE, expires_at__gt=now)
        .order_by("-activated_at", "-id")
        .first()
    )


def breeze_session_get_live(*, now: datetime | None = None) -> LiveSession | None:
    """The live session, from the shared cache when fresh, else from the database."""
    return breeze_session_get_live_with([], now=now)[0]


def breeze_session_get_live_with(
    keys: list[str], *, now: datetime | None = None, prefetched: Prefetched | None = None
) -> tuple[LiveSession | None, dict[str, Any]]:
    """The live session and, in the same cache round trip, the values of ``keys``.

    The hot path of a cached quote needs both the session and the ready answer; one round
    trip to Redis instead of two is a measurable share of that request's cost.
    """
    now = now or timezone.now()
    wanted = [LIVE_SESSION_CACHE_KEY, *keys]
    if prefetched is not None and all(prefetched.has(key) for key in wanted):
        found = {key: prefetched.get(key) for key in wanted if prefetched.get(key) is not None}
    else:
        found = cache.get_many(wanted)
    cached = found.pop(LIVE_SESSION_CACHE_KEY, None)
    if cached is None:
        row = breeze_session_get_active(now=now)
        cached = _to_cache(row)
        cache.set(LIVE_SESSION_CACHE_KEY, cached, LIVE_SESSION_CACHE_TTL_S)
    if not cached:
        return None, found
    live = LiveSession(**cached)
    return (live if live.expires_at > now else None), found


def _to_cache(row: BreezeSession | None) -> dict[str, Any]:
    if row is None or row.expires_at is None:
        return {}
    # The key stays encrypted in the cache too: a Redis dump does not reveal it either.
    return {
        "id": row.pk,
        "breeze_user_id": row.breeze_user_id,
        "encrypted_session_key": crypto.encrypt(row.session_key),
        "expires_at": row.expires_at,
    }


def breeze_session_status(*, now: datetime | None = None) -> dict[str, Any]:
    """What staff, health probes and the CLI see; never the token or key."""
    now = now or timezone.now()
    active = breeze_session_get_active(now=now)
    latest = breeze_session_get_latest()
    last_failure = (
        BreezeSession.objects.filter(status=BreezeSession.Status.FAILED)
        .only("last_error", "last_error_at", "activated_at")
        .first()
    )
    current = active or latest
    return {
        "session_active": active is not None,
        "session_valid": active is not None and not active.last_error,
        "status": current.status if current else "none",
        "breeze_user_id": current.breeze_user_id if current else None,
        "activated_at": current.activated_at if current else None,
        "activated_by": current.activated_by if current else None,
        "expires_at": current.expires_at if current else None,
        "seconds_left": active.seconds_left(now) if active else 0,
        "last_error": (current.last_error or None) if current else None,
        "last_failed_activation": (
            {"at": last_failure.activated_at, "error": last_failure.last_error}
            if last_failure
            else None
        ),
    }
