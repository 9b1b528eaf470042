"""The staff dashboard in the Django admin (``/admin/dashboard/``, staff only): the session with
a countdown to its expiry and the activation form one click away, the budget as gauges, the
last hour's requests, errors and latency as server-drawn SVG charts, the breaker, the stream
and the live instances. The page refreshes itself (``<meta http-equiv="refresh">``); the one
script it loads, from the app's own static files, only ticks the countdown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from monitoring import charts
from monitoring.selectors import fleet_metrics_get

MIN_REFRESH_S = 2
MAX_REFRESH_S = 3600
REQUESTS_COLOUR = "#1565c0"
P95_COLOUR = "#6a1b9a"


def refresh_seconds(request: HttpRequest) -> int:
    """``?refresh=N`` (bounded), else ``BREEZE_DASHBOARD_REFRESH_S``."""
    try:
        wanted = int(request.GET.get("refresh", settings.BREEZE_DASHBOARD_REFRESH_S))
    except ValueError:
        wanted = settings.BREEZE_DASHBOARD_REFRESH_S
    return max(MIN_REFRESH_S, min(MAX_REFRESH_S, wanted))


def countdown_text(seconds: int) -> str:
    """``4h 05m 09s``: what the page's script shows too, second by second."""
    if seconds <= 0:
        return "expired"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m {seconds % 60:02d}s"


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _charts(timeline: list[dict[str, Any]]) -> dict[str, Any]:
    requests = [point["requests"] for point in timeline]
    return {
        "requests": charts.bar_chart(
            "Requests per minute, last hour", [(requests, REQUESTS_COLOUR)]
        ),
        "errors": charts.bar_chart(
            "4xx and 5xx answers per minute, last hour",
            [
                ([point["4xx"] for point in timeline], charts.WARN),
                ([point["5xx"] for point in timeline], charts.BAD),
            ],
        ),
        "latency": charts.line_chart(
            "Latency p50 and p95 per minute, last hour (ms)",
            [
                ([point["p50_ms"] for point in timeline], REQUESTS_COLOUR),
                ([point["p95_ms"] for point in timeline], P95_COLOUR),
            ],
            unit="ms",
        ),
        "upstream": charts.bar_chart(
            "Breeze calls per minute, last hour",
            [([point["upstream_calls"] for point in timeline], charts.OK)],
        ),
    }


def staff_dashboard(request: HttpRequest) -> HttpResponse:
    figures = fleet_metrics_get()
    budget = figures["budget"]
    gauges = []
    if "minute" in budget:
        gauges = [
            (
                "Last 60 seconds",
                charts.gauge(
                    "Breeze calls in the last minute",
                    budget["minute"]["used"],
                    budget["minute"]["limit"],
                ),
            ),
            (
                "Today (IST)",
                charts.gauge(
                    "Breeze calls today (IST)", budget["day"]["used"], budget["day"]["limit"]
                ),
            ),
        ]
    session = figures["session"]
    endpoints = figures["windows"]["5m"]["endpoints"]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        "session": session,
        "countdown": countdown_text(int(session.get("seconds_left") or 0))
        if session.get("active")
        else "no live session",
        "activate_url": _url("admin:sessions_admin_breezesession_add"),
        "sessions_url": _url("admin:sessions_admin_breezesession_changelist"),
        "gauges": gauges,
        "charts": _charts(figures["timeline"]),
        "endpoints": sorted(endpoints.items(), key=lambda item: -item[1]["count"]),
        "last5": figures["windows"]["5m"],
        "last60": figures["windows"]["60m"],
        "refresh_s": refresh_seconds(request),
    }
    return TemplateResponse(request, "monitoring/dashboard.html", context)
