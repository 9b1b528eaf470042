"""Two proxy instances (separate gunicorn processes on separate ports) share one session, one
cache, one rate budget and one circuit breaker through PostgreSQL and Redis."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(180)]

CODES = ["RELIND", "TCS", "INFTEC", "HDFBAN", "ICIBAN", "STABAN", "NIFTY", "CNXBAN"]


def test_session_activated_on_one_serves_quotes_on_the_other(a_and_b, sim):
    a, b = a_and_b

    activated = a.activate(sim.issue_session())
    quote = b.quote()

    assert activated.status_code == HTTPStatus.OK
    assert quote.status_code == HTTPStatus.OK, quote.text
    assert quote.json()["Success"][0]["stock_code"] == "RELIND"
    assert sim.stats()["customerdetails_calls"] == 1, "b exchanged the token again"
    assert b.quote("TCS").status_code == HTTPStatus.OK


def test_session_survives_a_restart(a_and_b, sim):
    a, _ = a_and_b
    a.activate(sim.issue_session())

    a.restart()
    quote = a.quote("INFTEC")

    assert quote.status_code == HTTPStatus.OK
    assert sim.stats()["customerdetails_calls"] == 1


def test_cached_quote_on_one_serves_the_other(a_and_b, sim):
    a, b = a_and_b
    a.activate(sim.issue_session())

    first = a.quote("HDFBAN")
    second = b.quote("HDFBAN")

    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "hit"
    assert second.json()["as_of"] == first.json()["as_of"]
    assert sim.stats()["calls"]["quotes"] == 1


def test_rate_budget_is_shared(a_and_b, sim):
    a, b = a_and_b
    a.activate(sim.issue_session())  # activation's customerdetails call counts too

    answers = [(a if index % 2 else b).quote(code) for index, code in enumerate(CODES * 2)]

    statuses = [r.status_code for r in answers]
    assert sim.stats()["total_calls"] <= 6, "the two instances spent more than one budget"
    assert statuses.count(HTTPStatus.OK) == 10  # 5 fetched, and each again from the cache
    assert HTTPStatus.INTERNAL_SERVER_ERROR not in statuses
    refused = [r for r in answers if r.status_code == HTTPStatus.TOO_MANY_REQUESTS]
    assert refused, statuses
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert sim.stats()["rate_limited"] == 0


def test_breaker_opened_by_one_is_open_for_the_other(a_and_b, sim):
    a, b = a_and_b
    a.activate(sim.issue_session())
    sim.set_fault("http_error", status=503)

    failures = [a.quote(code) for code in CODES[:3]]
    calls = sim.stats()["total_calls"]
    refused = b.quote(CODES[4])

    assert [r.status_code for r in failures] == [HTTPStatus.BAD_GATEWAY] * 3
    assert refused.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert refused.json()["code"] == "circuit_open"
    assert int(refused.headers["Retry-After"]) >= 1
    assert sim.stats()["total_calls"] == calls


def test_concurrent_identical_requests_across_instances_make_one_call(a_and_b, sim):
    from concurrent.futures import ThreadPoolExecutor

    a, b = a_and_b
    a.activate(sim.issue_session())
    sim.configure(latency_ms=400)
    sim.reset()

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: (a if i % 2 else b).quote("STABAN"), range(16)))

    assert [r.status_code for r in answers] == [HTTPStatus.OK] * 16
    assert sim.stats()["calls"]["quotes"] == 1
