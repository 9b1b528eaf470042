"""Who may read the fleet's metrics: the admin key when a request sends it, else the client
key decision (``access.authentication.ClientKeyAuthentication``, with the ``metrics`` scope)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from access.admin_key import ADMIN_KEY_HEADER, AdminKeyAuthentication, AdminKeyHolder


class AdminKeyIfSent(AdminKeyAuthentication):
    """``X-Proxy-Admin-Key`` when the request sends one; otherwise the next class decides."""

    def authenticate(self, request: Request) -> tuple[AdminKeyHolder, None] | None:  # type: ignore[override]
        if not request.headers.get(ADMIN_KEY_HEADER):
            return None
        return super().authenticate(request)


class AdminKeyIfSentScheme(OpenApiAuthenticationExtension):
    """The admin key's header, in the OpenAPI schema (a scheme of its own name: drf-spectacular
    names one class per scheme)."""

    target_class = "monitoring.authentication.AdminKeyIfSent"
    name = "MetricsAdminKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": ADMIN_KEY_HEADER,
            "description": "The proxy's admin key (optional where a client key is sent).",
        }
