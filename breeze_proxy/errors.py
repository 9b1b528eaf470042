"""The one error envelope every failure leaves the proxy in.

``{"error": ..., "message": ..., "details": ..., "code": ...}``: the frontend reads ``message``,
the main backend reads ``error``, scripts switch on ``code``. Application code raises a
:class:`~breeze.errors.ProxyError` subclass (or lets DRF raise its own exceptions); this module
turns either into a response for DRF views and Django's error handlers, so the status codes of
DESIGN.md live here and in the exception classes, nowhere else.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from breeze.errors import ProxyError, envelope

logger = logging.getLogger(__name__)


_DRF_CODES: dict[type[drf_exceptions.APIException], tuple[str, str]] = {
    drf_exceptions.ParseError: ("malformed_request", "The request body is not valid JSON."),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", ""),
    drf_exceptions.NotAuthenticated: ("authentication_required", ""),
    drf_exceptions.PermissionDenied: ("permission_denied", ""),
    drf_exceptions.NotFound: ("not_found", ""),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", ""),
    drf_exceptions.NotAcceptable: ("not_acceptable", ""),
    drf_exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "Send the request body as JSON with Content-Type: application/json.",
    ),
    drf_exceptions.Throttled: ("rate_limited", ""),
}


def _drf_response(exc: drf_exceptions.APIException) -> Response:
    if isinstance(exc, drf_exceptions.ValidationError):
        details = exc.detail
        message = _first_validation_message(details)
        body = envelope(message, code="invalid_request", details=details)
        return Response(body, status=HTTPStatus.BAD_REQUEST)
    code, message = "request_failed", ""
    for cls, (mapped_code, mapped_message) in _DRF_CODES.items():
        if isinstance(exc, cls):
            code, message = mapped_code, mapped_message
            break
    details = str(exc.detail) if message and str(exc.detail) != message else None
    message = message or str(exc.detail)
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    body = envelope(message, code=code, details=details)
    return Response(body, status=exc.status_code, headers=headers)


def _first_validation_message(detail: Any, prefix: str = "") -> str:
    """A one-line summary of a DRF validation error such as ``stock_code: required``."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = "" if key == "non_field_errors" else f"{prefix}{key}"
            return _first_validation_message(value, f"{label}: " if label else "")
    if isinstance(detail, list) and detail:
        return _first_validation_message(detail[0], prefix)
    return f"{prefix}{detail}" if detail else "The request is not valid."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error raised in a view becomes the envelope."""
    if isinstance(exc, ProxyError):
        body = envelope(exc.message, code=exc.code, details=exc.details)
        return Response(body, status=exc.status_code, headers=exc.headers())
    if isinstance(exc, RequestDataTooBig):
        body = envelope("The request body is too large.", code="request_too_large")
        return Response(body, status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return Response(
            envelope("The request was refused.", code="bad_request"), status=HTTPStatus.BAD_REQUEST
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, drf_exceptions.APIException):
        view = context.get("view")
        request = context.get("request")
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            header = view.get_authenticate_header(request) if view and request else None
            exc.auth_header = header
            if header is None:
                exc.status_code = HTTPStatus.FORBIDDEN
        return _drf_response(exc)
    if isinstance(exc, DatabaseError):
        # Down, unreachable or not migrated yet (an instance may start before the migration
        # job has run): the caller can retry, so it is the proxy's unavailability, not a bug.
        logger.error("database unavailable", extra={"error_type": type(exc).__name__})
        body = envelope(
            "The proxy's database is unavailable; try again shortly.", code="database_unavailable"
        )
        return Response(body, status=HTTPStatus.SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    body = envelope("The proxy hit an internal error.", code="internal_error")
    return Response(body, status=HTTPStatus.INTERNAL_SERVER_ERROR)


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    body = envelope(f"No endpoint at {request.path}.", code="not_found")
    return JsonResponse(body, status=HTTPStatus.NOT_FOUND)


def json_server_error(request: HttpRequest) -> JsonResponse:
    body = envelope("The proxy hit an internal error.", code="internal_error")
    return JsonResponse(body, status=HTTPStatus.INTERNAL_SERVER_ERROR)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    body = envelope("The request could not be understood.", code="bad_request")
    return JsonResponse(body, status=HTTPStatus.BAD_REQUEST)


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    body = envelope("Forbidden.", code="permission_denied")
    return JsonResponse(body, status=HTTPStatus.FORBIDDEN)
