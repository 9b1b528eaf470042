"""The one place that creates and revokes client keys (used by the admin and the command)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from access.audit import audit_record
from access.keys import key_digest, key_generate
from access.models import KEY_PREFIX_LENGTH, AuditEvent, ClientKey, normalize_origin

logger = logging.getLogger(__name__)


def client_key_create(
    *,
    name: str,
    scopes: Iterable[str],
    quota: int = 600,
    origins: Iterable[str] = (),
    calls_per_day: int = 0,
    created_by: str,
) -> tuple[ClientKey, str]:
    """Create a key; returns the row and the key itself, which exists nowhere else after this.

    Raises ``django.core.exceptions.ValidationError`` for an unknown scope, a bad origin, a
    taken name or a quota below one.
    """
    raw = key_generate()
    key = ClientKey(
        name=name.strip(),
        prefix=raw[:KEY_PREFIX_LENGTH],
        key_digest=key_digest(raw),
        scopes=",".join(dict.fromkeys(scope.strip() for scope in scopes if scope.strip())),
        allowed_origins=",".join(normalize_origin(origin) for origin in origins if origin.strip()),
        per_minute_quota=quota,
        calls_per_day=calls_per_day,
        created_by=created_by,
    )
    key.full_clean()
    with transaction.atomic():
        key.save()
        audit_record(
            action=AuditEvent.Action.CLIENT_KEY_CREATED,
            actor=created_by,
            details=f"{key.name} ({key.prefix}…) scopes={key.scopes}",
        )
    logger.info("client key created", extra={"key_id": key.pk, "key_prefix": key.prefix})
    return key, raw


def client_key_revoke(*, key: ClientKey, revoked_by: str, now: datetime | None = None) -> bool:
    """Revoke ``key`` (kept for the record); False when it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now or timezone.now()
    key.is_active = False
    key.save(update_fields=["revoked_at", "is_active"])  # post_save drops the cached lookup
    audit_record(
        action=AuditEvent.Action.CLIENT_KEY_REVOKED,
        actor=revoked_by,
        details=f"{key.name} ({key.prefix}…)",
    )
    logger.info("client key revoked", extra={"key_id": key.pk, "key_prefix": key.prefix})
    return True


def client_key_mark_used(*, key_id: int, now: datetime | None = None) -> None:
    """Note that the key was used. The throttle calls this on a key's first request of each
    quota window, so the database is written at most once a minute per key and the hot path
    pays no extra cache round trip for it."""
    ClientKey.objects.filter(pk=key_id).update(last_used_at=now or timezone.now())
