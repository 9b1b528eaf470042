"""Responses for code that answers before most middleware runs (the market front door): they
carry what Django's common and clickjacking middleware would have added, so a response looks
the same whichever way it was made."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpResponse, JsonResponse

from breeze.errors import ProxyError

R = TypeVar("R", bound=HttpResponse)


def finished(response: R, headers: dict[str, str] | None = None) -> R:
    for name, value in (headers or {}).items():
        response[name] = value
    response["Content-Length"] = str(len(response.content))
    response["X-Frame-Options"] = "DENY"
    return response


def error_response(exc: ProxyError, headers: dict[str, str] | None = None) -> JsonResponse:
    """The envelope of ``exc`` with its status and headers (Retry-After, WWW-Authenticate)."""
    response = JsonResponse(exc.envelope(), status=exc.status_code)
    return finished(response, {**exc.headers(), **(headers or {})})
