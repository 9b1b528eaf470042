"""Refusals of the metrics endpoints, in the proxy's error envelope."""

from __future__ import annotations

from http import HTTPStatus

from breeze.errors import ProxyError

BEARER_CHALLENGE = 'Bearer realm="metrics"'


class MetricsTokenRequired(ProxyError):
    status_code = HTTPStatus.UNAUTHORIZED
    code = "metrics_token_required"
    message = "Send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>'."

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": BEARER_CHALLENGE}


class MetricsTokenInvalid(MetricsTokenRequired):
    code = "metrics_token_invalid"
    message = "The metrics token is not valid."


class MetricsNotConfigured(ProxyError):
    status_code = HTTPStatus.FORBIDDEN
    code = "metrics_token_not_configured"
    message = (
        "The Prometheus exposition is closed: METRICS_TOKEN is not set (it is open without a "
        "token only on the embedded default)."
    )
