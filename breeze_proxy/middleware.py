"""Per-request context (a request id on every log line, one access-log line per request) and
request bodies sent in chunks."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

from breeze.errors import envelope
from common.json_logging import request_id_var
from monitoring.routes import request_observed

access_logger = logging.getLogger("breeze_proxy.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _incoming_request_id(request: HttpRequest) -> str:
    """Reuse the caller's id (or Cloud Run's trace id) so one id follows a call across services."""
    meta = request.META
    supplied = meta.get("HTTP_X_REQUEST_ID", "")
    if _SAFE_ID.match(supplied):
        return supplied
    trace = meta.get("HTTP_X_CLOUD_TRACE_CONTEXT", "").split("/", 1)[0]
    if _SAFE_ID.match(trace):
        return trace
    return uuid.uuid4().hex


def _error_code(response: HttpResponse) -> str:
    """The envelope's ``code`` of an error response (errors only: they are small and rare)."""
    if response.status_code < 400:
        return ""
    data = getattr(response, "data", None)  # a DRF response, not rendered to bytes yet
    if isinstance(data, dict):
        return str(data.get("code", ""))
    content = getattr(response, "content", b"")
    if response.get("Content-Type", "").startswith("application/json") and len(content) < 8192:
        try:
            return str(json.loads(content).get("code", ""))
        except (ValueError, AttributeError):
            return ""
    return ""


class RequestContextMiddleware:
    """Outermost middleware: it sees every request, including ones other middleware rejects."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_request_id(request)
        token = request_id_var.set(request_id)
        request.request_id = request_id
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "cache": response.get("X-Cache", ""),
                    "code": _error_code(response),
                },
            )
            request_observed(request, response, started)  # metrics: in memory, no I/O
            return response
        finally:
            request_id_var.reset(token)


class ChunkedBodyMiddleware:
    """Request bodies: one size limit for every endpoint, and chunked bodies read under WSGI.

    * A body sent with ``Transfer-Encoding: chunked`` has no ``Content-Length``, and a WSGI
      request without one reads as empty in Django, so such a body would be silently dropped
      (and the endpoint would answer that a field is missing). This reads it, up to
      ``DATA_UPLOAD_MAX_MEMORY_SIZE``, and hands it on as if its length had been sent.
    * A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``MAX_REQUEST_BYTES``), announced by its
      ``Content-Length`` or found while reading the chunks, is refused here with 413
      ``request_too_large`` before anything reads it. Django would refuse it only when
      ``request.body`` is read, as a ``SuspiciousOperation`` answered 400 where middleware
      (the market front door) reads it first.
    * A chunked body that cannot be read (broken framing, or a client that stopped sending
      it) is answered 400 ``bad_request`` (408 ``request_timeout`` when the server's read
      deadline ran out) instead of failing inside a view.

    It sits right after the request context, before everything that reads the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = meta.get("CONTENT_LENGTH")
        if declared:
            if limit is not None and declared.isdigit() and int(declared) > limit:
                return _too_large()
        elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and "wsgi.input" in meta:
            try:
                data = meta["wsgi.input"].read(-1 if limit is None else limit + 1)
            except TimeoutError:
                return _unreadable(HTTPStatus.REQUEST_TIMEOUT, code="request_timeout")
            except Exception:  # gunicorn's chunk parser raises its own errors, OSError too
                return _unreadable(HTTPStatus.BAD_REQUEST, code="bad_request")
            if limit is not None and len(data) > limit:
                return _too_large()
            meta["CONTENT_LENGTH"] = str(len(data))
            request._body = data  # what HttpRequest.body returns from now on
            request._stream = LimitedStream(io.BytesIO(data), len(data))
        return self.get_response(request)


def _too_large() -> JsonResponse:
    body = envelope(
        f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        code="request_too_large",
    )
    return JsonResponse(body, status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


def _unreadable(status: HTTPStatus, *, code: str) -> JsonResponse:
    body = envelope("The request body could not be read.", code=code)
    return JsonResponse(body, status=status)
