"""A history answer as JSON or CSV, streamed: rows are encoded as they are read from the store,
so a 100,000-candle answer never sits in memory (the response is a generator)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

from market.history.service import HistoryAnswer
from market.rendering import as_of_text, names_of

CSV_COLUMNS = (
    "datetime", "stock_code", "exchange_code", "open", "high", "low", "close", "volume",
    "open_interest",
)  # fmt: skip
CHUNK_ROWS = 500


class CSVRenderer(BaseRenderer):
    """Lets DRF negotiate ``Accept: text/csv`` and ``?format=csv``; the view streams the body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return b""  # errors stay JSON (see the exception handler); answers are streamed


def _headers(answer: HistoryAnswer) -> dict[str, str]:
    meta = answer.meta()
    headers = {
        "X-Upstream-Calls": str(answer.upstream_calls),
        "X-Cache": "stale" if answer.stale else ("miss" if answer.upstream_calls else "hit"),
        "X-History-Complete": "true" if answer.complete else "false",
        "X-History-From": meta["from"],
        "X-History-To": meta["to"],
    }
    if meta["next_to_date"]:
        headers["X-History-Next-To-Date"] = meta["next_to_date"]
    return headers


def json_chunks(answer: HistoryAnswer) -> Iterator[bytes]:
    yield b'{"Success":['
    batch: list[str] = []
    first = True
    for row in answer.rows():
        batch.append(json.dumps(row, separators=(",", ":"), allow_nan=False))
        if len(batch) >= CHUNK_ROWS:
            yield (("" if first else ",") + ",".join(batch)).encode()
            first, batch = False, []
    if batch:
        yield (("" if first else ",") + ",".join(batch)).encode()
    tail = {
        "as_of": as_of_text(answer),
        "stale": answer.stale,
        **names_of(answer.query),
        **answer.meta(),
    }
    yield b"]," + json.dumps(tail, separators=(",", ":")).encode()[1:]


def json_response(answer: HistoryAnswer) -> StreamingHttpResponse:
    response = StreamingHttpResponse(json_chunks(answer), content_type="application/json")
    for name, value in _headers(answer).items():
        response[name] = value
    response["Vary"] = "Accept"
    return response


def csv_chunks(answer: HistoryAnswer) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(answer.rows(), start=1):
        writer.writerow([row.get(column, "") for column in CSV_COLUMNS])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def csv_response(answer: HistoryAnswer) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_chunks(answer), content_type="text/csv; charset=utf-8")
    for name, value in _headers(answer).items():
        response[name] = value
    name = f"{answer.query.contract.stock_code}-{answer.query.interval}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Vary"] = "Accept"
    return response
