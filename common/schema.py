"""OpenAPI details shared by every app: the error envelope per status, strict request bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()
    code = serializers.CharField()


_DESCRIPTIONS = {
    400: "Invalid input (nothing was sent to Breeze)",
    401: "Bad or missing key, no live Breeze session, or a token Breeze rejected",
    403: "The client key may not use this endpoint or origin",
    404: "Breeze has no data for this request",
    413: "The request body is too large",
    415: "The body is not JSON",
    429: "Over a rate limit (see Retry-After)",
    502: "Breeze failed or answered nonsense",
    503: "Breeze is failing (circuit open) or the feature is not configured",
    504: "Breeze did not answer in time",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The envelope, documented for each status an endpoint can answer with."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: request bodies reject unknown fields (StrictSerializer), so say so."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
