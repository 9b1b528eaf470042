"""Lockout for ``X-Proxy-Admin-Key``: too many wrong keys and an address is refused outright.

Failures are counted in Django's cache (shared through Redis), in fixed windows of
``BREEZE_ADMIN_LOCKOUT_WINDOW_S``: per source IP (``BREEZE_ADMIN_LOCKOUT_PER_IP``) and over
all addresses (``BREEZE_ADMIN_LOCKOUT_GLOBAL``, against a guess spread over many addresses).
:func:`admin_lockout_check` runs BEFORE the key is compared, so a locked-out address learns
nothing even from the right key. Past the global limit only addresses that have failed at
least once in the window are refused, so staff on a clean address can still get in.

Every failure is logged as a security event and audited; a lockout is audited once per
address and window (when it starts), and every refused attempt is logged. The key presented
is never logged.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from access.audit import audit_record
from access.errors import AdminLockedOut
from access.models import AuditEvent
from breeze_proxy.shared_cache import count

security_logger = logging.getLogger("access.security")

_GLOBAL = "all"


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the seconds until it ends."""
    size = settings.BREEZE_ADMIN_LOCKOUT_WINDOW_S
    window = int(now // size)
    return window, max(1, math.ceil((window + 1) * size - now))


def _key(who: str, window: int) -> str:
    return f"admin-lockout:{who}:{window}"


def _ip_label(source_ip: str | None) -> str:
    return source_ip or "unknown"


def admin_lockout_check(*, source_ip: str | None, now: float | None = None) -> None:
    """Raise :class:`AdminLockedOut` (429, Retry-After) if ``source_ip`` may not try a key."""
    window, retry_after = _window(now if now is not None else time.time())
    ip_key, global_key = _key(_ip_label(source_ip), window), _key(_GLOBAL, window)
    counts = cache.get_many([ip_key, global_key])
    ip_failures = counts.get(ip_key, 0)
    global_failures = counts.get(global_key, 0)
    per_ip_locked = ip_failures >= settings.BREEZE_ADMIN_LOCKOUT_PER_IP
    global_locked = global_failures >= settings.BREEZE_ADMIN_LOCKOUT_GLOBAL and ip_failures > 0
    if per_ip_locked or global_locked:
        security_logger.warning(
            "security event",
            extra={
                "event": "admin_lockout",
                "source_ip": source_ip,
                "outcome": "refused",
                "scope": "ip" if per_ip_locked else "global",
                "retry_after_s": retry_after,
            },
        )
        raise AdminLockedOut(retry_after=retry_after)


def admin_key_failure_record(*, source_ip: str | None, now: float | None = None) -> None:
    """Count a wrong admin key from ``source_ip``; log, audit, and note a lockout starting."""
    window, _ = _window(now if now is not None else time.time())
    ttl = settings.BREEZE_ADMIN_LOCKOUT_WINDOW_S + 5
    ip_failures = count(_key(_ip_label(source_ip), window), ttl)
    global_failures = count(_key(_GLOBAL, window), ttl)
    _security_event(
        "admin_key_failure",
        AuditEvent.Action.ADMIN_KEY_FAILURE,
        AuditEvent.Outcome.FAILURE,
        source_ip=source_ip,
        details=f"wrong admin key ({ip_failures} from this address in the window)",
        failures=ip_failures,
    )
    for reached, limit, scope in (
        (ip_failures, settings.BREEZE_ADMIN_LOCKOUT_PER_IP, "ip"),
        (global_failures, settings.BREEZE_ADMIN_LOCKOUT_GLOBAL, "global"),
    ):
        if reached == limit:  # exactly once per window: when the lockout starts
            _security_event(
                "admin_lockout",
                AuditEvent.Action.ADMIN_LOCKOUT,
                AuditEvent.Outcome.REFUSED,
                source_ip=source_ip,
                details=f"{scope} lockout after {limit} wrong admin keys",
                scope=scope,
            )


def _security_event(
    event: str, action: str, outcome: str, *, source_ip: str | None, details: str, **extra: Any
) -> None:
    """A security event goes to the log (for alerting) and to the audit trail (for people)."""
    security_logger.warning(
        "security event", extra={"event": event, "source_ip": source_ip, **extra}
    )
    audit_record(
        action=action, actor="admin-api", source_ip=source_ip, outcome=outcome, details=details
    )


def admin_key_success_record(*, source_ip: str | None, now: float | None = None) -> None:
    """The right key from an address that was not locked out: forget its failures."""
    window, _ = _window(now if now is not None else time.time())
    cache.delete(_key(_ip_label(source_ip), window))
