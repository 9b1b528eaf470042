"""Lockout for the admin key: too many wrong keys and an address (or everyone) is refused.

Failures are counted in the shared store in fixed windows of ``BREEZE_ADMIN_LOCKOUT_WINDOW_S``:
per source address (``BREEZE_ADMIN_LOCKOUT_PER_IP``) and over all addresses
(``BREEZE_ADMIN_LOCKOUT_GLOBAL``, against a guess spread over many addresses — once it is
reached every address is refused, and staff use the Django admin or the command instead).

The decision is hard: a wrong key is counted first and then judged by the count it got
(Redis ``INCR``, atomic), so of any number of parallel wrong keys exactly the limit are
answered 401 and the rest 429, however they interleave. A right key is only let through if
its address is not locked out, so a locked-out address learns nothing from any key.

Every counted failure is logged as a security event and audited; a lockout is audited once
per address and window (when it starts), and every refused attempt is logged. The key
presented is never logged.
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
from breeze import store

security_logger = logging.getLogger("access.security")

_GLOBAL = "all"


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the seconds until it ends."""
    size = settings.BREEZE_ADMIN_LOCKOUT_WINDOW_S
    window = int(now // size)
    return window, max(1, math.ceil((window + 1) * size - now))


def _key(who: str, window: int) -> str:
    return f"admin-lockout:{who}:{window}"


def counter_keys(source_ip: str | None, now: float | None = None) -> tuple[str, str]:
    """The failure counters that decide ``source_ip``'s lockout now: the address's and
    everyone's (callers read them in their own round trip and pass them back as ``counts``)."""
    window, _ = _window(now if now is not None else time.time())
    return _key(source_ip or "unknown", window), _key(_GLOBAL, window)


def _refuse(source_ip: str | None, scope: str, retry_after: int) -> AdminLockedOut:
    security_logger.warning(
        "security event",
        extra={
            "event": "admin_lockout",
            "source_ip": source_ip,
            "outcome": "refused",
            "scope": scope,
            "retry_after_s": retry_after,
        },
    )
    return AdminLockedOut(retry_after=retry_after)


def _locked_scope(ip_failures: int, global_failures: int) -> str | None:
    if ip_failures >= settings.BREEZE_ADMIN_LOCKOUT_PER_IP:
        return "ip"
    if global_failures >= settings.BREEZE_ADMIN_LOCKOUT_GLOBAL:
        return "global"
    return None


def admin_lockout_check(
    *, source_ip: str | None, counts: dict[str, Any] | None = None, now: float | None = None
) -> None:
    """Raise :class:`AdminLockedOut` (429, Retry-After) if ``source_ip`` may not use the admin
    key now. ``counts``: the counters of :func:`counter_keys` as already read, if they were."""
    now = now if now is not None else time.time()
    _, retry_after = _window(now)
    ip_key, global_key = counter_keys(source_ip, now)
    if counts is None or (ip_key not in counts and global_key not in counts):
        counts = cache.get_many([ip_key, global_key])
    scope = _locked_scope(int(counts.get(ip_key) or 0), int(counts.get(global_key) or 0))
    if scope is not None:
        raise _refuse(source_ip, scope, retry_after)


def admin_key_failure_record(*, source_ip: str | None, now: float | None = None) -> None:
    """Count a wrong admin key from ``source_ip``, then decide on the counts it got: raise
    :class:`AdminLockedOut` past a limit; otherwise log and audit the failure."""
    now = now if now is not None else time.time()
    _, retry_after = _window(now)
    ttl = settings.BREEZE_ADMIN_LOCKOUT_WINDOW_S + 5
    ip_key, global_key = counter_keys(source_ip, now)
    _, (ip_failures, global_failures) = store.exchange(counters=[(ip_key, ttl), (global_key, ttl)])
    per_ip, overall = settings.BREEZE_ADMIN_LOCKOUT_PER_IP, settings.BREEZE_ADMIN_LOCKOUT_GLOBAL
    if ip_failures > per_ip or global_failures > overall:
        raise _refuse(source_ip, "ip" if ip_failures > per_ip else "global", retry_after)
    _security_event(
        "admin_key_failure",
        AuditEvent.Action.ADMIN_KEY_FAILURE,
        AuditEvent.Outcome.FAILURE,
        source_ip=source_ip,
        details=f"wrong admin key ({ip_failures} from this address in the window)",
        failures=ip_failures,
    )
    for reached, limit, scope in (
        (ip_failures, per_ip, "ip"),
        (global_failures, overall, "global"),
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


def admin_key_success_record(
    *, source_ip: str | None, counts: dict[str, Any] | None = None, now: float | None = None
) -> None:
    """The right key from an address that was not locked out: forget its failures (a write
    only when there is something to forget)."""
    ip_key, _ = counter_keys(source_ip, now)
    if counts is not None and not counts.get(ip_key):
        return
    cache.delete(ip_key)
