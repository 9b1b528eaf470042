"""Market-data endpoints: validate, call one service, respond. No error handling here: every
failure propagates to ``breeze_proxy.errors.exception_handler``. JSON requests usually arrive
through ``market.front_door``, which has already decided access and found the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import ClientKeyAuthentication, RateLimitHeadersMixin
from common import health
from common.schema import error_responses
from instruments import resolver
from market import serializers as shapes
from market import services
from market.batch import quotes_batch
from market.front_door import query_of, session_of
from market.history import streaming
from market.history.service import history_get
from market.rendering import answer_data, answer_response, names_of
from sessions_admin.selectors import breeze_session_status_cached

_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 429, 502, 503, 504)


class _MarketViewSet(RateLimitHeadersMixin, viewsets.ViewSet):
    authentication_classes = [ClientKeyAuthentication]
    permission_classes: list = []  # the access decision covers the scope (access.gate)
    throttle_classes: list = []  # ... and the quota
    request_serializer: type[serializers.Serializer]
    required_scope: str  # the client-key scope that opens the endpoint
    # The service that answers this endpoint: ``service(query=..., session=..., account=...)``.
    service: Callable[..., services.MarketAnswer]

    def get_serializer(self, *args: Any, **kwargs: Any) -> serializers.Serializer:
        # Gives the browsable API a form for the POST body.
        return self.request_serializer(*args, **kwargs)

    def _validated(self, request: Request) -> Any:
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer

    def _session(self, request: Request) -> services.LiveSession:
        return session_of(request._request) or services.live_session()

    def create(self, request: Request) -> HttpResponseBase:
        query = query_of(request._request) or self._validated(request).query
        answer = self.service(
            query=query, session=self._session(request), account=request.user.account
        )
        if request.accepted_renderer.format != "json":  # the browsable API renders data
            return Response(answer_data(answer, query))
        return answer_response(answer, query)


def _market_schema(request: type, response: type, summary: str) -> Any:
    return extend_schema_view(
        create=extend_schema(request=request, responses={200: response, **_ERRORS}, summary=summary)
    )


@_market_schema(shapes.QuoteRequestSerializer, shapes.QuoteResponseSerializer, "Quote")
class QuoteViewSet(_MarketViewSet):
    """Quote for one instrument: the NSE row and the BSE (or "NA") row, as Breeze sends them."""

    request_serializer = shapes.QuoteRequestSerializer
    required_scope = "quotes"
    service = staticmethod(services.quote_get)


@_market_schema(shapes.QuoteRequestSerializer, shapes.DepthResponseSerializer, "Best bid and offer")
class DepthViewSet(_MarketViewSet):
    """Best bid and offer (Breeze's REST quote has no deeper book); five levels while the live
    feed carries the instrument's depth."""

    request_serializer = shapes.QuoteRequestSerializer
    required_scope = "depth"
    service = staticmethod(services.depth_get)


@extend_schema_view(
    create=extend_schema(
        request=shapes.HistoricalRequestSerializer,
        responses={
            (200, "application/json"): shapes.HistoricalResponseSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="datetime,stock_code,exchange_code,open,high,low,close,volume,"
                "open_interest — one candle per line, oldest first (Accept: text/csv or "
                "?format=csv); the X-History-* headers carry complete, from, to, next_to_date.",
            ),
            **_ERRORS,
        },
        summary="Historical candles",
    )
)
class HistoricalViewSet(_MarketViewSet):
    """Candles of any range: closed candles from the store, the rest from Breeze in pages of
    1000 (at most BREEZE_HISTORY_MAX_CALLS calls per request; ``complete`` and
    ``next_to_date`` say where to continue). JSON by default, CSV with ``Accept: text/csv`` or
    ``?format=csv``; both are streamed."""

    request_serializer = shapes.HistoricalRequestSerializer
    required_scope = "historical"
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, streaming.CSVRenderer]

    def create(self, request: Request) -> HttpResponseBase:
        query = query_of(request._request) or self._validated(request).query
        answer = history_get(
            query=query, session=self._session(request), account=request.user.account
        )
        fmt = request.accepted_renderer.format
        if fmt == "csv":
            return streaming.csv_response(answer)
        if fmt != "json":  # the browsable API renders data
            return Response({"Success": list(answer.rows()), **names_of(query), **answer.meta()})
        return streaming.json_response(answer)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(response, Response) and renderer is not None and renderer.format == "csv":
            # An error asked for as CSV is still the JSON envelope.
            request.accepted_renderer, request.accepted_media_type = (
                JSONRenderer(),
                "application/json",
            )
        return super().finalize_response(request, response, *args, **kwargs)


@_market_schema(
    shapes.OptionChainRequestSerializer, shapes.OptionChainResponseSerializer, "Option chain"
)
class OptionChainViewSet(_MarketViewSet):
    """Every strike of one expiry and side (or one strike), with open interest."""

    request_serializer = shapes.OptionChainRequestSerializer
    required_scope = "option_chain"
    service = staticmethod(services.option_chain_get)


class BatchQuoteViewSet(_MarketViewSet):
    """Up to 50 quotes in one call; each item carries its own status, so one bad symbol does
    not fail the batch. Duplicates are fetched once and cached quotes come from the cache."""

    request_serializer = shapes.BatchQuoteRequestSerializer
    required_scope = "batch"

    @extend_schema(
        request=shapes.BatchQuoteRequestSerializer,
        responses={200: shapes.BatchQuoteResponseSerializer, **_ERRORS},
        summary="Batch quotes",
    )
    def create(self, request: Request) -> HttpResponseBase:
        instruments = self._validated(request).validated_data["instruments"]
        results = quotes_batch(
            instruments=instruments,
            session=self._session(request),  # no session: one 401, not fifty
            account=request.user.account,
        )
        response = Response({"results": results})
        response["X-Upstream-Calls"] = str(sum(item.pop("upstream_calls", 0) for item in results))
        return response


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    session_active = serializers.BooleanField()
    session_valid = serializers.BooleanField()
    session_status = serializers.CharField()
    expires_at = serializers.CharField(allow_null=True, help_text="ISO 8601, IST offset.")
    seconds_left = serializers.IntegerField(min_value=0)
    upstream = serializers.CharField()
    sandbox = serializers.BooleanField()
    version = serializers.CharField()
    instruments = serializers.DictField(
        help_text="The SecurityMaster in use: loaded, version, loaded_at, age_s, stale, rows."
    )
    stream = serializers.DictField(
        required=False,
        help_text="The live stream: running, leader, feed (live, connecting, reconnecting, "
        "stale, session_expired, idle, electing, down), tokens, clients, instances.",
    )


class HealthView(APIView):
    """Readiness for people and dashboards: the session state (from the store for up to two
    seconds, so probes cost no query), never a call to Breeze."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(responses={200: HealthSerializer}, summary="Proxy and session health")
    def get(self, request: Request) -> Response:
        state = breeze_session_status_cached()
        return Response(
            {
                "status": "ok",
                "session_active": state["session_active"],
                "session_valid": state["session_valid"],
                "session_status": state["status"],
                "expires_at": state["expires_at"],
                "seconds_left": state["seconds_left"],
                "upstream": "simulator" if settings.BREEZE_SANDBOX else "breeze",
                "sandbox": settings.BREEZE_SANDBOX,
                "version": settings.VERSION,
                "instruments": resolver.summary(),
                **health.sections(),
            }
        )
