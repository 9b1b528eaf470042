"""Prices, candles, quotes and option chains at a fixed simulated time (Mon 30-Nov-2026 11:00:30).

A frozen clock makes market-hours behaviour testable whatever day the suite runs on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.client import login, sdk_body, v1_headers, v2_headers
from breeze_sim.endpoints import expiry_label
from breeze_sim.instruments import monthly_expiries, weekly_expiries
from breeze_sim.market_time import last_tuesday, parse_request_datetime
from breeze_sim.universe import universe_for

NOW = datetime(2026, 11, 30, 11, 0, 30)


@pytest.fixture(scope="module")
def frozen() -> Iterator[SimulatorServer]:
    with SimulatorServer(clock=lambda: NOW) as server:
        yield server


@pytest.fixture(scope="module")
def ftoken(frozen: SimulatorServer) -> str:
    return login(frozen.api_url, frozen.issue_session(), DEFAULT_API_KEY)


def v1(sim: SimulatorServer, token: str, endpoint: str, payload: dict[str, Any]) -> dict:
    body = sdk_body(payload)
    headers = v1_headers(
        body, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )
    return requests.get(sim.api_url + endpoint, data=body, headers=headers, timeout=30).json()


def v2(sim: SimulatorServer, token: str, **params: str) -> dict:
    headers = v2_headers(api_key=DEFAULT_API_KEY, session_token=token)
    return requests.get(
        sim.api_v2_url + "historicalcharts", params=params, headers=headers, timeout=30
    ).json()


def test_expiry_calendar() -> None:
    assert last_tuesday(2026, 11) == datetime(2026, 11, 24).date()
    # 24-Nov-2026 is a holiday (Guru Nanak Jayanti): November's expiry moved to Monday 23rd
    assert monthly_expiries(datetime(2026, 11, 2).date())[0] == datetime(2026, 11, 23).date()
    assert monthly_expiries(NOW.date()) == [
        datetime(2026, 12, 29).date(),
        datetime(2027, 1, 26).date(),
        datetime(2027, 2, 23).date(),
    ]
    weeks = weekly_expiries(NOW.date())
    assert [d.isoformat() for d in weeks] == [
        "2026-12-01",
        "2026-12-08",
        "2026-12-15",
        "2026-12-22",
    ]
    universe = universe_for(NOW.date())
    # NIFTY: the four weeklies plus the three monthlies, 41 strikes, calls and puts
    expiries = sorted(set(weeks) | set(monthly_expiries(NOW.date())))
    assert universe.option_expiries("NIFTY") == expiries
    assert len(universe.chain("NIFTY")) == len(expiries) * 41 * 2
    assert all(s % 50 == 0 for s in universe.strikes)


def test_request_dates_ignore_z() -> None:
    assert parse_request_datetime("2025-02-03T09:21:00.000Z") == datetime(2025, 2, 3, 9, 21)
    assert parse_request_datetime("2025-02-03T09:21:00+05:30") == datetime(2025, 2, 3, 9, 21)
    assert parse_request_datetime("03-Feb-2025") == datetime(2025, 2, 3)
    assert parse_request_datetime("yesterday") is None


def test_no_candles_in_the_future(frozen: SimulatorServer, ftoken: str) -> None:
    rows = v2(
        frozen,
        ftoken,
        interval="1minute",
        from_date="2026-11-30T09:00:00.000Z",
        to_date="2026-11-30T23:59:00.000Z",
        stock_code="RELIND",
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert rows[0]["datetime"] == "2026-11-30 09:15:00"
    assert rows[-1]["datetime"] == "2026-11-30 10:59:00"  # 11:00 has not closed yet
    assert len(rows) == 105
    days = v2(
        frozen,
        ftoken,
        interval="1day",
        from_date="2026-11-23T00:00:00.000Z",
        to_date="2026-12-05T00:00:00.000Z",
        stock_code="RELIND",
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert [d["datetime"][:10] for d in days][-1] == "2026-11-27"  # today's day is not done


def test_v2_cap_keeps_last_1000(frozen: SimulatorServer, ftoken: str) -> None:
    rows = v2(
        frozen,
        ftoken,
        interval="1minute",
        from_date="2026-11-16T09:00:00.000Z",
        to_date="2026-11-30T15:30:00.000Z",
        stock_code="TCS",
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert len(rows) == 1000
    assert rows[-1]["datetime"] == "2026-11-30 10:59:00"
    stamps = [r["datetime"] for r in rows]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 1000
    for row in rows:
        clock = row["datetime"][11:]
        assert "09:15:00" <= clock <= "15:29:00"
        assert datetime.fromisoformat(row["datetime"]).weekday() < 5


def test_v1_and_v2_agree(frozen: SimulatorServer, ftoken: str) -> None:
    span = {"from_date": "2026-11-27T10:00:00.000Z", "to_date": "2026-11-27T11:00:00.000Z"}
    one = v1(
        frozen,
        ftoken,
        "historicalcharts",
        {"interval": "5minute", **span, "stock_code": "ICIBAN", "exchange_code": "NSE"},
    )
    two = v2(frozen, ftoken, interval="5minute", stock_code="ICIBAN", exch_code="NSE", **span)
    assert len(one["Success"]) == len(two["Success"]) == 13
    for a, b in zip(one["Success"], two["Success"], strict=True):
        assert a["datetime"] == b["datetime"]
        assert float(a["close"]) == b["close"]
        assert int(a["volume"]) == b["volume"]


def test_intervals_aggregate_consistently(frozen: SimulatorServer, ftoken: str) -> None:
    span = {
        "from_date": "2026-11-27T09:15:00.000Z",
        "to_date": "2026-11-27T09:44:59.000Z",
        "stock_code": "HDFBAN",
        "exch_code": "NSE",
        "product_type": "cash",
    }
    minutes = v2(frozen, ftoken, interval="1minute", **span)["Success"]
    (half_hour,) = v2(frozen, ftoken, interval="30minute", **span)["Success"]
    assert len(minutes) == 30
    assert half_hour["open"] == minutes[0]["open"]
    assert half_hour["close"] == minutes[-1]["close"]
    assert half_hour["high"] == max(m["high"] for m in minutes)
    assert half_hour["low"] == min(m["low"] for m in minutes)
    assert half_hour["volume"] == pytest.approx(sum(m["volume"] for m in minutes), abs=30)


def test_quote_during_market_hours_matches_candles(frozen: SimulatorServer, ftoken: str) -> None:
    nse, bse = v1(
        frozen,
        ftoken,
        "quotes",
        {"stock_code": "STABAN", "exchange_code": "NSE", "product_type": "cash"},
    )["Success"]
    assert nse["ltt"].startswith("30-Nov-2026 10:59:")
    assert bse["exchange_code"] == "BSE"
    minutes = v2(
        frozen,
        ftoken,
        interval="1minute",
        from_date="2026-11-30T09:15:00.000Z",
        to_date="2026-11-30T11:00:00.000Z",
        stock_code="STABAN",
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert nse["ltp"] == minutes[-1]["close"]
    assert nse["open"] == minutes[0]["open"]
    assert nse["high"] == max(m["high"] for m in minutes)
    assert int(nse["total_quantity_traded"]) == pytest.approx(
        sum(m["volume"] for m in minutes), abs=110
    )
    previous = v2(
        frozen,
        ftoken,
        interval="1day",
        from_date="2026-11-27T00:00:00.000Z",
        to_date="2026-11-27T00:00:00.000Z",
        stock_code="STABAN",
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert nse["previous_close"] == previous[0]["close"]
    assert nse["ltp_percent_change"] == round((nse["ltp"] / nse["previous_close"] - 1) * 100, 2)


def test_option_chain_and_quotes_agree(frozen: SimulatorServer, ftoken: str) -> None:
    expiry = expiry_label(weekly_expiries(NOW.date())[1])
    chain = v1(
        frozen,
        ftoken,
        "optionchain",
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "expiry_date": expiry,
            "product_type": "options",
            "right": "put",
        },
    )["Success"]
    assert len(chain) == 41
    assert {r["right"] for r in chain} == {"Put"}
    ltps = [r["ltp"] for r in chain]
    assert ltps == sorted(ltps)  # puts get dearer as the strike rises
    row = chain[20]
    quote = v1(
        frozen,
        ftoken,
        "quotes",
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "expiry_date": row["expiry_date"],
            "product_type": "options",
            "right": "put",
            "strike_price": f"{row['strike_price']:.0f}",
        },
    )["Success"][0]
    assert quote["ltp"] == row["ltp"]
    assert quote["spot_price"] == row["spot_price"]
    both = v1(
        frozen,
        ftoken,
        "optionchain",
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "expiry_date": expiry,
            "product_type": "options",
            "strike_price": f"{row['strike_price']:.0f}",
        },
    )
    assert [r["right"] for r in both["Success"]] == ["Call", "Put"]
    futures = v1(
        frozen,
        ftoken,
        "optionchain",
        {"stock_code": "NIFTY", "exchange_code": "NFO", "product_type": "futures"},
    )["Success"]
    assert len(futures) == 3  # the current and the next two monthly expiries
    assert all(f["right"] == "*" for f in futures)
    unknown = v1(  # BANKNIFTY lists monthly contracts only: no weekly expiry
        frozen,
        ftoken,
        "optionchain",
        {
            "stock_code": "CNXBAN",
            "exchange_code": "NFO",
            "expiry_date": expiry,
            "product_type": "options",
            "right": "call",
        },
    )
    assert unknown == {"Success": [], "Status": 200, "Error": None}


def test_candles_are_well_formed_for_every_kind(frozen: SimulatorServer, ftoken: str) -> None:
    universe = universe_for(NOW.date())
    future, option = universe.futures[0], universe.options[0]
    requests_ = [
        {"stock_code": "INFTEC", "exch_code": "NSE", "product_type": "cash"},
        {"stock_code": "INFTEC", "exch_code": "BSE", "product_type": "cash"},
        {"stock_code": "CNXBAN", "exch_code": "NSE", "product_type": "cash"},
        {
            "stock_code": "NIFTY",
            "exch_code": "NFO",
            "product_type": "futures",
            "expiry_date": expiry_label(future.expiry),
        },
        {
            "stock_code": "NIFTY",
            "exch_code": "NFO",
            "product_type": "options",
            "expiry_date": expiry_label(option.expiry),
            "right": "call",
            "strike_price": f"{option.strike:.0f}",
        },
    ]
    for params in requests_:
        rows = v2(
            frozen,
            ftoken,
            interval="30minute",
            from_date="2026-11-20T00:00:00.000Z",
            to_date="2026-11-30T23:00:00.000Z",
            **params,
        )["Success"]
        assert rows, params
        for row in rows:
            assert 0 < row["low"] <= min(row["open"], row["close"]), row
            assert row["high"] >= max(row["open"], row["close"]), row
            assert row["volume"] >= 0
            assert (row["volume"] == 0) == (params["stock_code"] == "CNXBAN")


def test_same_request_same_answer(frozen: SimulatorServer, ftoken: str) -> None:
    payload = {"stock_code": "NIFTY", "exchange_code": "NSE", "product_type": "cash"}
    assert v1(frozen, ftoken, "quotes", payload) == v1(frozen, ftoken, "quotes", payload)
    params = {
        "interval": "1second",
        "from_date": "2026-11-27T14:29:59.000Z",
        "to_date": "2026-11-27T14:30:01.000Z",
        "stock_code": "RELIND",
        "exch_code": "NSE",
        "product_type": "cash",
    }
    first = v2(frozen, ftoken, **params)
    assert [r["datetime"][11:] for r in first["Success"]] == ["14:29:59", "14:30:00", "14:30:01"]
    assert first == v2(frozen, ftoken, **params)


def test_bad_dates_and_intervals(frozen: SimulatorServer, ftoken: str) -> None:
    base = {"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"}
    bad_date = v1(
        frozen,
        ftoken,
        "historicalcharts",
        {
            "interval": "minute",
            "from_date": "03/02/2025",
            "to_date": "2025-02-03T10:00:00.000Z",
            **base,
        },
    )
    assert bad_date == {
        "Success": None,
        "Status": 500,
        "Error": "Invalid from_date: expected YYYY-MM-DDTHH:MM:SS.000Z.",
    }
    reversed_range = v1(
        frozen,
        ftoken,
        "historicalcharts",
        {
            "interval": "minute",
            "from_date": "2025-02-04T10:00:00.000Z",
            "to_date": "2025-02-03T10:00:00.000Z",
            **base,
        },
    )
    assert reversed_range == {"Success": [], "Status": 200, "Error": None}
    bad_interval = v2(
        frozen,
        ftoken,
        interval="2minute",
        from_date="2025-02-03T09:00:00.000Z",
        to_date="2025-02-03T10:00:00.000Z",
        stock_code="RELIND",
        exch_code="NSE",
    )
    assert bad_interval == {"Success": None, "Status": 500, "Error": "Invalid interval: '2minute'."}


def test_real_clock_quote_is_deterministic_within_a_minute(
    sim: SimulatorServer, token: str
) -> None:
    payload = {"stock_code": "TCS", "exchange_code": "NSE", "product_type": "cash"}
    answers = [v1(sim, token, "quotes", payload) for _ in range(3)]
    # two of three consecutive calls are always in the same one-minute bucket
    assert answers[0] == answers[1] or answers[1] == answers[2]
