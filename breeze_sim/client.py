"""Tiny stdlib helpers to talk to the simulator (or Breeze) without the SDK.

Tests and scripts use these to build byte-exact signed requests: the checksum must cover the
body exactly as sent, so callers pass the body *text* and send that same text.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any

from .protocol import checksum, decode_session_token


def sdk_body(payload: dict[str, Any]) -> str:
    """Serialise a request body the way the SDK does (compact separators, insertion order)."""
    return json.dumps(payload, separators=(",", ":"))


def sdk_timestamp(moment: datetime | None = None) -> str:
    """``X-Timestamp`` as the SDK builds it: UTC, to the second, ``.000Z``."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"


def v1_headers(
    body: str, *, api_key: str, api_secret: str, session_token: str, timestamp: str | None = None
) -> dict[str, str]:
    """Headers of a v1 market-data call (checksum over ``timestamp + body + secret``)."""
    stamp = timestamp or sdk_timestamp()
    return {
        "Content-Type": "application/json",
        "X-Checksum": checksum(stamp, body, api_secret),
        "X-Timestamp": stamp,
        "X-AppKey": api_key,
        "X-SessionToken": session_token,
    }


def v2_headers(*, api_key: str, session_token: str) -> dict[str, str]:
    """Headers of a v2 historicalcharts call (no checksum)."""
    return {"Content-Type": "application/json", "X-SessionToken": session_token, "apikey": api_key}


def customer_details(
    api_url: str, api_session: str, api_key: str, timeout: float = 10.0
) -> dict[str, Any]:
    """GET customerdetails with a JSON body, exactly like ``generate_session`` does."""
    body = sdk_body({"SessionToken": api_session, "AppKey": api_key}).encode("ascii")
    request = urllib.request.Request(
        api_url + "customerdetails",
        data=body,
        method="GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def login(api_url: str, api_session: str, api_key: str) -> str:
    """Exchange an api_session and return the base64 ``X-SessionToken`` value."""
    answer = customer_details(api_url, api_session, api_key)
    if not isinstance(answer.get("Success"), dict):
        raise RuntimeError(f"customerdetails refused: {answer.get('Error')!r}")
    token = str(answer["Success"]["session_token"])
    if decode_session_token(token) is None:
        raise RuntimeError("customerdetails returned a malformed session_token")
    return token
