"""Breeze wire protocol: envelopes, exact error strings, checksum and session-token encoding.

Strings marked "upstream" are the ones Breeze is known to send (BREEZE_API.md §4.2); the SDK
matches some of them literally, so they must not change. Strings marked "sim" fill gaps where
the upstream text is unknown; they are documented in the simulator's README section of the
report and exported here so callers can compare against constants instead of literals.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

# upstream
ERR_PUBLIC_KEY = "Public Key does not exist."
ERR_INVALID_SESSION = "Invalid session."
ERR_EXPIRED = "Resource not available."
ERR_REQUEST_NULL = "Request Object is Null"
ERR_HISTORICAL_FAIL = "Historical Data Fail"
ERR_RATE_MINUTE = "Limit exceed: API call per minute:Try after some time"
ERR_RATE_DAY = "Limit exceed: API call per day: "
ERR_SERVICE = "Error while calling service, Please contact admin (T2:154)"
STATUS_RATE_LIMITED = 5

# sim (upstream wording unknown)
ERR_CHECKSUM = "Invalid checksum."
ERR_BAD_BODY = "Invalid request body: expected a JSON object."
ERR_BAD_INTERVAL = "Invalid interval: {value!r}."
ERR_BAD_DATE = "Invalid {field}: expected YYYY-MM-DDTHH:MM:SS.000Z."
ERR_METHOD = "Method not allowed."
ERR_NOT_FOUND = "Resource not found."
ERR_INTERNAL = "Simulator internal error: {detail}"

HTML_UNAVAILABLE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>503 Service Unavailable</title>\n</head>\n"
    "<body>\n<h1>Service Unavailable</h1>\n<p>Sorry, the page you are looking for is currently "
    "unavailable.<br/>\nPlease try again later.</p>\n</body>\n</html>\n"
)


def envelope(success: Any, status: int = 200, error: str | None = None) -> dict[str, Any]:
    """Breeze's reply shape. HTTP status is 200 even for errors; the SDK only reads this."""
    return {"Success": success, "Status": status, "Error": error}


def error(message: str, status: int = 500) -> dict[str, Any]:
    return envelope(None, status, message)


def dumps(payload: Any, *, sort_keys: bool = False) -> bytes:
    """Serialise like a JSON API (v2 history answers with alphabetically sorted keys)."""
    return json.dumps(payload, sort_keys=sort_keys).encode("utf-8")


def checksum(timestamp: str, body: str, secret: str) -> str:
    """``X-Checksum`` value: ``"token " + sha256_hex(timestamp + body + secret)`` (not HMAC)."""
    digest = hashlib.sha256((timestamp + body + secret).encode("utf-8")).hexdigest()
    return "token " + digest


def checksum_ok(header: str | None, timestamp: str | None, raw_body: bytes, secret: str) -> bool:
    """Check the header against the body bytes exactly as received (never a re-serialised dict)."""
    if not header or timestamp is None:
        return False
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return hmac.compare_digest(header.strip(), checksum(timestamp, body, secret))


def encode_session_token(user_id: str, session_key: str) -> str:
    """``base64(ascii("user:key"))`` as returned by customerdetails and sent as X-SessionToken."""
    return base64.b64encode(f"{user_id}:{session_key}".encode("ascii")).decode("ascii")


def decode_session_token(token: str | None) -> tuple[str, str] | None:
    """Inverse of :func:`encode_session_token`; None when the header is not such a token."""
    if not token:
        return None
    try:
        text = base64.b64decode(token.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    user, sep, key = text.partition(":")
    if not sep or not user or not key:
        return None
    return user, key


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    """The request body as a dict, or None when it is not a JSON object."""
    try:
        value = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
