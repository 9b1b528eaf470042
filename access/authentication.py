"""``X-Proxy-Key``: which client is calling the market endpoints, and with which rights.

With ``BREEZE_REQUIRE_CLIENT_KEY`` off (the embedded sandbox default) a request without the
header is let through as :class:`AnonymousClient`; a request that does send a key is always
checked. A cached lookup does no database query (see ``access.selectors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from rest_framework import authentication
from rest_framework.request import Request

from access import errors
from access.keys import KEY_HEADER, key_is_well_formed
from access.models import normalize_origin
from access.selectors import client_key_get_by_raw, counter_id
from breeze_proxy.shared_cache import prefetched


@dataclass(frozen=True)
class ClientPrincipal:
    """``request.user`` for a request that presented a valid client key."""

    key_id: int
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    quota: int = 600
    counter_id: str = ""  # names the quota counter (from the digest, known before the lookup)
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return f"client-key:{self.name}"


@dataclass(frozen=True)
class AnonymousClient:
    """``request.user`` without a key where keys are not required: every scope, no quota."""

    is_authenticated: bool = False
    is_anonymous: bool = True

    def __str__(self) -> str:
        return "anonymous"


class ClientKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ClientPrincipal | AnonymousClient, None]:
        raw = request.headers.get(KEY_HEADER, "")
        if not raw:
            if settings.BREEZE_REQUIRE_CLIENT_KEY:
                raise errors.ClientKeyRequired()
            return AnonymousClient(), None
        if not key_is_well_formed(raw):
            raise errors.ClientKeyMalformed()
        record = client_key_get_by_raw(raw=raw, prefetched=prefetched(request))
        if record is None:
            raise errors.ClientKeyInvalid()
        if not record.usable:
            raise errors.ClientKeyRevoked()
        origin = request.headers.get("Origin")
        if origin is not None and record.origins and normalize_origin(origin) not in record.origins:
            raise errors.OriginNotAllowed()
        principal = ClientPrincipal(
            key_id=record.id,
            name=record.name,
            scopes=record.scopes,
            quota=record.quota,
            counter_id=counter_id(record.digest),
        )
        return principal, None

    def authenticate_header(self, request: Request) -> str:
        return errors.AUTHENTICATE_HEADER
