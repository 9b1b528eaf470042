"""The front door of the market endpoints: a ready answer is served before DRF runs, before most
of the middleware even.

The hot path of a busy dashboard is the same few quotes, many times a second. For each JSON
POST to a market endpoint the front door validates the body into its typed query (remembered
per body, so a repeated body costs a dictionary lookup), then reads in ONE round trip to the
store everything the request needs: the client key's record, its quota counter (raised), the
live session and the answer under the query's canonical key. It then takes the access
decision (key, origin, scope, quota) from those reads and, when a fresh answer of the live
session is there, sends its bytes. Otherwise the request goes on to the DRF view with the
decision and the session already made (``access.authentication`` and :func:`session_of` pick
them up), so nothing is read twice.

Browsers (the browsable API), invalid bodies and everything else take the full DRF path, which
explains a refusal in the same envelope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers

from access import gate
from access.authentication import remember_access
from access.keys import KEY_HEADER
from breeze import clock, store
from breeze.errors import ProxyError
from breeze.gateway.answers import MarketAnswer
from breeze.gateway.errors import SessionMissing
from breeze.gateway.flight import answer_key
from breeze.operations import Query
from common.network import client_ip
from common.parsers import load_json
from common.responses import error_response
from instruments import resolver
from market.rendering import answer_response
from sessions_admin.selectors import (
    LIVE_SESSION_CACHE_KEY,
    LiveSession,
    breeze_session_live_from,
)

SESSION_ATTRIBUTE = "breeze_live_session"
QUERY_ATTRIBUTE = "breeze_query"
KEY_META = "HTTP_" + KEY_HEADER.upper().replace("-", "_")
MEMO_BODY_BYTES = 1024  # bodies this small are remembered (dashboards repeat a handful)


@dataclass(frozen=True)
class Route:
    """One market endpoint as the front door sees it."""

    name: str
    scope: str
    serializer: type[serializers.Serializer]
    # Cuts the served answer from the stored one (depth is cut from the quote).
    shape: Callable[[MarketAnswer], MarketAnswer] = lambda answer: answer
    # A better answer to serve as is when the store has one (the live feed's 5-level depth).
    prefer: Callable[[Query], str] | None = None


def session_of(request: HttpRequest) -> LiveSession | None:
    """The live session the front door found for ``request`` (None if it did not look)."""
    return getattr(request, SESSION_ATTRIBUTE, None)


def query_of(request: HttpRequest) -> Query | None:
    """The query the front door validated ``request``'s body into (None if it did not)."""
    return getattr(request, QUERY_ATTRIBUTE, None)


def front_door(route: Route, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Declare that ``view`` (a URL's view) stands behind the front door as ``route``."""
    view.front_door_route = route  # type: ignore[attr-defined]
    return view


class FrontDoorMiddleware:
    """Serves ready answers for the routes declared with :func:`front_door`.

    It sits early in ``MIDDLEWARE``: after the request id, security headers and CORS, before the
    session, CSRF, authentication, messages and django-axes middleware that only the Django
    admin needs. A request it does not answer continues down the whole chain to its view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @functools.cached_property
    def routes(self) -> dict[str, Route]:
        """Path → route, read once from the URL configuration (every prefix it is served at)."""
        return dict(_declared_routes(get_resolver().url_patterns, "/"))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        route = self.routes.get(request.path_info) if request.method == "POST" else None
        if route is None or not _wants_json(request) or _too_large(request):
            return self.get_response(request)  # DRF answers it (413 for a body too large)
        if not _sends_json(request):
            return self.get_response(request)  # DRF answers 415 for anything but JSON
        query = _query(route, request.body)
        if query is None:
            return self.get_response(request)  # DRF explains what is wrong with it
        meta = request.META
        plan = gate.plan(meta.get(KEY_META, ""), source_ip=client_ip(request))
        key = answer_key(query)
        preferred = route.prefer(query) if route.prefer is not None else None
        found, counts = store.count_and_read(
            plan.counter,
            [*plan.gets, LIVE_SESSION_CACHE_KEY, key, *((preferred,) if preferred else ())],
        )
        try:
            access = gate.decide(
                plan, found, counts, origin=meta.get("HTTP_ORIGIN"), scope=route.scope
            )
        except ProxyError as exc:
            return error_response(exc)
        rate_headers = access.rate.headers() if access.rate else {}
        session = breeze_session_live_from(found.get(LIVE_SESSION_CACHE_KEY))
        if session is None:
            return error_response(SessionMissing(), headers=rate_headers)
        better = found.get(preferred) if preferred else None
        if better is not None and better[0] == session.id:
            answer = MarketAnswer.from_stored(better, served_as="hit")
            return answer_response(answer, query, headers=rate_headers)
        stored = found.get(key)
        if stored is not None and stored[0] == session.id:
            answer = route.shape(MarketAnswer.from_stored(stored, served_as="hit"))
            return answer_response(answer, query, headers=rate_headers)
        remember_access(request, access)
        setattr(request, SESSION_ATTRIBUTE, session)
        setattr(request, QUERY_ATTRIBUTE, query)
        return self.get_response(request)


def _declared_routes(patterns: list[Any], prefix: str) -> list[tuple[str, Route]]:
    found: list[tuple[str, Route]] = []
    for pattern in patterns:
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _declared_routes(pattern.url_patterns, path)
        elif isinstance(pattern, URLPattern):
            route = getattr(pattern.callback, "front_door_route", None)
            if route is not None:
                found.append((path, route))
    return found


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    except ValueError:
        return True


def _sends_json(request: HttpRequest) -> bool:
    """The body is declared JSON (UTF-8, the only charset the front door decodes), as DRF's
    parser requires; anything else goes to DRF, which refuses it the same way everywhere."""
    declared = request.META.get("CONTENT_TYPE", "")
    if declared == "application/json":
        return True
    media, _, params = declared.partition(";")
    if media.strip().lower() != "application/json":
        return False
    charset = params.partition("charset=")[2].strip().strip('"').lower()
    return charset in ("", "utf-8", "utf8")


def _wants_json(request: HttpRequest) -> bool:
    """JSON unless a browser asks for the browsable API (DRF negotiates those)."""
    if request.META.get("QUERY_STRING"):
        fmt = request.GET.get("format")
        if fmt is not None:
            return fmt == "json"
    return "text/html" not in request.META.get("HTTP_ACCEPT", "")


def _query(route: Route, body: bytes) -> Query | None:
    if len(body) <= MEMO_BODY_BYTES:
        # The IST date (date windows move at midnight) and the master in use (names resolve
        # against it) are part of the key.
        return _remembered_query(route, body, clock.ist_date_key(), resolver.version_id())
    return _validated_query(route, body)


@functools.lru_cache(maxsize=4096)
def _remembered_query(route: Route, body: bytes, day: str, master: int) -> Query | None:
    return _validated_query(route, body)


def _validated_query(route: Route, body: bytes) -> Query | None:
    """The typed query of a valid body; None for anything DRF should explain instead."""
    try:
        data = load_json(body)
    except ValueError:
        return None
    serializer = route.serializer(data=data)
    try:
        if not serializer.is_valid():
            return None
    except ProxyError:  # an unknown instrument: DRF answers it, after the key is checked
        return None
    return serializer.query  # type: ignore[attr-defined]
