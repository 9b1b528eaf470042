"""The names people type are accepted everywhere; unknown ones are refused with suggestions and
without spending Breeze's budget; without a master, requests pass through as before."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instruments import resolver

pytestmark = pytest.mark.django_db


def _post(api, path: str, body: dict):
    return api.post(f"/breeze/{path}", body, format="json")


@pytest.mark.parametrize(
    ("body", "code", "symbol"),
    [
        ({"symbol": "RELIANCE"}, "RELIND", "RELIANCE"),
        ({"stock_code": "RELIANCE"}, "RELIND", "RELIANCE"),  # a symbol where a code goes
        ({"stock_code": "RELIND"}, "RELIND", "RELIANCE"),
        ({"symbol": "reliance "}, "RELIND", "RELIANCE"),
        ({"symbol": "NIFTY 50"}, "NIFTY", "NIFTY 50"),
        ({"symbol": "NIFTY"}, "NIFTY", "NIFTY 50"),
        ({"symbol": "BANKNIFTY"}, "CNXBAN", "NIFTY BANK"),
        ({"symbol": "NIFTY BANK"}, "CNXBAN", "NIFTY BANK"),
        ({"symbol": "INFY"}, "INFTEC", "INFY"),
        ({"symbol": "SENSEX", "exchange_code": "BSE"}, "BSESEN", "SENSEX"),
        ({"symbol": "RELIANCE", "exchange_code": "BSE"}, "RELIND", "RELIANCE"),
    ],
)
def test_names_people_type_resolve_to_breeze_codes(api, live_session, master, body, code, symbol):
    response = _post(api, "quotes", body)

    assert response.status_code == HTTPStatus.OK, response.content
    assert (response.json()["stock_code"], response.json()["symbol"]) == (code, symbol)
    assert response.json()["Success"][0]["stock_code"] == code


@pytest.mark.parametrize("path", ["quotes", "depth", "historical", "option-chain"])
def test_unknown_instrument_is_404_with_suggestions_and_no_upstream_call(
    api, live_session, master, sim, path
):
    bodies = {
        "quotes": {"symbol": "RELIANC"},
        "depth": {"symbol": "RELIANC"},
        "historical": {"symbol": "RELIANC", "from_date": "2025-02-03", "to_date": "2025-02-03"},
        "option-chain": {"symbol": "NIFTYY", "expiry_date": "2026-03-31", "right": "call"},
    }
    calls = sim.stats()["total_calls"]

    response = _post(api, path, bodies[path])

    assert response.status_code == HTTPStatus.NOT_FOUND
    body = response.json()
    assert body["code"] == "unknown_instrument"
    assert set(body) == {"error", "message", "details", "code"}
    assert body["details"]["suggestions"]
    assert len(body["details"]["suggestions"]) <= 5
    assert sim.stats()["total_calls"] == calls


def test_suggestions_are_close_names(master):
    index = resolver.current()
    assert index.suggestions("NSE", "RELIANC")[0] == "RELIANCE"
    assert "HDFCBANK" in index.suggestions("NSE", "HDFCBNK")
    assert index.suggestions("NSE", "INF")[:2] == ["INFTEC", "INFY"]


def test_option_for_an_expiry_or_strike_not_listed_is_404_with_the_nearest(
    api, live_session, master, sim
):
    expiries = api.get("/breeze/expiries?symbol=NIFTY").json()["expiries"]
    listed = expiries[0]["date"]
    calls = sim.stats()["total_calls"]
    option = {"symbol": "NIFTY", "exchange_code": "NFO", "product_type": "options", "right": "call"}

    bad_strike = _post(api, "quotes", {**option, "expiry_date": listed, "strike_price": "24001"})
    bad_expiry = _post(
        api, "quotes", {**option, "expiry_date": "2030-01-29", "strike_price": "24000"}
    )

    assert bad_strike.status_code == HTTPStatus.NOT_FOUND
    assert bad_strike.json()["code"] == "unknown_contract"
    assert len(bad_strike.json()["details"]["nearest_strikes"]) == 5
    assert bad_expiry.json()["details"]["nearest_expiries"]
    assert sim.stats()["total_calls"] == calls


def test_history_of_an_expired_contract_is_still_allowed(api, live_session, master):
    # The master lists today's contracts; Breeze keeps the history of expired ones.
    response = _post(
        api,
        "historical",
        {"symbol": "NIFTY", "exchange_code": "NFO", "product_type": "futures",
         "expiry_date": "2025-01-28", "interval": "1day", "from_date": "2024-12-02",
         "to_date": "2024-12-06"},
    )  # fmt: skip

    assert response.status_code == HTTPStatus.OK, response.content


def test_without_a_master_codes_pass_through_as_before(api, live_session, sim):
    response = _post(api, "quotes", {"stock_code": "RELIND"})
    unknown = _post(api, "quotes", {"stock_code": "NOSUCH"})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["symbol"] is None
    assert unknown.status_code == HTTPStatus.NOT_FOUND
    assert unknown.json()["code"] == "no_data"  # Breeze was asked, as before
    health = api.get("/breeze/health").json()
    assert health["instruments"] == {"loaded": False, "stale": True}


def test_symbol_and_code_naming_different_instruments_is_400(api, live_session, master):
    response = _post(api, "quotes", {"symbol": "RELIANCE", "stock_code": "TCS"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["details"]


def test_resolution_costs_no_query_once_warm_and_well_under_a_millisecond(master):
    resolver.current()  # warm
    samples = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(2000):
            started = time.perf_counter()
            resolver.resolve("NSE", "RELIANCE")
            resolver.resolve("NFO", "BANKNIFTY")
            samples.append(time.perf_counter() - started)

    samples.sort()
    p99_ms = samples[int(len(samples) * 0.99)] * 1000
    print(f"\n[resolution] two names: p50 {samples[1000] * 1e6:.1f} us, p99 {p99_ms * 1000:.1f} us")
    assert len(queries) == 0
    assert p99_ms < 1.0


def test_health_reports_the_master(api, master):
    health = api.get("/breeze/health").json()["instruments"]

    assert health["loaded"] is True
    assert health["stale"] is False
    assert health["rows"]["NSE"] >= 8
