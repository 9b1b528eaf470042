"""The error family of the proxy: every deliberate failure is a :class:`ProxyError`.

Each error carries its HTTP status and a machine ``code``; ``breeze_proxy.errors`` is the one
place that turns them into the envelope ``{"error", "message", "details", "code"}`` (the
frontend reads ``message``, the main backend ``error``, scripts switch on ``code``). The base
lives in the service layer because the gateway's errors are the largest branch of the family;
the apps add their own (client keys, the admin key, instruments).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ProxyError(Exception):
    """An error the proxy answers deliberately, with its own status and machine code."""

    status_code: int = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal_error"
    message: str = "The proxy failed to handle this request."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details
        self.retry_after = retry_after
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}

    def envelope(self) -> dict[str, Any]:
        return envelope(self.message, code=self.code, details=self.details)


def envelope(message: str, *, code: str, details: Any = None) -> dict[str, Any]:
    """The one error shape: ``error`` and ``message`` carry the same text."""
    return {"error": message, "message": message, "details": details or "", "code": code}
