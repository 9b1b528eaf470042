"""``X-Proxy-Admin-Key``: the shared secret that lets staff hand the proxy today's token."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from http import HTTPStatus

from django.conf import settings
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from access import lockout
from access.network import client_ip
from breeze_proxy.errors import ProxyError

ADMIN_KEY_HEADER = "X-Proxy-Admin-Key"


class AdminKeyNotConfigured(ProxyError):
    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "admin_key_not_configured"
    message = (
        "Session administration over HTTP is disabled: BREEZE_PROXY_ADMIN_KEY is not set. "
        "Use the Django admin page or `manage.py breeze_session set` instead."
    )


@dataclass(frozen=True)
class AdminKeyHolder:
    """The principal for a request that presented the right admin key."""

    is_authenticated: bool = True

    def __str__(self) -> str:
        return "admin-key"


class AdminKeyAuthentication(authentication.BaseAuthentication):
    """Constant-time check of ``X-Proxy-Admin-Key`` against the configured key."""

    def authenticate(self, request: Request) -> tuple[AdminKeyHolder, None]:
        configured = settings.BREEZE_PROXY_ADMIN_KEY
        if not configured:
            raise AdminKeyNotConfigured()
        source_ip = client_ip(request)
        lockout.admin_lockout_check(source_ip=source_ip)  # before comparing: no probing
        supplied = request.headers.get(ADMIN_KEY_HEADER, "")
        if not supplied:
            raise exceptions.NotAuthenticated(
                f"Send the admin key in the {ADMIN_KEY_HEADER} header."
            )
        if not hmac.compare_digest(supplied.encode(), configured.encode()):
            lockout.admin_key_failure_record(source_ip=source_ip)
            raise exceptions.AuthenticationFailed(f"The {ADMIN_KEY_HEADER} header is not valid.")
        lockout.admin_key_success_record(source_ip=source_ip)
        return AdminKeyHolder(), None

    def authenticate_header(self, request: Request) -> str:
        return f'{ADMIN_KEY_HEADER} realm="breeze-proxy"'


class IsAdminKeyHolder(permissions.BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.user, AdminKeyHolder)
