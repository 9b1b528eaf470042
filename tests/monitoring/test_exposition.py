"""``GET /metrics``: the Prometheus exposition, read with prometheus-client's own parser; the
bearer token; what each kind of event adds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

from tests import leakcheck

REPO = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-7c1e9a4b2f"


def _quote(api, code: str = "RELIND"):
    return api.post("/breeze/quotes", {"stock_code": code}, format="json")


# --- what the exposition counts -----------------------------------------------------------------


def test_exposition_parses_and_counts_requests_by_route_method_status(api, live_session, scrape):
    before = scrape()

    assert _quote(api).status_code == HTTPStatus.OK
    assert _quote(api).status_code == HTTPStatus.OK  # from the cache
    assert (
        api.post("/api/breeze/quotes", {"stock_code": "RELIND"}, format="json").status_code == 200
    )
    assert api.get("/breeze/health").status_code == HTTPStatus.OK
    assert api.get("/no/such/path").status_code == HTTPStatus.NOT_FOUND
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    requests = "breeze_http_requests_total"
    assert delta(requests, route="quotes", method="POST", status="200") == 3
    assert delta(requests, route="health", method="GET", status="200") == 1
    assert delta(requests, route="unmatched", method="GET", status="404") == 1
    assert delta("breeze_http_request_duration_seconds_count", route="quotes", method="POST") == 3
    inf = delta("breeze_http_request_duration_seconds_bucket", route="quotes", le="+Inf")
    assert inf == 3
    assert delta("breeze_cache_answers_total", route="quotes", result="miss") == 1
    assert delta("breeze_cache_answers_total", route="quotes", result="hit") == 2
    assert delta("breeze_upstream_calls_total", operation="quote", outcome="ok") == 1
    assert delta("breeze_upstream_call_duration_seconds_count", operation="quote") == 1
    assert delta("breeze_client_requests_total", key="anonymous") == 3


def test_exposition_carries_the_shared_state(api, live_session, scrape):
    _quote(api)

    metrics = scrape()

    assert metrics.value("breeze_session_active") == 1
    assert 0 < metrics.value("breeze_session_seconds_to_expiry") <= 86400
    assert metrics.value("breeze_budget_used", window="minute") >= 1
    assert metrics.value("breeze_budget_used", window="day") >= 1
    assert metrics.value("breeze_budget_limit", window="minute") > 0
    limit = metrics.value("breeze_budget_limit", window="day")
    used = metrics.value("breeze_budget_used", window="day")
    assert metrics.value("breeze_budget_remaining", window="day") == limit - used
    assert metrics.value("breeze_breaker_state", state="closed") == 1
    assert metrics.value("breeze_breaker_state", state="open") == 0
    assert metrics.value("breeze_market_open") in (0, 1)
    assert metrics.value("breeze_instruments_master_loaded") == 0  # no master in this test
    assert "breeze_history_candles" in metrics.samples
    assert metrics.value("breeze_fleet_instances") >= 1
    assert metrics.value("breeze_process_resident_memory_bytes") > 0
    for name in ("breeze_stream_clients", "breeze_stream_feed_up", "breeze_stream_leader"):
        assert name in metrics.samples
    assert not metrics.samples.get("breeze_metrics_collect_errors")


def test_instruments_master_age_is_exported(api, master, scrape):
    metrics = scrape()

    assert metrics.value("breeze_instruments_master_loaded") == 1
    assert 0 <= metrics.value("breeze_instruments_master_age_seconds") < 3600


def test_upstream_failures_and_breaker_are_counted(api, live_session, sim, settings, scrape):
    settings.BREEZE_BREAKER_FAILURES = 2
    before = scrape()
    sim.set_fault("http_error", status=503)

    answers = [_quote(api, code).status_code for code in ("TCS", "INFTEC", "HDFBAN")]
    after = scrape()

    assert answers[:2] == [HTTPStatus.BAD_GATEWAY, HTTPStatus.BAD_GATEWAY]
    assert answers[2] == HTTPStatus.SERVICE_UNAVAILABLE  # the breaker opened
    failed = after.value("breeze_upstream_calls_total", operation="quote")
    failed -= after.value("breeze_upstream_calls_total", operation="quote", outcome="ok")
    failed_before = before.value("breeze_upstream_calls_total", operation="quote")
    failed_before -= before.value("breeze_upstream_calls_total", operation="quote", outcome="ok")
    assert failed - failed_before == 2
    assert after.value("breeze_breaker_state", state="open") == 1
    opened = "breeze_breaker_opened_total"
    assert after.value(opened) - before.value(opened) == 1
    assert (
        after.value("breeze_http_requests_total", route="quotes", status="503")
        - before.value("breeze_http_requests_total", route="quotes", status="503")
        == 1
    )


def test_refusals_are_counted_per_key_name(api, live_session, make_key, keys_required, scrape):
    _, quotes_only = make_key("dashboard", scopes=("quotes",))
    before = scrape()

    api.post(
        "/breeze/quotes", {"stock_code": "RELIND"}, format="json", HTTP_X_PROXY_KEY=quotes_only
    )
    api.post("/breeze/depth", {"stock_code": "RELIND"}, format="json", HTTP_X_PROXY_KEY=quotes_only)
    api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json")
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("breeze_client_requests_total", key="dashboard") == 1
    assert delta("breeze_client_refusals_total", key="dashboard", code="scope_denied") == 1
    assert delta("breeze_client_refusals_total", key="none", code="client_key_required") == 1


def test_history_calls_saved_by_the_store_are_counted(api, live_session, scrape):
    body = {
        "stock_code": "RELIND",
        "exchange_code": "NSE",
        "interval": "1day",
        "from_date": "2025-01-01",
        "to_date": "2025-03-31",
    }
    assert api.post("/breeze/historical", body, format="json").status_code == HTTPStatus.OK
    before = scrape()

    again = api.post("/breeze/historical", {**body, "to_date": "2025-03-30"}, format="json")
    after = scrape()

    assert again.status_code == HTTPStatus.OK
    saved = "breeze_history_upstream_calls_saved_total"
    assert after.value(saved) - before.value(saved) >= 1
    assert after.value("breeze_history_candles") > 0


def test_nothing_is_recorded_when_metrics_are_off(api, live_session, scrape):
    from breeze import telemetry

    before = scrape()
    telemetry.set_enabled(False)
    _quote(api)
    telemetry.set_enabled(True)
    after = scrape()

    assert after.value("breeze_http_requests_total", route="quotes") == before.value(
        "breeze_http_requests_total", route="quotes"
    )


# --- the bearer token ---------------------------------------------------------------------------


def test_metrics_are_open_on_the_embedded_default(client, settings):
    settings.METRICS_TOKEN = ""
    assert settings.BREEZE_SANDBOX

    assert client.get("/metrics").status_code == HTTPStatus.OK


def test_production_without_a_token_refuses_metrics(client, settings):
    settings.METRICS_TOKEN = ""
    settings.BREEZE_SANDBOX = False
    settings.DEBUG = False

    response = client.get("/metrics")

    assert response.status_code == HTTPStatus.FORBIDDEN
    body = response.json()
    assert set(body) == {"error", "message", "details", "code"}
    assert body["code"] == "metrics_token_not_configured"
    assert b"breeze_http_requests" not in response.content


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "metrics_token_required"),
        ("Bearer", "metrics_token_required"),
        (f"Basic {TOKEN}", "metrics_token_required"),
        ("Bearer wrong-token", "metrics_token_invalid"),
        (f"Bearer {TOKEN}x", "metrics_token_invalid"),
    ],
)
def test_a_token_is_required_once_configured(client, settings, header, code):
    leakcheck.remember_secret(TOKEN)
    settings.METRICS_TOKEN = TOKEN  # demanded on the embedded default too, once set
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["code"] == code
    assert TOKEN.encode() not in response.content


def test_the_right_token_opens_metrics_in_production(client, settings):
    leakcheck.remember_secret(TOKEN)
    settings.METRICS_TOKEN = TOKEN
    settings.BREEZE_SANDBOX = False

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == HTTPStatus.OK
    assert b"breeze_http_requests_total" in response.content or b"breeze_budget_used" in (
        response.content
    )
    assert TOKEN.encode() not in response.content


def test_only_get_is_allowed(client):
    response = client.post("/metrics")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["code"] == "method_not_allowed"


def test_the_token_is_a_redacted_secret():
    """Read from the environment like every secret, and scrubbed from every log line."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)},
        "METRICS_TOKEN": TOKEN,
        "BREEZE_PROXY_TESTING": "true",
    }
    code = (
        "import json; from breeze_proxy import settings as s; "
        f"print(json.dumps({{'token': s.METRICS_TOKEN == {TOKEN!r}, "
        f"'redacted': {TOKEN!r} in s.REDACT_VALUES}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )

    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"token": True, "redacted": True}


def test_batched_latencies_land_in_the_buckets_observe_would_use():
    """The request path's latencies reach prometheus-client in batches; the buckets and sum
    they add are those ``Histogram.observe`` gives the same values."""
    from prometheus_client import CollectorRegistry, Histogram

    from breeze import telemetry

    def samples(metric, **labels):
        return {
            (s.name.rsplit("_", 1)[-1], s.labels.get("le")): s.value
            for family in metric.collect()
            for s in family.samples
            if all(s.labels.get(k) == v for k, v in labels.items())
            and not s.name.endswith("_created")
        }

    durations = [0.0005, 0.001, 0.003, 0.2, 0.2, 7.0, 50.0]
    reference = Histogram(
        "reference_seconds", "", buckets=telemetry.HTTP_BUCKETS, registry=CollectorRegistry()
    )
    telemetry.push_prometheus()
    before = samples(telemetry.HTTP_LATENCY, route="quotes", method="GET")
    for seconds in durations:
        reference.observe(seconds)
        telemetry.record_request("quotes", "GET", 200, seconds)
    telemetry.push_prometheus()
    after = samples(telemetry.HTTP_LATENCY, route="quotes", method="GET")

    added = {key: value - before.get(key, 0.0) for key, value in after.items()}
    assert added == pytest.approx(samples(reference))
