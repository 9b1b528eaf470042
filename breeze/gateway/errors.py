"""Typed upstream errors: every way a Breeze call can fail, each with its HTTP answer.

The SDK reports failures three ways (a raised ``Exception`` with a message, an error dict with
HTTP 200, or ``None``); the gateway turns all of them into one of these so that callers never
inspect strings and a Breeze error is never passed on as a 200.
"""

from __future__ import annotations

from http import HTTPStatus

from breeze.errors import ProxyError

NO_SESSION_HINT = (
    "Activate today's Breeze session: POST /breeze/admin/api-session with the "
    "X-Proxy-Admin-Key header, the Django admin page, or `manage.py breeze_session set`."
)


class BreezeError(ProxyError):
    """Base class for everything the gateway raises."""

    status_code = HTTPStatus.BAD_GATEWAY
    code = "upstream_error"
    message = "Breeze failed to answer."


class SessionMissing(BreezeError):
    status_code = HTTPStatus.UNAUTHORIZED
    code = "session_missing"
    message = "No live Breeze session. " + NO_SESSION_HINT


class SessionExpired(BreezeError):
    """Breeze no longer accepts the stored session (midnight passed, or it was revoked)."""

    status_code = HTTPStatus.UNAUTHORIZED
    code = "session_expired"
    message = "The Breeze session has expired or was rejected by Breeze. " + NO_SESSION_HINT


class SessionTokenRejected(BreezeError):
    """Activation failed: Breeze refused the token a person pasted."""

    status_code = HTTPStatus.UNAUTHORIZED
    code = "session_token_rejected"
    message = "Breeze rejected this session token. Log in again and paste the new one."


class CredentialsRejected(BreezeError):
    """Breeze does not know our API key: a deployment problem, not the caller's."""

    status_code = HTTPStatus.BAD_GATEWAY
    code = "credentials_rejected"
    message = "Breeze rejected the proxy's API key; check BREEZE_API_KEY and BREEZE_API_SECRET."


class NoData(BreezeError):
    status_code = HTTPStatus.NOT_FOUND
    code = "no_data"
    message = "Breeze has no data for this request; check the stock code and dates."


class UpstreamRejected(BreezeError):
    """Breeze answered with an error of its own (``Status`` 500 in the body)."""

    code = "upstream_error"
    message = "Breeze answered with an error."


class UpstreamRateLimited(BreezeError):
    """Breeze itself said the API key is over its per-minute or per-day limit."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "upstream_rate_limited"
    message = "Breeze's rate limit for this API key is reached; try again shortly."


class UpstreamUnavailable(BreezeError):
    code = "upstream_unavailable"
    message = "Breeze could not be reached."


class UpstreamBadResponse(BreezeError):
    code = "upstream_bad_response"
    message = "Breeze answered with something that is not its JSON envelope."


class UpstreamTimeout(BreezeError):
    status_code = HTTPStatus.GATEWAY_TIMEOUT
    code = "upstream_timeout"
    message = "Breeze did not answer in time."


class InvalidUpstreamRequest(BreezeError):
    """The SDK refused the arguments before calling Breeze (validation should prevent this)."""

    status_code = HTTPStatus.BAD_REQUEST
    code = "invalid_request"
    message = "Breeze's client refused these parameters."


class RateBudgetExhausted(BreezeError):
    """The fleet's own budget for Breeze calls is spent and the queue wait ran out."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_budget_exhausted"
    message = "The proxy's Breeze call budget is spent; retry after the Retry-After seconds."


class AccountBudgetExhausted(BreezeError):
    """The caller's own share of the fleet's Breeze calls is spent (the rest of the fleet is
    not affected)."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "client_budget_exhausted"
    message = (
        "This client's share of the proxy's daily Breeze calls is spent; cached answers are "
        "still served. Retry after the Retry-After seconds."
    )


class CircuitOpen(BreezeError):
    """Breeze has been failing; calls are refused until a probe succeeds."""

    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "circuit_open"
    message = "Breeze is failing, so the proxy is not calling it for a while."


def describe(exc: BreezeError) -> dict[str, object]:
    """A picklable description of an error, to share it through the cache."""
    return {
        "cls": type(exc).__name__,
        "message": exc.message,
        "details": exc.details,
        "retry_after": exc.retry_after,
    }


def rebuild(described: dict[str, object]) -> BreezeError:
    """The error another request (perhaps on another instance) described."""
    found = globals().get(str(described["cls"]))
    cls = found if isinstance(found, type) and issubclass(found, BreezeError) else BreezeError
    retry_after = described.get("retry_after")
    return cls(
        str(described["message"]),
        details=described.get("details"),
        retry_after=float(retry_after) if retry_after is not None else None,
    )
