"""Protecting Breeze on the embedded default (one process, local-memory cache): cache,
request merging, the rate budget and queue, the circuit breaker, batch quotes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.core import checks
from django.db import connections
from rest_framework.test import APIClient

from breeze.gateway import breaker, budget

pytestmark = pytest.mark.django_db(transaction=True)

QUOTE = {"stock_code": "RELIND"}


def _quote(api, body=None):
    return api.post("/breeze/quotes", body or QUOTE, format="json")


def _concurrently(count: int, fn):
    barrier = threading.Barrier(count)

    def run(_):
        barrier.wait()
        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# --- cache -------------------------------------------------------------------------------


def test_second_identical_quote_is_a_cache_hit(api, live_session, sim):
    first = _quote(api)
    second = _quote(api)

    assert first["X-Cache"] == "miss"
    assert second["X-Cache"] == "hit"
    assert int(second["Age"]) >= 0
    assert second.json()["as_of"] == first.json()["as_of"]
    assert second.json()["stale"] is False
    assert sim.stats()["calls"].get("quotes") == 1


def test_differently_spelled_identical_request_shares_the_answer(api, live_session, sim):
    _quote(api, {"stock_code": "RELIND"})
    other = _quote(api, {"stock_code": "relind", "exchange_code": "nse", "product_type": "CASH"})

    assert other["X-Cache"] == "hit"
    assert sim.stats()["calls"].get("quotes") == 1


def test_quote_expires_after_its_ttl(api, live_session, sim, settings):
    settings.BREEZE_QUOTE_TTL_S = 0.2
    _quote(api)
    time.sleep(0.3)

    again = _quote(api)

    assert again["X-Cache"] == "miss"
    assert sim.stats()["calls"].get("quotes") == 2


def test_new_session_drops_cached_answers(api, sim, admin_key):
    api.post(
        "/breeze/admin/api-session",
        {"api_session": sim.issue_session()},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=admin_key,
    )
    _quote(api)
    api.post(
        "/breeze/admin/api-session",
        {"api_session": sim.issue_session()},
        format="json",
        HTTP_X_PROXY_ADMIN_KEY=admin_key,
    )

    after = _quote(api)

    assert after["X-Cache"] == "miss"
    assert sim.stats()["calls"].get("quotes") == 2


# --- request merging ---------------------------------------------------------------------


def test_100_concurrent_identical_requests_make_one_upstream_call(live_session, sim, settings):
    settings.BREEZE_QUOTE_TTL_S = 30  # stragglers must not outlive the answer on a slow machine
    sim.configure(latency_ms=300)

    responses = _concurrently(100, lambda: _quote(APIClient()))

    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 100
    assert sim.stats()["calls"].get("quotes") == 1
    assert sum(r["X-Cache"] == "miss" for r in responses) == 1


def test_merged_requests_share_the_error_too(live_session, sim):
    sim.set_fault("http_error", status=503)
    sim.configure(latency_ms=200)

    responses = _concurrently(20, lambda: _quote(APIClient()))

    assert {r.status_code for r in responses} == {HTTPStatus.BAD_GATEWAY}
    assert sim.stats()["calls"].get("quotes", 0) <= 2


# --- rate budget ---------------------------------------------------------------------------


def test_budget_never_exceeded_and_excess_gets_429_with_retry_after(live_session, sim, settings):
    settings.BREEZE_RATE_PER_MIN = 5
    settings.BREEZE_QUEUE_WAIT_S = 0.3
    budget.reset()  # forget the session activation's customerdetails call
    bodies = [
        {"stock_code": code}
        for code in ("RELIND", "TCS", "INFTEC", "HDFBAN", "ICIBAN", "STABAN", "NIFTY", "CNXBAN")
    ]

    responses = [_quote(APIClient(), body) for body in bodies]

    statuses = [r.status_code for r in responses]
    assert statuses.count(HTTPStatus.OK) == 5
    assert statuses.count(HTTPStatus.TOO_MANY_REQUESTS) == 3
    refused = next(r for r in responses if r.status_code == HTTPStatus.TOO_MANY_REQUESTS)
    assert refused.json()["code"] == "rate_budget_exhausted"
    assert int(refused["Retry-After"]) >= 1
    assert sim.stats()["calls"]["quotes"] == 5


def test_queued_request_waits_for_a_slot(live_session, sim, settings):
    settings.BREEZE_RATE_PER_MIN = 2
    settings.BREEZE_QUEUE_WAIT_S = 5
    budget.reset()

    budget.acquire()
    budget.acquire()
    started = time.monotonic()
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the type is asserted below
        budget.acquire(wait_s=0.2)
    assert type(refused.value).__name__ == "RateBudgetExhausted"
    assert time.monotonic() - started < 1


def test_history_yields_the_last_slots_to_quotes(live_session, settings):
    settings.BREEZE_RATE_PER_MIN = 10  # reserve: the last 1 slot is for interactive calls
    budget.reset()
    for _ in range(9):
        budget.acquire(priority=budget.BULK, wait_s=0)

    with pytest.raises(Exception, match="budget"):
        budget.acquire(priority=budget.BULK, wait_s=0)
    budget.acquire(priority=budget.INTERACTIVE, wait_s=0)


def test_breeze_rate_limit_answer_pauses_the_budget(api, live_session, sim):
    sim.set_fault("rate_limit", count=1)

    first = _quote(api, {"stock_code": "TCS"})
    second = _quote(api, {"stock_code": "INFTEC"})

    assert first.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert first.json()["code"] == "upstream_rate_limited"
    assert second.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert second.json()["code"] == "rate_budget_exhausted"
    assert sim.stats()["calls"]["quotes"] == 1, "the paused budget still called Breeze"
    assert breaker.current_state() == "closed"


# --- circuit breaker ---------------------------------------------------------------------


def test_breaker_opens_serves_stale_and_recovers(api, live_session, sim, settings):
    settings.BREEZE_BREAKER_FAILURES = 3
    settings.BREEZE_BREAKER_RESET_S = 1
    settings.BREEZE_QUOTE_TTL_S = 0.05
    good = _quote(api)
    time.sleep(0.1)
    sim.set_fault("http_error", status=503)

    failures = [_quote(api, {"stock_code": code}) for code in ("TCS", "INFTEC", "HDFBAN")]
    calls_when_open = sim.stats()["total_calls"]
    stale = _quote(api)
    no_stale = _quote(api, {"stock_code": "ICIBAN"})

    assert [r.status_code for r in failures] == [HTTPStatus.BAD_GATEWAY] * 3
    assert breaker.current_state() == "open"
    assert stale.status_code == HTTPStatus.OK
    assert stale.json()["stale"] is True
    assert stale.json()["Success"] == good.json()["Success"]
    assert no_stale.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert no_stale.json()["code"] == "circuit_open"
    assert int(no_stale["Retry-After"]) >= 1
    assert sim.stats()["total_calls"] == calls_when_open, "an open breaker called Breeze"

    sim.clear_faults()
    time.sleep(1.1)
    recovered = _quote(api, {"stock_code": "ICIBAN"})

    assert recovered.status_code == HTTPStatus.OK
    assert breaker.current_state() == "closed"


def test_breaker_ignores_no_data_and_validation(api, live_session, settings):
    settings.BREEZE_BREAKER_FAILURES = 2

    for _ in range(4):
        _quote(api, {"stock_code": "NOSUCH"})
        _quote(api, {"stock_code": ""})

    assert breaker.current_state() == "closed"


def test_failed_probe_reopens(api, live_session, sim, settings):
    settings.BREEZE_BREAKER_FAILURES = 1
    settings.BREEZE_BREAKER_RESET_S = 0.5
    sim.set_fault("drop")
    _quote(api, {"stock_code": "TCS"})
    time.sleep(0.6)
    assert breaker.current_state() == "half_open"  # reset time is up, no probe yet

    # (another instrument: TCS's failure is still remembered for identical requests)
    probe = _quote(api, {"stock_code": "INFTEC"})

    assert probe.status_code == HTTPStatus.BAD_GATEWAY
    assert breaker.current_state() == "open"


# --- batch -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/breeze", "/api/breeze"])
def test_batch_answers_each_item_and_merges_duplicates(api, live_session, sim, prefix):
    _quote(api, {"stock_code": "TCS"})  # cached before the batch
    instruments = [
        {"stock_code": "RELIND"},
        {"stock_code": "RELIND"},
        {"stock_code": "TCS"},
        {"stock_code": "NOSUCH"},
        {"stock_code": "BAD!"},
        {"exchange_code": "NSE"},
    ]

    response = api.post(f"{prefix}/quotes/batch", {"instruments": instruments}, format="json")

    assert response.status_code == HTTPStatus.OK
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [200, 200, 200, 404, 400, 400]
    assert results[2]["cache"] == "hit"
    assert results[3]["error"]["code"] == "no_data"
    assert "stock_code" in results[4]["error"]["details"]
    assert sim.stats()["calls"]["quotes"] == 3  # TCS once before, RELIND and NOSUCH once


def test_batch_limits(api, live_session):
    too_many = api.post(
        "/breeze/quotes/batch", {"instruments": [{"stock_code": "TCS"}] * 51}, format="json"
    )
    empty = api.post("/breeze/quotes/batch", {"instruments": []}, format="json")
    not_list = api.post("/breeze/quotes/batch", {"instruments": "TCS"}, format="json")

    assert too_many.status_code == HTTPStatus.BAD_REQUEST
    assert empty.status_code == HTTPStatus.BAD_REQUEST
    assert not_list.status_code == HTTPStatus.BAD_REQUEST


def test_batch_without_session_is_one_401(api, sim):
    response = api.post(
        "/breeze/quotes/batch", {"instruments": [{"stock_code": "TCS"}]}, format="json"
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED


# --- configuration -------------------------------------------------------------------------


def test_system_check_warns_on_local_cache_with_several_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "2")

    warnings = [m for m in checks.run_checks() if m.id == "market.W001"]

    assert warnings
    assert "REDIS_URL" in warnings[0].hint


def test_no_warning_with_one_worker(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "1")

    assert not [m for m in checks.run_checks() if m.id == "market.W001"]
