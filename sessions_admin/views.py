"""Session administration over HTTP, behind ``X-Proxy-Admin-Key``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from access.admin_key import ADMIN_KEY_HEADER, AdminKeyAuthentication, IsAdminKeyHolder
from common.network import client_ip
from common.schema import error_responses
from sessions_admin import selectors, services
from sessions_admin.serializers import (
    ApiSessionRequestSerializer,
    ApiSessionResponseSerializer,
    SessionStateSerializer,
)

ADMIN_KEY_PARAMETER = OpenApiParameter(
    ADMIN_KEY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The proxy's admin key (BREEZE_PROXY_ADMIN_KEY).",
)
# Every admin call can fail authentication, be locked out, or find administration disabled.
ADMIN_ERRORS = error_responses(401, 429, 503)


def _caller(request: Request) -> str:
    return f"admin-api from {client_ip(request) or 'unknown'}"


class ApiSessionViewSet(viewsets.ViewSet):
    """Hand the proxy today's Breeze session token, see its state, or clear it."""

    authentication_classes = [AdminKeyAuthentication]
    permission_classes = [IsAdminKeyHolder]
    throttle_classes: list = []

    @extend_schema(
        request=ApiSessionRequestSerializer,
        responses={
            200: ApiSessionResponseSerializer,
            **ADMIN_ERRORS,
            **error_responses(400, 413, 415, 502, 504),
        },
        parameters=[ADMIN_KEY_PARAMETER],
        summary="Activate today's Breeze session",
    )
    def create(self, request: Request) -> Response:
        serializer = ApiSessionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.breeze_session_activate(
            api_session=serializer.validated_data["api_session"],
            activated_by=_caller(request),
            source_ip=client_ip(request),
        )
        return Response(
            {
                "status": "success",
                "message": "Daily session activated",
                "session": SessionStateSerializer(selectors.breeze_session_status()).data,
            }
        )

    @extend_schema(
        responses={200: SessionStateSerializer, **ADMIN_ERRORS},
        parameters=[ADMIN_KEY_PARAMETER],
        summary="State of the Breeze session",
    )
    def retrieve(self, request: Request) -> Response:
        return Response(SessionStateSerializer(selectors.breeze_session_status()).data)

    @extend_schema(
        request=None,
        responses={200: SessionStateSerializer, **ADMIN_ERRORS},
        parameters=[ADMIN_KEY_PARAMETER],
        summary="Clear the Breeze session",
    )
    def destroy(self, request: Request) -> Response:
        services.breeze_session_clear(cleared_by=_caller(request), source_ip=client_ip(request))
        return Response(SessionStateSerializer(selectors.breeze_session_status()).data)
