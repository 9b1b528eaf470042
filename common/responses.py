"""Error responses for code that answers before DRF runs (the market front door, middleware)."""

from __future__ import annotations

from django.http import JsonResponse

from breeze.errors import ProxyError


def error_response(exc: ProxyError, headers: dict[str, str] | None = None) -> JsonResponse:
    """The envelope of ``exc`` with its status and headers (Retry-After, WWW-Authenticate)."""
    response = JsonResponse(exc.envelope(), status=exc.status_code)
    for name, value in {**exc.headers(), **(headers or {})}.items():
        response[name] = value
    return response
