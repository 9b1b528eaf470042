"""Cloud Run's startup and liveness probes, answered before Django checks the Host header.

A probe reaches the container directly, naming the container's own address (or none) as its
Host, which ``ALLOWED_HOSTS`` (the service's public names) rightly refuses: CommonMiddleware
would answer 400 and Cloud Run would keep restarting a healthy instance. ``GET /`` and
``GET /breeze/health`` build nothing from the Host (no links, no redirects), so they are served
here for any Host, by the same views as always; every other path still goes through the
ordinary host validation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

PROBE_PATHS = frozenset({"/", "/breeze/health", "/api/breeze/health"})


class ProbeMiddleware:
    """Serves the probe paths directly; sits after CORS (browsers read health too) and before
    CommonMiddleware, the first middleware that validates the Host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:  # the path is not routed in this configuration
            return self.get_response(request)
        response = match.func(request, *match.args, **match.kwargs)
        render = getattr(response, "render", None)
        if callable(render):  # a DRF Response renders itself only when asked
            response = render()
        return response
