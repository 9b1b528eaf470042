"""The client key format and its digest: ``bzp_`` + 43 URL-safe characters (256 random bits).

The digest is HMAC-SHA256 under ``BREEZE_CLIENT_KEY_PEPPER``: a fast keyed hash is right for
a high-entropy random key (a slow password hash would only cost every request time), and the
pepper, which lives outside the database, makes a stolen table useless for presenting keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

KEY_HEADER = "X-Proxy-Key"
KEY_PREFIX = "bzp_"
_KEY = re.compile(r"^bzp_[A-Za-z0-9_-]{43}$")


def key_generate() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)  # 32 bytes → 43 characters


def key_is_well_formed(raw: str) -> bool:
    return bool(_KEY.match(raw))


def key_digest(raw: str) -> str:
    pepper = settings.BREEZE_CLIENT_KEY_PEPPER.encode()
    return hmac.new(pepper, raw.encode(), hashlib.sha256).hexdigest()
