"""Every request, counted once under its route's name (never its raw path).

``breeze_proxy.middleware.RequestContextMiddleware`` sees every request, including the ones the
market front door, the probes and static files answer before URL resolution, and calls
:func:`request_observed` after the response is made. The route is the URL pattern's name
(``quotes`` for both ``/breeze/quotes`` and ``/api/breeze/quotes``), found from the resolver's
match when the request went through it, else from a table of the fixed paths of the URL
configuration; every Django admin page is ``admin``, static files ``static``, and a path that
matches nothing ``unmatched``. So the label takes at most as many values as the URL
configuration has names, whatever the callers send.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver

from breeze import telemetry

UNMATCHED = "unmatched"
ADMIN = "admin"
STATIC = "static"


@functools.cache
def fixed_paths() -> dict[str, str]:
    """Path → route name for every pattern without converters (read once)."""
    return dict(_walk(get_resolver().url_patterns, "/", admin=False))


def _walk(patterns: list[Any], prefix: str, *, admin: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for pattern in patterns:
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inside_admin = admin or pattern.app_name == "admin"
            found += _walk(pattern.url_patterns, path, admin=inside_admin)
        elif isinstance(pattern, URLPattern) and "<" not in path and "^" not in path:
            found.append((path, ADMIN if admin else (pattern.name or UNMATCHED)))
    return found


def route_name(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is not None:
        if "admin" in match.namespaces:
            return ADMIN
        return match.url_name or UNMATCHED
    name = fixed_paths().get(request.path_info)
    if name is not None:
        return name
    if request.path_info.startswith(settings.STATIC_URL):
        return STATIC
    return UNMATCHED


def request_observed(request: HttpRequest, response: HttpResponse, started: float) -> None:
    """Record one answered request (``started``: its ``time.perf_counter()`` at arrival)."""
    if not telemetry.enabled():
        return
    telemetry.record_request(
        route_name(request),
        request.method or "",
        response.status_code,
        time.perf_counter() - started,
        response.get("X-Cache", ""),
    )
