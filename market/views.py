"""Market-data endpoints: validate, call one service, respond. No error handling here: every
failure propagates to ``breeze_proxy.errors.exception_handler``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http.response import HttpResponseBase
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import ClientKeyAuthentication
from access.keys import KEY_HEADER
from access.permissions import HasClientScope
from access.selectors import hot_reads
from access.throttles import ClientKeyThrottle, RateLimitHeadersMixin
from breeze_proxy.schema import error_responses
from breeze_proxy.shared_cache import prefetch, prefetched
from market import ready, services
from market import serializers as shapes
from market.batch import quotes_batch
from market.gateway.errors import SessionMissing
from sessions_admin.selectors import (
    LIVE_SESSION_CACHE_KEY,
    LiveSession,
    breeze_session_get_live_with,
    breeze_session_status,
)

_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 429, 502, 503, 504)


def _respond(answer: services.MarketAnswer) -> Response:
    response = Response(answer.body())
    response["X-Cache"] = "miss" if answer.cache == "miss" else "hit"
    response["Age"] = str(answer.age_s)
    return response


class _MarketViewSet(RateLimitHeadersMixin, viewsets.ViewSet):
    authentication_classes = [ClientKeyAuthentication]
    permission_classes = [HasClientScope]
    throttle_classes = [ClientKeyThrottle]
    request_serializer: type[serializers.Serializer]
    required_scope: str  # the client-key scope that opens the endpoint (access.permissions)
    operation: str

    def get_serializer(self, *args: Any, **kwargs: Any) -> serializers.Serializer:
        # Gives the browsable API a form for the POST body.
        return self.request_serializer(*args, **kwargs)

    def _validated(self, request: Request) -> dict[str, Any]:
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    # The service that answers this endpoint: ``service(params=..., session=...)``.
    service: Callable[..., services.MarketAnswer]

    def _answer(
        self, params: dict[str, Any], session: LiveSession | None = None
    ) -> services.MarketAnswer:
        return self.service(params=params, session=session)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Before DRF authenticates and throttles: one round trip to the shared cache reads the
        client key's record, counts its quota, and reads the live session and ready answer."""
        self.ready_key = ready.key(self.operation, request.body)
        gets, counters = hot_reads(request.headers.get(KEY_HEADER, ""), now=time.time())
        prefetch(request, [LIVE_SESSION_CACHE_KEY, self.ready_key, *gets], counters)
        super().initial(request, *args, **kwargs)

    def create(self, request: Request) -> HttpResponseBase:
        if request.accepted_renderer.format != "json":  # the browsable API renders normally
            return _respond(self._answer(self._validated(request)))
        session, found = breeze_session_get_live_with(
            [self.ready_key], prefetched=prefetched(request)
        )
        if session is None:
            raise SessionMissing()
        ready_response = ready.response_from(found, self.ready_key, session.id)
        if ready_response is not None:
            return ready_response
        answer = self._answer(self._validated(request), session)
        return ready.keep(self.ready_key, session.id, answer)


def _market_schema(request: type, response: type, summary: str) -> Any:
    return extend_schema_view(
        create=extend_schema(request=request, responses={200: response, **_ERRORS}, summary=summary)
    )


@_market_schema(shapes.QuoteRequestSerializer, shapes.QuoteResponseSerializer, "Quote")
class QuoteViewSet(_MarketViewSet):
    """Quote for one instrument: the NSE row and the BSE (or "NA") row, as Breeze sends them."""

    request_serializer = shapes.QuoteRequestSerializer
    required_scope = "quotes"
    operation = "quotes"
    service = staticmethod(services.quote_get)


@_market_schema(shapes.QuoteRequestSerializer, shapes.DepthResponseSerializer, "Best bid and offer")
class DepthViewSet(_MarketViewSet):
    """Best bid and offer. Breeze's REST API has no deeper book (five levels are websocket-only)."""

    request_serializer = shapes.QuoteRequestSerializer
    required_scope = "depth"
    operation = "depth"
    service = staticmethod(services.depth_get)


@_market_schema(
    shapes.HistoricalRequestSerializer, shapes.HistoricalResponseSerializer, "Historical candles"
)
class HistoricalViewSet(_MarketViewSet):
    """Candles from Breeze's v2 history (at most 1000 per call, the newest ending at to_date)."""

    request_serializer = shapes.HistoricalRequestSerializer
    required_scope = "historical"
    operation = "historical"
    service = staticmethod(services.historical_candles_list)


@_market_schema(
    shapes.OptionChainRequestSerializer, shapes.OptionChainResponseSerializer, "Option chain"
)
class OptionChainViewSet(_MarketViewSet):
    """Every strike of one expiry and side (or one strike), with open interest."""

    request_serializer = shapes.OptionChainRequestSerializer
    required_scope = "option_chain"
    operation = "option_chain"
    service = staticmethod(services.option_chain_get)


class BatchQuoteViewSet(_MarketViewSet):
    """Up to 50 quotes in one call; each item carries its own status, so one bad symbol does
    not fail the batch. Duplicates are fetched once and cached quotes come from the cache."""

    request_serializer = shapes.BatchQuoteRequestSerializer
    operation = "quotes_batch"
    required_scope = "batch"

    @extend_schema(
        request=shapes.BatchQuoteRequestSerializer,
        responses={200: shapes.BatchQuoteResponseSerializer, **_ERRORS},
        summary="Batch quotes",
    )
    def create(self, request: Request) -> HttpResponseBase:
        instruments = self._validated(request)["instruments"]
        return Response({"results": quotes_batch(instruments=instruments)})


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    session_active = serializers.BooleanField()
    session_valid = serializers.BooleanField()
    session_status = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.IntegerField()
    upstream = serializers.CharField()
    sandbox = serializers.BooleanField()
    version = serializers.CharField()


class HealthView(APIView):
    """Readiness for people and dashboards: reads the session state, never calls Breeze."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(responses={200: HealthSerializer}, summary="Proxy and session health")
    def get(self, request: Request) -> Response:
        state = breeze_session_status()
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
            }
        )
