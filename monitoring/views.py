"""``GET /metrics`` (Prometheus, behind a bearer token) and ``GET /breeze/metrics`` (the fleet's
figures as JSON, for the admin key or a client key with the ``metrics`` scope)."""

from __future__ import annotations

import hmac
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import ClientKeyAuthentication, RateLimitHeadersMixin
from breeze.errors import ProxyError, envelope
from common.responses import error_response
from common.schema import error_responses
from monitoring import errors
from monitoring.authentication import AdminKeyIfSent
from monitoring.exposition import CONTENT_TYPE, exposition
from monitoring.selectors import fleet_metrics_get


def metrics_refusal(request: HttpRequest) -> ProxyError | None:
    """Why ``request`` may not read ``/metrics`` (None: it may).

    With ``METRICS_TOKEN`` set, ``Authorization: Bearer <token>`` is required (compared in
    constant time). Without one, the exposition is open on the embedded default (the sandbox or
    ``DEBUG``) and closed in production."""
    token = settings.METRICS_TOKEN
    if not token:
        if settings.DEBUG or settings.BREEZE_SANDBOX:
            return None
        return errors.MetricsNotConfigured()
    scheme, _, supplied = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    supplied = supplied.strip()
    if scheme.lower() != "bearer" or not supplied:
        return errors.MetricsTokenRequired()
    if not hmac.compare_digest(supplied.encode(), token.encode()):
        return errors.MetricsTokenInvalid()
    return None


def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        body = envelope("Only GET is allowed here.", code="method_not_allowed")
        response = JsonResponse(body, status=HTTPStatus.METHOD_NOT_ALLOWED)
        response["Allow"] = "GET, HEAD"
        return response
    refusal = metrics_refusal(request)
    if refusal is not None:
        return error_response(refusal)
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response


class FleetMetricsView(RateLimitHeadersMixin, APIView):
    """The whole fleet's figures: request rates, latency percentiles per endpoint over the last
    5 and 60 minutes, error rates, budget, cache, upstream calls, session, instances, stream."""

    authentication_classes = [AdminKeyIfSent, ClientKeyAuthentication]
    permission_classes: list = []  # the admin key, or the access decision with the scope
    throttle_classes: list = []
    required_scope = "metrics"

    @extend_schema(
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The fleet's figures"),
            **error_responses(401, 403, 429),
        },
        summary="Fleet metrics",
    )
    def get(self, request: Request) -> Response:
        response = Response(fleet_metrics_get())
        response["Cache-Control"] = "no-store"
        return response
