"""The instrument endpoints: search, one instrument, expiries and strikes (scope
``instruments``). Searches are kept in the shared store for a minute per master version."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import ClientKeyAuthentication, RateLimitHeadersMixin
from common.schema import error_responses
from instruments import resolver, selectors
from instruments import serializers as shapes

SEARCH_TTL_S = 60
_ERRORS = error_responses(400, 401, 403, 404, 429, 503)


class _InstrumentView(RateLimitHeadersMixin, APIView):
    authentication_classes = [ClientKeyAuthentication]
    permission_classes: list = []
    required_scope = "instruments"

    def _params(self, serializer: type, request: Request) -> dict[str, Any]:
        params = serializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)


class InstrumentSearchView(_InstrumentView):
    @extend_schema(
        parameters=[shapes.SearchParams],
        responses={200: shapes.SearchResultSerializer, **_ERRORS},
        summary="Search instruments by symbol, Breeze code, company name or ISIN",
    )
    def get(self, request: Request) -> Response:
        params = self._params(shapes.SearchParams, request)
        canonical = json.dumps({**params, "v": resolver.version_id()}, sort_keys=True)
        key = f"instruments:search:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
        results = cache.get(key)
        if results is None:
            found = selectors.instrument_search(
                q=params["q"],
                exchange=params.get("exchange"),
                kind=params.get("type"),
                limit=params["limit"],
            )
            results = [selectors.instrument_data(row) for row in found]
            cache.set(key, results, SEARCH_TTL_S)
        return Response({"results": results})


class _DetailSchema(AutoSchema):
    """Names the operation ``..._detail``: its path, without parameters, is the search's."""

    def get_operation_id(self) -> str:
        return super().get_operation_id().replace("_retrieve", "_detail")


class InstrumentDetailView(_InstrumentView):
    schema = _DetailSchema()

    @extend_schema(
        responses={200: shapes.InstrumentDetailSerializer, **_ERRORS},
        summary="One instrument by exchange and symbol or Breeze code",
    )
    def get(self, request: Request, exchange: str, text: str) -> Response:
        return Response(selectors.instrument_get(exchange=exchange.upper(), text=text))


class ExpiriesView(_InstrumentView):
    @extend_schema(
        parameters=[shapes.ExpiriesParams],
        responses={200: shapes.ExpiriesSerializer, **_ERRORS},
        summary="The expiries listed for an underlying on NFO or BFO",
    )
    def get(self, request: Request) -> Response:
        params = self._params(shapes.ExpiriesParams, request)
        found, days = selectors.instrument_expiries(
            exchange=params["exchange"], text=params["symbol"]
        )
        kinds = selectors.expiry_kinds(days)
        return Response(
            {
                "exchange": params["exchange"],
                "symbol": found.symbol,
                "stock_code": found.stock_code,
                "expiries": [{"date": day.isoformat(), "kind": kinds[day]} for day in days],
            }
        )


class StrikesView(_InstrumentView):
    @extend_schema(
        parameters=[shapes.StrikesParams],
        responses={200: shapes.StrikesSerializer, **_ERRORS},
        summary="The strikes listed for an underlying's expiry (call, put or both)",
    )
    def get(self, request: Request) -> Response:
        params = self._params(shapes.StrikesParams, request)
        found, strikes = selectors.instrument_strikes(
            exchange=params["exchange"],
            text=params["symbol"],
            expiry=params["expiry"],
            right=params.get("right"),
        )
        return Response(
            {
                "exchange": params["exchange"],
                "symbol": found.symbol,
                "stock_code": found.stock_code,
                "expiry": params["expiry"].isoformat(),
                "strikes": strikes,
            }
        )
