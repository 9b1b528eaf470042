"""``X-Proxy-Key`` for DRF views: the access decision of ``access.gate`` as an authentication
class.

Like DRF's ``SessionAuthentication`` trusts the user that Django's authentication middleware
found, this class first takes the decision the market front door already made for the request
(one round trip for everything), and otherwise makes it itself. The decision covers the key,
its origin, the view's ``required_scope`` and the quota, so there is no separate permission or
throttle class to keep in step with it; the quota's state is kept on the request for the
``RateLimit-*`` headers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework import authentication
from rest_framework.request import Request

from access import errors, gate
from access.keys import KEY_HEADER
from access.principals import Principal
from common.network import client_ip

ACCESS_ATTRIBUTE = "breeze_access"


def access_of(request: HttpRequest) -> gate.Access | None:
    """The access decided for ``request`` (a Django request) so far, if any."""
    return getattr(request, ACCESS_ATTRIBUTE, None)


def remember_access(request: HttpRequest, access: gate.Access) -> None:
    setattr(request, ACCESS_ATTRIBUTE, access)


class ClientKeyAuthentication(authentication.BaseAuthentication):
    """Every view using it declares ``required_scope``; a view without one admits no key."""

    def authenticate(self, request: Request) -> tuple[Principal, None]:
        django_request = request._request
        access = access_of(django_request)
        if access is None:
            view = request.parser_context.get("view") if request.parser_context else None
            access = gate.admit(
                request.headers.get(KEY_HEADER, ""),
                source_ip=client_ip(request),
                origin=request.headers.get("Origin"),
                scope=getattr(view, "required_scope", None) or "",
            )
            remember_access(django_request, access)
        return access.principal, None

    def authenticate_header(self, request: Request) -> str:
        return errors.AUTHENTICATE_HEADER


class RateLimitHeadersMixin:
    """For views authenticated by :class:`ClientKeyAuthentication`: every response says the
    caller's quota (``RateLimit-Limit``), what is left of it and when the window resets."""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        access = access_of(request._request)
        if access is not None and access.rate is not None:
            for name, value in access.rate.headers().items():
                response[name] = value
        return response
