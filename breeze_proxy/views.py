"""The liveness probe at ``/``: no database, no upstream, no template, so it answers in
microseconds even while Breeze or the database is down (Cloud Run restarts on failure)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

ENDPOINTS = [
    "GET /breeze/health",
    "POST /breeze/quotes",
    "POST /breeze/depth",
    "POST /breeze/historical",
    "POST /breeze/option-chain",
    "POST /breeze/admin/api-session",
    "GET /api/docs/",
]
_BODY = {
    "status": "ok",
    "service": "breeze-proxy",
    "endpoints": ENDPOINTS,
    "note": "Every /breeze/ path is also served under /api/breeze/.",
}


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_BODY)
