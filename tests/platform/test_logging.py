"""Logs: one JSON line per event, a request id on each, no secrets or tokens."""

from __future__ import annotations

import json
import logging

import pytest

from common.json_logging import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Capture what the stdout handler would write, formatted exactly as in production."""
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Capture()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield records
    root.removeHandler(handler)


def test_request_and_upstream_lines_share_the_request_id(api, live_session, json_lines):
    api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json", HTTP_X_REQUEST_ID="req-42")

    events = [json.loads(line) for line in json_lines]
    access = [e for e in events if e["logger"] == "breeze_proxy.access"]
    upstream = [e for e in events if e["message"] == "upstream call"]
    assert access
    assert upstream
    assert access[-1]["request_id"] == "req-42"
    assert access[-1]["status"] == 200
    assert {"method", "path", "duration_ms"} <= set(access[-1])
    assert upstream[-1]["request_id"] == "req-42"
    assert upstream[-1]["operation"] == "quote"  # the Operation enum names every call
    assert upstream[-1]["outcome"] == "ok"
    assert all(e["severity"] for e in events)


def test_response_carries_request_id(api):
    response = api.get("/")

    assert len(response["X-Request-ID"]) >= 16


def test_no_secret_or_token_in_logs(api, sim, admin_key, settings, json_lines):
    token = sim.issue_session()
    api.post(
        "/breeze/admin/api-session",
        {"api_session": token},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=admin_key,
    )
    api.post(
        "/breeze/admin/api-session",
        {"api_session": token},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY="wrong-" + admin_key,
    )
    api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json")

    text = "\n".join(json_lines)
    assert json_lines
    for secret in (token, admin_key, settings.BREEZE_API_SECRET):
        assert secret not in text


def test_redaction_scrubs_configured_secrets(settings):
    settings.REDACT_VALUES = ["sup3r-s3cret-value"]
    record = logging.LogRecord("x", logging.ERROR, "", 0, "boom sup3r-s3cret-value", (), None)

    line = JsonFormatter().format(record)

    assert "sup3r-s3cret-value" not in line
    assert "[redacted]" in line
