"""``audit_record``: one row per security-relevant event. Never raises: an audit write that
fails is logged, and the request that caused it carries on."""

from __future__ import annotations

import ipaddress
import logging

from django.db import transaction

from access.models import AuditEvent

logger = logging.getLogger(__name__)


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def audit_record(
    *,
    action: str,
    actor: str,
    source_ip: str | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    details: str = "",
) -> None:
    """Record ``action``. ``details`` is a short description and must never hold a secret."""
    try:
        # A savepoint: a failed insert must not break the caller's transaction either.
        with transaction.atomic():
            AuditEvent.objects.create(
                action=action,
                actor=(actor or "")[:150],
                source_ip=_ip_or_none(source_ip),
                outcome=outcome,
                details=(details or "")[:500],
            )
    except Exception:
        logger.exception("audit record failed", extra={"audit_action": action})
