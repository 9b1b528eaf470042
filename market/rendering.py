"""Market answers as HTTP responses: one rendering for the front door and the views alike.

An answer's rows are already JSON bytes (``breeze.gateway.answers``), so a response body is
spliced together rather than encoded again: the cached-quote path never decodes Breeze's rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from breeze.gateway.answers import MarketAnswer
from breeze.operations import OptionChainQuery, Query
from common.responses import finished


def as_of_text(answer: MarketAnswer) -> str:
    return datetime.fromtimestamp(answer.as_of, tz=UTC).isoformat().replace("+00:00", "Z")


def names_of(query: Query) -> dict[str, str | None]:
    """Both names of what was asked: Breeze's code and the exchange symbol (null when no
    master is loaded to know it)."""
    named = query if isinstance(query, OptionChainQuery) else query.contract
    return {"stock_code": named.stock_code, "symbol": named.symbol or None}


def answer_data(answer: MarketAnswer, query: Query) -> dict[str, Any]:
    """The body as Python data (for the browsable API)."""
    return {
        "Success": answer.rows,
        "as_of": as_of_text(answer),
        "stale": answer.cache == "stale",
        **names_of(query),
    }


def answer_body(answer: MarketAnswer, query: Query) -> bytes:
    stale = b"true" if answer.cache == "stale" else b"false"
    names = json.dumps(names_of(query), separators=(",", ":")).encode()
    return b"".join(
        (
            b'{"Success":',
            answer.rows_json,
            b',"as_of":"',
            as_of_text(answer).encode(),
            b'","stale":',
            stale,
            b",",
            names[1:],  # the names object's members, spliced in
        )
    )


def answer_headers(answer: MarketAnswer) -> dict[str, str]:
    """``X-Cache`` (hit, miss or stale), ``Age`` and the Breeze calls this request caused."""
    return {
        "X-Cache": answer.cache,
        "Age": str(answer.age_s),
        "X-Upstream-Calls": str(answer.upstream_calls),
    }


def answer_response(
    answer: MarketAnswer, query: Query, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(answer_body(answer, query), content_type="application/json")
    response["Vary"] = "Accept"  # the same URL renders the browsable API for browsers
    return finished(response, {**answer_headers(answer), **(headers or {})})
