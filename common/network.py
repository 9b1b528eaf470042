"""The caller's address, the one way every part of the proxy reads it (lockout, audit, axes).

``REMOTE_ADDR`` is the peer of the socket and cannot be forged by a caller. Behind a proxy
that appends the caller's address to ``X-Forwarded-For`` (Cloud Run's front end does), set
``BREEZE_TRUST_X_FORWARDED_FOR`` and the address ``BREEZE_TRUSTED_PROXY_HOPS`` from the end is
used (the last one behind Cloud Run alone; the second last with a load balancer in front that
appends too): the hops before it are whatever the caller chose to send. A header with fewer
hops did not come through every trusted proxy, so it is ignored. Never enable it without such
a proxy in front, or every caller picks its own address (and escapes the per-IP lockout).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The source IP of ``request`` (a Django or DRF request), or None when unknown."""
    meta = request.META
    if settings.BREEZE_TRUST_X_FORWARDED_FOR:
        hops = meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
        trusted = max(1, settings.BREEZE_TRUSTED_PROXY_HOPS)
        if len(hops) >= trusted:
            caller = _valid_ip(hops[-trusted])
            if caller:
                return caller
    return _valid_ip(meta.get("REMOTE_ADDR", "") or "")
