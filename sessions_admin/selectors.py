"""Reading the Breeze session: which one is live, and its state for people and probes.

The live session is read on every market request, so it is kept in the shared store for a
few seconds; every change goes through ``sessions_admin.services``, which drops that entry, so
all workers and instances see a new session at once. Its key stays encrypted in the store too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from breeze import clock
from breeze.gateway.client import SessionCredentials
from sessions_admin import crypto
from sessions_admin.models import BreezeSession

LIVE_SESSION_CACHE_KEY = "breeze-session:live:v2"
LIVE_SESSION_CACHE_TTL_S = 5.0
STATUS_CACHE_KEY = "breeze-session:status:v1"
STATUS_CACHE_TTL_S = 2.0


@dataclass(frozen=True)
class LiveSession:
    id: int
    breeze_user_id: str
    encrypted_session_key: str
    expires_at: datetime

    def credentials(self) -> SessionCredentials:
        """Decrypted only when Breeze is actually called."""
        return SessionCredentials(
            user_id=self.breeze_user_id, session_key=crypto.decrypt(self.encrypted_session_key)
        )

    def __repr__(self) -> str:
        return f"LiveSession(id={self.id}, expires_at={self.expires_at.isoformat()})"


def breeze_session_get_active(*, now: datetime | None = None) -> BreezeSession | None:
    now = now or timezone.now()
    return (
        BreezeSession.objects.filter(status=BreezeSession.Status.ACTIVE, expires_at__gt=now)
        .order_by("-activated_at", "-id")
        .first()
    )


def breeze_session_live_from(cached: Any, *, now: datetime | None = None) -> LiveSession | None:
    """The live session from what the store held under :data:`LIVE_SESSION_CACHE_KEY` (read by
    the caller, in its own round trip); the database when the store held nothing."""
    now = now or timezone.now()
    if cached is None:
        cached = _to_cache(breeze_session_get_active(now=now))
        cache.set(LIVE_SESSION_CACHE_KEY, cached, LIVE_SESSION_CACHE_TTL_S)
    if not cached:
        return None
    live = LiveSession(**cached)
    return live if live.expires_at > now else None


def breeze_session_get_live(*, now: datetime | None = None) -> LiveSession | None:
    """The live session, from the shared store when fresh, else from the database."""
    return breeze_session_live_from(cache.get(LIVE_SESSION_CACHE_KEY), now=now)


def _to_cache(row: BreezeSession | None) -> dict[str, Any]:
    if row is None or row.expires_at is None or not row.session_key:
        return {}
    return {
        "id": row.pk,
        "breeze_user_id": row.breeze_user_id,
        "encrypted_session_key": crypto.encrypt(row.session_key),
        "expires_at": row.expires_at,
    }


def breeze_session_status(*, now: datetime | None = None) -> dict[str, Any]:
    """What staff, probes, the admin API and the command see: one shape, never the token or key.
    Times are ISO 8601 with the IST offset."""
    now = now or timezone.now()
    rows = list(
        BreezeSession.objects.defer("api_session", "session_key").order_by("-activated_at", "-id")[
            :20
        ]
    )
    active = next((row for row in rows if row.is_live(now)), None)
    latest = next((row for row in rows if row.status != BreezeSession.Status.FAILED), None)
    failure = next((row for row in rows if row.status == BreezeSession.Status.FAILED), None)
    current = active or latest
    return {
        "session_active": active is not None,
        "session_valid": active is not None and not active.last_error,
        "status": current.status if current else "none",
        "breeze_user_id": current.breeze_user_id if current else None,
        "activated_at": clock.isoformat(current.activated_at) if current else None,
        "activated_by": current.activated_by if current else None,
        "expires_at": clock.isoformat(current.expires_at) if current else None,
        "seconds_left": active.seconds_left(now) if active else 0,
        "last_error": (current.last_error or None) if current else None,
        "last_failed_activation": (
            {
                "at": clock.isoformat(failure.activated_at),
                "by": failure.activated_by,
                "error": failure.last_error,
            }
            if failure
            else None
        ),
    }


def breeze_session_status_cached() -> dict[str, Any]:
    """:func:`breeze_session_status` as the open health endpoint serves it: from the store for
    up to two seconds (every session change drops it), so a flood of probes costs no query."""
    status = cache.get(STATUS_CACHE_KEY)
    if status is None:
        status = breeze_session_status()
        cache.set(STATUS_CACHE_KEY, status, STATUS_CACHE_TTL_S)
    return status
