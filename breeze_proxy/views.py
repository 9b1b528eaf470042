"""The liveness probe at ``/``: no database, no upstream, no template, so it answers in
microseconds even while Breeze or the database is down (Cloud Run restarts on failure). It
lists every endpoint, read once from the URL configuration so the list cannot fall behind."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularSwaggerView

_METHODS = ("get", "post", "put", "patch", "delete")


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset: the methods it was routed with (not the HEAD DRF adds)
        return sorted(m.upper() for m in actions if m not in ("head", "options"))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return [m.upper() for m in _METHODS if hasattr(view_class, m)]
    return ["GET"]


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith(("admin/", "api/breeze/")):
                continue  # Django's admin pages; the /api/breeze/ copies of /breeze/
            found += _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found += [f"{method} /{route}" for method in _methods(pattern.callback)]
    return found


@functools.cache
def _body() -> dict[str, Any]:
    endpoints = [line for line in _walk(get_resolver().url_patterns) if line != "GET /"]
    return {
        "status": "ok",
        "service": "breeze-proxy",
        "endpoints": endpoints,
        "note": "Every /breeze/ path is also served under /api/breeze/."
        + (" The Django admin is at /admin/." if settings.BREEZE_ADMIN_SITE_ENABLED else ""),
    }


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_body())


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI; OPTIONS answers the allowed methods (DRF's default would render the page's
    template as metadata and fail)."""

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(headers={"Allow": "GET, HEAD, OPTIONS"})
