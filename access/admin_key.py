"""The admin key (``BREEZE_PROXY_ADMIN_KEY``): who may hand the proxy today's session.

It is accepted in two places: ``X-Proxy-Admin-Key`` on the session administration endpoints
(:class:`AdminKeyAuthentication`), and ``X-Proxy-Key`` on market calls, where the seed
frontend sends the same value (see ``access.gate``). Both go through :func:`admin_key_verify`,
so the lockout guards the key wherever it is accepted: a locked-out address is refused before
the key is compared, and every wrong key counts.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.conf import settings
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from access import lockout
from breeze.errors import ProxyError
from common.network import client_ip

ADMIN_KEY_HEADER = "X-Proxy-Admin-Key"


class AdminKeyNotConfigured(ProxyError):
    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "admin_key_not_configured"
    message = (
        "Session administration over HTTP is disabled: BREEZE_PROXY_ADMIN_KEY is not set. "
        "Use the Django admin page or `manage.py breeze_session set` instead."
    )


def admin_key_matches(supplied: str) -> bool:
    """Constant-time comparison with the configured key (False when none is configured)."""
    configured = settings.BREEZE_PROXY_ADMIN_KEY
    return bool(configured) and hmac.compare_digest(supplied.encode(), configured.encode())


def admin_key_verify(
    supplied: str, *, source_ip: str | None, counts: dict[str, Any] | None = None
) -> bool:
    """Check ``supplied`` against the admin key behind the lockout: raises
    :class:`~access.errors.AdminLockedOut` for a locked-out address (even with the right key),
    records a failure for a wrong key. ``counts`` are the lockout counters if the caller
    already read them in its own round trip."""
    lockout.admin_lockout_check(source_ip=source_ip, counts=counts)
    if admin_key_matches(supplied):
        lockout.admin_key_success_record(source_ip=source_ip, counts=counts)
        return True
    lockout.admin_key_failure_record(source_ip=source_ip)
    return False


@dataclass(frozen=True)
class AdminKeyHolder:
    """The principal for a request that presented the right admin key."""

    is_authenticated: bool = True

    def __str__(self) -> str:
        return "admin-key"


class AdminKeyAuthentication(authentication.BaseAuthentication):
    """``X-Proxy-Admin-Key`` on the session administration endpoints."""

    def authenticate(self, request: Request) -> tuple[AdminKeyHolder, None]:
        if not settings.BREEZE_PROXY_ADMIN_KEY:
            raise AdminKeyNotConfigured()
        source_ip = client_ip(request)
        supplied = request.headers.get(ADMIN_KEY_HEADER, "")
        if not supplied:
            lockout.admin_lockout_check(source_ip=source_ip)
            raise exceptions.NotAuthenticated(
                f"Send the admin key in the {ADMIN_KEY_HEADER} header."
            )
        if not admin_key_verify(supplied, source_ip=source_ip):
            raise exceptions.AuthenticationFailed(f"The {ADMIN_KEY_HEADER} header is not valid.")
        return AdminKeyHolder(), None

    def authenticate_header(self, request: Request) -> str:
        return f'{ADMIN_KEY_HEADER} realm="breeze-proxy"'


class IsAdminKeyHolder(permissions.BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.user, AdminKeyHolder)
