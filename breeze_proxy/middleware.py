"""Per-request context: a request id on every log line and one access-log line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from breeze_proxy.json_logging import request_id_var

access_logger = logging.getLogger("breeze_proxy.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _incoming_request_id(request: HttpRequest) -> str:
    """Reuse the caller's id (or Cloud Run's trace id) so one id follows a call across services."""
    supplied = request.headers.get("X-Request-ID", "")
    if _SAFE_ID.match(supplied):
        return supplied
    trace = request.headers.get("X-Cloud-Trace-Context", "").split("/", 1)[0]
    if _SAFE_ID.match(trace):
        return trace
    return uuid.uuid4().hex


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
                },
            )
            return response
        finally:
            request_id_var.reset(token)
