"""The instrument endpoints: ranked search, one instrument, expiries and strikes for building
an option chain; scope ``instruments``; 503 until a master is loaded."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from tests.access.conftest import KEY_HEADER

pytestmark = pytest.mark.django_db


def test_search_ranks_exact_then_prefix_then_names(api, master):
    results = api.get("/breeze/instruments?q=reli&limit=5").json()["results"]

    assert results[0]["symbol"] == "RELIANCE"
    assert results[0]["type"] == "equity"  # cash lines before contracts
    assert {r["exchange"] for r in results[:2]} == {"NSE", "BSE"}
    first = results[0]
    assert first["stock_code"] == "RELIND"
    assert first["feed_token"] in ("4.1!2885", "1.1!500325")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=RELIND&exchange=NSE", ("NSE", "RELIANCE")),  # a Breeze code
        ("q=INE002A01018&exchange=NSE", ("NSE", "RELIANCE")),  # an ISIN
        ("q=hdfc%20b&exchange=nse", ("NSE", "HDFCBANK")),  # a company name
        ("q=nifty&exchange=NSE&type=index", ("NSE", "NIFTY 50")),
    ],
)
def test_search_by_code_isin_name_and_type(api, master, query, expected):
    results = api.get(f"/breeze/instruments?{query}").json()["results"]

    assert (results[0]["exchange"], results[0]["symbol"]) == expected


def test_one_instrument_by_symbol_or_code(api, master):
    by_symbol = api.get("/breeze/instruments/NSE/RELIANCE").json()
    by_code = api.get("/api/breeze/instruments/nse/RELIND").json()
    index = api.get("/breeze/instruments/NSE/NIFTY%2050").json()
    fno = api.get("/breeze/instruments/NFO/BANKNIFTY").json()

    assert by_symbol == by_code
    assert (by_symbol["token"], by_symbol["lot_size"], by_symbol["tick_size"]) == (
        "2885",
        1,
        "0.05",
    )
    assert (index["type"], index["feed_token"]) == ("index", "4.1!NIFTY 50")
    assert fno["stock_code"] == "CNXBAN"
    assert fno["expiries"]


def test_expiries_then_strikes_build_an_option_chain(api, live_session, master):
    expiries = api.get("/breeze/expiries?symbol=NIFTY&exchange=NFO").json()
    kinds = {e["kind"] for e in expiries["expiries"]}
    expiry = expiries["expiries"][0]["date"]
    strikes = api.get(f"/breeze/strikes?symbol=NIFTY&expiry={expiry}&right=call").json()
    chain = api.post(
        "/breeze/option-chain",
        {"symbol": "NIFTY", "expiry_date": expiry, "right": "call"},
        format="json",
    )

    assert kinds == {"weekly", "monthly"}
    assert expiries["stock_code"] == "NIFTY"
    assert set(strikes["strikes"]) == {"call"}
    assert chain.status_code == HTTPStatus.OK
    assert {str(int(row["strike_price"])) for row in chain.json()["Success"]} == set(
        strikes["strikes"]["call"]
    )


def test_banknifty_has_monthly_expiries_only(api, master):
    expiries = api.get("/breeze/expiries?symbol=BANKNIFTY").json()["expiries"]

    assert {e["kind"] for e in expiries} == {"monthly"}


def test_strikes_for_an_unlisted_expiry_name_the_nearest(api, master):
    response = api.get("/breeze/strikes?symbol=NIFTY&expiry=2030-01-29")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["details"]["nearest_expiries"]


@pytest.mark.parametrize(
    "path",
    ["/breeze/instruments?q=", "/breeze/instruments?q=REL&limit=0", "/breeze/expiries",
     "/breeze/strikes?symbol=NIFTY&expiry=tomorrow", "/breeze/instruments?q=REL&type=bond"],
)  # fmt: skip
def test_bad_parameters_are_400(api, master, path):
    response = api.get(path)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_request"


def test_unknown_instrument_is_404(api, master):
    response = api.get("/breeze/instruments/NSE/RELIANC")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["details"]["suggestions"][0] == "RELIANCE"


def test_without_a_master_the_endpoints_say_so(api, db):
    response = api.get("/breeze/instruments?q=REL")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["code"] == "instruments_unavailable"


def test_instruments_scope_is_required(api, master, make_key, settings):
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    _, quotes_only = make_key("quotes-only", scopes=("quotes",))
    _, allowed = make_key("browser", scopes=("instruments",))

    refused = api.get("/breeze/instruments?q=REL", **{KEY_HEADER: quotes_only})
    served = api.get("/breeze/instruments?q=REL", **{KEY_HEADER: allowed})

    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert served.status_code == HTTPStatus.OK
    assert served["RateLimit-Limit"] == "600"
