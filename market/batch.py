"""Batch quotes: many instruments in one request, each answered on its own.

Items are validated one by one (a bad symbol fails only its own item), identical items are
merged, cached ones come from the cache and the rest are fetched concurrently through the
normal fetch path, so the batch spends the fleet's budget like the same number of single
quotes would — never more.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from django.db import connections

from breeze_proxy.errors import ProxyError, envelope
from market import services
from market.serializers import QuoteRequestSerializer

# Process-local worker threads for upstream fan-out; each waits on Breeze, not the CPU.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="batch-quote")


def _validate(item: Any) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
    serializer = QuoteRequestSerializer(data=item)
    if serializer.is_valid():
        return dict(serializer.validated_data), None
    message = "Invalid instrument."
    for field, problems in serializer.errors.items():
        message = f"{field}: {problems[0]}"
        break
    return None, envelope(message, code="invalid_request", details=serializer.errors)


def _answer(params: dict[str, str]) -> dict[str, Any]:
    try:
        answer = services.quote_get(params=params)
    except ProxyError as exc:
        return {
            "status": int(exc.status_code),
            "error": envelope(exc.message, code=exc.code, details=exc.details),
        }
    finally:
        connections.close_all()  # this pool thread's own connections, if it opened any
    return {"status": HTTPStatus.OK.value, **answer.body(), "cache": answer.cache}


def quotes_batch(*, instruments: list[Any]) -> list[dict[str, Any]]:
    services.live_session()  # no live session: the whole batch is a 401, not 50 of them
    validated = [_validate(item) for item in instruments]
    unique: dict[str, dict[str, str]] = {}
    for params, _ in validated:
        if params is not None:
            unique.setdefault(json.dumps(params, sort_keys=True), params)
    answers = dict(zip(unique, _pool.map(_answer, unique.values()), strict=True))
    results = []
    for index, (params, problem) in enumerate(validated):
        if params is None:
            results.append(
                {"index": index, "status": HTTPStatus.BAD_REQUEST.value, "error": problem}
            )
        else:
            results.append({"index": index, **answers[json.dumps(params, sort_keys=True)]})
    return results
