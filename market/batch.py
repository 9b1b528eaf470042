"""Batch quotes: many instruments in one request, each answered on its own.

Items are validated one by one (a bad symbol fails only its own item), identical items are
merged, cached ones come from the cache and the rest are fetched concurrently through the
normal fetch path, each charged to the caller like the same number of single quotes would be.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from django.db import connections

from breeze.errors import ProxyError, envelope
from breeze.gateway.budget import Account
from breeze.operations import QuoteQuery
from market import services
from market.rendering import as_of_text, names_of
from market.serializers import QuoteRequestSerializer
from sessions_admin.selectors import LiveSession

# Process-local worker threads for upstream fan-out; each waits on Breeze, not the CPU.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="batch-quote")


def _validate(item: Any) -> tuple[QuoteQuery | None, dict[str, Any] | None, int]:
    """The item's query, or its problem and the status it would have got alone (400 for a bad
    body; 404 for an unknown instrument or contract, which resolution raises)."""
    serializer = QuoteRequestSerializer(data=item)
    try:
        valid = serializer.is_valid()
    except ProxyError as exc:
        return None, exc.envelope(), int(exc.status_code)
    if valid:
        return serializer.query, None, HTTPStatus.OK.value
    message = "Invalid instrument."
    for field, problems in serializer.errors.items():
        message = f"{field}: {problems[0]}"
        break
    return (
        None,
        envelope(message, code="invalid_request", details=serializer.errors),
        HTTPStatus.BAD_REQUEST.value,
    )


def _answer(query: QuoteQuery, session: LiveSession, account: Account | None) -> dict[str, Any]:
    try:
        answer = services.quote_get(query=query, session=session, account=account)
    except ProxyError as exc:
        return {"status": int(exc.status_code), "error": exc.envelope()}
    finally:
        connections.close_all()  # this pool thread's own connections, if it opened any
    return {
        "status": HTTPStatus.OK.value,
        "Success": answer.rows,
        "as_of": as_of_text(answer),
        "stale": answer.cache == "stale",
        "cache": answer.cache,
        "upstream_calls": answer.upstream_calls,
        **names_of(query),
    }


def quotes_batch(
    *, instruments: list[Any], session: LiveSession, account: Account | None = None
) -> list[dict[str, Any]]:
    validated = [_validate(item) for item in instruments]
    unique = list(dict.fromkeys(query for query, _, _ in validated if query is not None))

    def answer(query: QuoteQuery) -> dict[str, Any]:
        return _answer(query, session, account)

    # Each pool task runs in a copy of this request's context, so its log lines keep the
    # request id.
    futures = [_pool.submit(contextvars.copy_context().run, answer, query) for query in unique]
    answers = {query: future.result() for query, future in zip(unique, futures, strict=True)}
    results = []
    for index, (query, problem, status) in enumerate(validated):
        if query is None:
            results.append({"index": index, "status": status, "error": problem})
        else:
            results.append({"index": index, **answers[query]})
            answers[query] = {**answers[query], "upstream_calls": 0}  # charged once
    return results
