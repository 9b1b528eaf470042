"""Market endpoints end to end: proxy → real breeze-connect → simulator over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def _post(api, path: str, body: dict, prefix: str = "/breeze"):
    return api.post(f"{prefix}/{path}", body, format="json")


def _next_weekly_expiry() -> date:
    from breeze_sim.instruments import weekly_expiries
    from breeze_sim.market_time import system_clock, to_ist_naive

    return weekly_expiries(to_ist_naive(system_clock()).date())[0]


@pytest.mark.parametrize("prefix", ["/breeze", "/api/breeze"])
def test_cash_quote_returns_breeze_rows_with_nse_first(api, live_session, prefix):
    response = _post(api, "quotes", {"stock_code": "RELIND", "exchange_code": "NSE"}, prefix)

    assert response.status_code == HTTPStatus.OK
    rows = response.json()["Success"]
    assert rows[0]["exchange_code"] == "NSE"
    nse = next(row for row in rows if row["exchange_code"] == "NSE")
    assert nse["stock_code"] == "RELIND"
    assert isinstance(nse["ltp"], float | int)
    assert nse["ltp"] > 0
    assert isinstance(nse["best_bid_quantity"], str)
    assert response["X-Cache"] in {"hit", "miss"}
    assert "as_of" in response.json()


def test_quote_defaults_and_case_are_normalised(api, live_session):
    response = _post(api, "quotes", {"stock_code": "relind", "exchange_code": "nse"})

    assert response.status_code == HTTPStatus.OK


def _listed_strike(api, expiry: date) -> float:
    chain = {"stock_code": "NIFTY", "expiry_date": expiry.isoformat(), "right": "call"}
    rows = _post(api, "option-chain", chain).json()["Success"]
    return sorted(row["strike_price"] for row in rows)[len(rows) // 2]


def test_option_quote(api, live_session):
    expiry = _next_weekly_expiry()
    strike = _listed_strike(api, expiry)
    body = {
        "stock_code": "NIFTY",
        "exchange_code": "NFO",
        "product_type": "options",
        "expiry_date": expiry.isoformat(),
        "right": "call",
        "strike_price": strike,
    }

    response = _post(api, "quotes", body)

    assert response.status_code == HTTPStatus.OK, response.json()
    row = response.json()["Success"][0]
    assert row["exchange_code"] == "NFO"
    assert row["right"] == "Call"
    assert float(row["strike_price"]) == strike


def test_depth_is_best_bid_and_offer_only(api, live_session):
    response = _post(api, "depth", {"stock_code": "TCS"})

    assert response.status_code == HTTPStatus.OK
    row = next(r for r in response.json()["Success"] if r["exchange_code"] == "NSE")
    assert row["levels"] == 1
    assert row["best_bid_price"] <= row["best_offer_price"]
    assert "open" not in row


def test_historical_cash_daily_default_interval(api, live_session):
    today = date.today()
    body = {
        "stock_code": "RELIND",
        "from_date": (today - timedelta(days=30)).isoformat(),
        "to_date": today.isoformat(),
    }

    response = _post(api, "historical", body)

    assert response.status_code == HTTPStatus.OK, response.json()
    candles = response.json()["Success"]
    assert len(candles) >= 15
    stamps = [c["datetime"] for c in candles]
    assert stamps == sorted(stamps)
    for candle in candles:
        assert candle["low"] <= min(candle["open"], candle["close"])
        assert candle["high"] >= max(candle["open"], candle["close"])


def test_historical_accepts_v1_interval_names(api, live_session):
    today = date.today()
    body = {
        "stock_code": "INFTEC",
        "interval": "minute",
        "from_date": f"{(today - timedelta(days=7)).isoformat()}T09:15:00",
        "to_date": f"{today.isoformat()}T15:30:00",
    }

    response = _post(api, "historical", body)

    # The whole range, past Breeze's 1000-candle wall, in the fewest pages
    assert response.status_code == HTTPStatus.OK, response.json()
    answer = response.json()
    assert answer["complete"] is True
    candles = len(answer["Success"])
    assert candles > 1000
    assert answer["upstream_calls"] == -(-candles // 1000)


def test_historical_option_contract(api, live_session):
    expiry = _next_weekly_expiry()
    start = max(date.today() - timedelta(days=5), expiry - timedelta(days=20))
    strike = _listed_strike(api, expiry)
    body = {
        "stock_code": "NIFTY",
        "exchange_code": "NFO",
        "product_type": "options",
        "interval": "30minute",
        "from_date": start.isoformat(),
        "to_date": date.today().isoformat(),
        "expiry_date": expiry.isoformat(),
        "right": "put",
        "strike_price": strike,
    }

    response = _post(api, "historical", body)

    assert response.status_code in (HTTPStatus.OK, HTTPStatus.NOT_FOUND), response.json()
    if response.status_code == HTTPStatus.OK:
        candle = response.json()["Success"][0]
        assert candle["right"] == "Put"
        assert candle["strike_price"] == strike


def test_option_chain(api, live_session):
    expiry = _next_weekly_expiry()
    body = {"stock_code": "NIFTY", "expiry_date": expiry.isoformat(), "right": "call"}

    response = _post(api, "option-chain", body)

    assert response.status_code == HTTPStatus.OK, response.json()
    rows = response.json()["Success"]
    strikes = {row["strike_price"] for row in rows}
    assert len(strikes) > 10
    assert all(row["right"] == "Call" for row in rows)


def test_unknown_stock_is_404_no_data(api, live_session):
    response = _post(api, "quotes", {"stock_code": "NOSUCH"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "no_data"


@pytest.mark.parametrize("path", ["quotes", "depth", "historical", "option-chain"])
def test_no_session_is_401_saying_what_to_do(api, sim, db, path):
    body = {"stock_code": "RELIND", "from_date": "2025-01-01", "to_date": "2025-01-31"}
    if path == "option-chain":
        body = {"stock_code": "NIFTY", "expiry_date": "2025-01-30", "right": "call"}
    if path in ("quotes", "depth"):
        body = {"stock_code": "RELIND"}

    response = _post(api, path, body)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "session_missing"
    assert "api-session" in response.json()["message"]
    assert sim.stats()["total_calls"] == 0


def test_second_client_uses_stored_session_without_customerdetails(api, live_session, sim):
    from breeze.gateway import client as gateway

    gateway._client_slot = None  # as a fresh worker process would start
    before = sim.stats()["customerdetails_calls"]

    response = _post(api, "quotes", {"stock_code": "HDFBAN"})

    assert response.status_code == HTTPStatus.OK
    assert sim.stats()["customerdetails_calls"] == before


def test_health_reports_session(api, live_session):
    body = api.get("/breeze/health").json()

    assert body["status"] == "ok"
    assert body["session_active"] is True
    assert body["session_valid"] is True
    assert body["upstream"] == "simulator"
    assert body["version"]


def test_root_probe_touches_nothing(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_declared_json_is_refused_even_when_its_answer_is_cached(
    client, live_session, sim, content_type
):
    body = json.dumps({"stock_code": "RELIND"})
    cached = client.post("/breeze/quotes", body, content_type="application/json")
    calls = sim.stats()["total_calls"]

    refused = client.post("/breeze/quotes", body, content_type=content_type)

    assert cached.status_code == HTTPStatus.OK
    assert refused.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert refused.json()["code"] == "unsupported_media_type"
    assert sim.stats()["total_calls"] == calls
