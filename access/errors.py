"""The refusals of client-key access, each with its own machine code in the error envelope.

Each is a :class:`ProxyError` (so the envelope carries its specific ``code``) and also the
matching DRF exception, so DRF treats it as its own: a failed authentication leaves
``request.user`` unset-as-anonymous instead of retrying, and the browsable API, which checks
permissions again while rendering, skips its form instead of failing.
"""

from __future__ import annotations

from http import HTTPStatus

from rest_framework import exceptions as drf_exceptions

from access.keys import KEY_HEADER
from breeze.errors import ProxyError

AUTHENTICATE_HEADER = f'{KEY_HEADER} realm="breeze-proxy"'


class ClientKeyError(ProxyError, drf_exceptions.AuthenticationFailed):
    """A 401: the request must present a valid key (so it says how, in WWW-Authenticate)."""

    status_code = HTTPStatus.UNAUTHORIZED
    code = "client_key_invalid"

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": AUTHENTICATE_HEADER}


class ClientKeyRequired(ClientKeyError):
    code = "client_key_required"
    message = f"Send your client key in the {KEY_HEADER} header."


class ClientKeyMalformed(ClientKeyError):
    code = "client_key_malformed"
    message = f"The {KEY_HEADER} header is not a client key (bzp_ and 43 characters)."


class ClientKeyInvalid(ClientKeyError):
    code = "client_key_invalid"
    message = f"The {KEY_HEADER} header is not a known client key."


class ClientKeyRevoked(ClientKeyError):
    code = "client_key_revoked"
    message = "This client key has been revoked."


class ClientKeyLookupsLimited(ProxyError, drf_exceptions.APIException):
    """Too many keys the proxy does not know, from one address: refused before the database."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "client_key_lookups_limited"
    message = "Too many unknown client keys from this address; try again later."


class OriginNotAllowed(ProxyError, drf_exceptions.PermissionDenied):
    status_code = HTTPStatus.FORBIDDEN
    code = "origin_not_allowed"
    message = "This client key may not be used from this origin."


class ScopeDenied(ProxyError, drf_exceptions.PermissionDenied):
    status_code = HTTPStatus.FORBIDDEN
    code = "scope_denied"
    message = "This client key may not use this endpoint."


class AdminLockedOut(ProxyError):
    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "admin_locked_out"
    message = "Too many wrong admin keys from this address; try again later."
