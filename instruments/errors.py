"""Instruments the master does not list: 404s that say what does exist."""

from __future__ import annotations

from http import HTTPStatus

from breeze.errors import ProxyError


class UnknownInstrument(ProxyError):
    """Neither a Breeze code nor an exchange symbol (nor an alias) the master lists."""

    status_code = HTTPStatus.NOT_FOUND
    code = "unknown_instrument"

    def __init__(self, *, exchange: str, text: str, suggestions: list[str]) -> None:
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"{text!r} is not an instrument on {exchange} (neither a Breeze code nor an "
            f"exchange symbol).{hint} Search with GET /breeze/instruments?q=...",
            details={"exchange": exchange, "text": text, "suggestions": suggestions},
        )


class UnknownContract(ProxyError):
    """The underlying exists, but not with that expiry, strike or side today."""

    status_code = HTTPStatus.NOT_FOUND
    code = "unknown_contract"
    message = "No such contract is listed."


class MasterMissing(ProxyError):
    """The instrument endpoints need a loaded master."""

    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "instruments_unavailable"
    message = (
        "No SecurityMaster is loaded yet: run `manage.py instruments sync` (the deployment "
        "runs it daily before the market opens)."
    )
