"""SecurityMaster.zip read the way a consumer reads it, and the exchange calendar behind it.

The small master is served by a simulator frozen at Monday 2-Mar-2026, a date whose expiries
collide with holidays: Holi (Tue 3-Mar) moves that week's NIFTY weekly to Monday 2-Mar, Mahavir
Jayanti (Tue 31-Mar) moves March's NSE monthly to Monday 30-Mar, Ram Navami (Thu 26-Mar) moves the
BSE Thursday to Wednesday 25-Mar, and Bakri Id (Thu 28-May) moves May's BSE monthly to 27-May.
The full-size master is generated once for the module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import random
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.__main__ import build_parser
from breeze_sim.client import login, sdk_body, v1_headers, v2_headers
from breeze_sim.endpoints import expiry_label
from breeze_sim.instruments import (
    Instrument,
    Universe,
    isin_check_digit,
    synthetic_equities,
    synthetic_fno,
)
from breeze_sim.market_time import (
    HOLIDAYS,
    THURSDAY,
    TUESDAY,
    fmt_dd_mon_yyyy,
    is_trading_day,
    monthly_expiry_date,
    previous_trading_day,
    weekly_expiry_dates,
)
from breeze_sim.security_master import MEMBERS, security_master_zip
from breeze_sim.universe import universe_for

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 10, 0, 30)
FULL_DAY = date(2026, 11, 30)
FULL_NOW = datetime(2026, 11, 30, 11, 0, 30)
DMY = re.compile(r"\d{2}-[A-Z][a-z]{2}-\d{4}")

NSE_LIKE_HEADER_START = '"Token", "ShortName", "Series", "CompanyName", "ticksize", "Lotsize"'
FO_COLUMNS = {
    0: "Token",
    1: "InstrumentName",
    2: "ShortName",
    3: "Series",
    4: "ExpiryDate",
    5: "StrikePrice",
    6: "OptionType",
    27: "LotSize",
    28: "TickSize",
    29: "CompanyName",
    30: "ExchangeCode",
}


# ----------------------------------------------------------------------------- helpers


def parse_member(archive: zipfile.ZipFile, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header names and rows keyed by header name (quotes and the ", " quirk handled)."""
    text = archive.read(name).decode("utf-8")
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = next(reader)
    rows = [dict(zip(header, row, strict=True)) for row in reader if row]
    return header, rows


def parse_dmy(text: str) -> date:
    return datetime.strptime(text, "%d-%b-%Y").date()


def expiries(rows: list[dict[str, str]], code: str, series: str) -> list[date]:
    found = {r["ExpiryDate"] for r in rows if r["ShortName"] == code and r["Series"] == series}
    return sorted(parse_dmy(text) for text in found)


def weekday_rule_holds(expiry: date, weekday: int) -> bool:
    """``expiry`` is the scheduled weekday, or the last trading day before it (holiday shift)."""
    nominal = expiry + timedelta(days=(weekday - expiry.weekday()) % 7)
    between = [expiry + timedelta(days=k) for k in range(1, (nominal - expiry).days + 1)]
    return is_trading_day(expiry) and all(not is_trading_day(d) for d in between)


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


def quote_body(inst: Instrument) -> dict[str, str]:
    if not inst.is_derivative:
        return {
            "stock_code": inst.stock_code,
            "exchange_code": inst.exchange,
            "product_type": "cash",
        }
    assert inst.expiry is not None
    option = inst.kind == "option"
    return {
        "stock_code": inst.stock_code,
        "exchange_code": inst.exchange,
        "expiry_date": expiry_label(inst.expiry),
        "product_type": "options" if option else "futures",
        "right": ("call" if inst.right == "CE" else "put") if option else "others",
        "strike_price": f"{inst.strike:g}" if option else "0",
    }


def frozen(moment: datetime, **kwargs: Any) -> Iterator[tuple[SimulatorServer, str]]:
    """A simulator stopped at ``moment`` and a session token; no rate limit (many calls here)."""
    limits = {"rate_per_min": 1_000_000, "rate_per_day": 1_000_000}
    with SimulatorServer(clock=lambda: moment, **limits, **kwargs) as server:
        yield server, login(server.api_url, server.issue_session(), DEFAULT_API_KEY)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[SimulatorServer, str]]:
    yield from frozen(NOW)


@pytest.fixture(scope="module")
def archive(small: tuple[SimulatorServer, str]) -> zipfile.ZipFile:
    server, _token = small
    response = requests.get(server.security_master_url, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


@pytest.fixture(scope="module")
def members(archive: zipfile.ZipFile) -> dict[str, tuple[list[str], list[dict[str, str]]]]:
    return {name: parse_member(archive, name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def full_build() -> tuple[float, bytes]:
    """The full-size master, generated once (timed: a cold build, nothing cached yet)."""
    started = time.perf_counter()
    payload = security_master_zip(FULL_DAY, "full")
    return time.perf_counter() - started, payload


@pytest.fixture(scope="module")
def full_members(
    full_build: tuple[float, bytes],
) -> dict[str, tuple[list[str], list[dict[str, str]]]]:
    archive = zipfile.ZipFile(io.BytesIO(full_build[1]))
    return {name: parse_member(archive, name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def full_sim(full_build: tuple[float, bytes]) -> Iterator[tuple[SimulatorServer, str]]:
    yield from frozen(FULL_NOW, master_size="full")


# ----------------------------------------------------------------------------- layout


def test_member_names_and_header_quirks(archive: zipfile.ZipFile) -> None:
    assert archive.namelist() == [
        "NSEScripMaster.txt",
        "BSEScripMaster.txt",
        "FONSEScripMaster.txt",
        "FOBSEScripMaster.txt",
        "CDNSEScripMaster.txt",
        "MCXScripMaster.txt",
    ]
    assert list(MEMBERS) == archive.namelist()
    for name in ("NSEScripMaster.txt", "BSEScripMaster.txt"):
        lines = archive.read(name).decode().split("\r\n")
        header, first = lines[0], lines[1]
        assert header.startswith(NSE_LIKE_HEADER_START), name
        assert header.endswith('"ExchangeCode"')
        # What pandas (and so the SDK's get_names) sees: a leading space inside the name
        raw = next(csv.reader([header]))
        assert raw[:3] == ["Token", ' "ShortName"', ' "Series"']
        assert raw[-1] == ' "ExchangeCode"'
        # data rows: every cell quoted, bare commas
        assert first.startswith('"')
        assert first.endswith('"')
        assert '", "' not in first
        assert '","' in first
        assert len(next(csv.reader([first]))) == len(raw) == 61
    for name in ("FONSEScripMaster.txt", "FOBSEScripMaster.txt", "CDNSEScripMaster.txt"):
        header = archive.read(name).decode().split("\r\n")[0]
        assert header.startswith('"Token","InstrumentName","ShortName","Series","ExpiryDate"')
        names = next(csv.reader([header]))
        assert len(names) == 31
        assert {i: names[i] for i in FO_COLUMNS} == FO_COLUMNS
    mcx = next(csv.reader([archive.read("MCXScripMaster.txt").decode().split("\r\n")[0]]))
    # the SDK keys MCX contracts on columns 2, 3, 7, 9, 8 and names them from column 4
    assert [mcx[i] for i in (2, 3, 4, 7, 8, 9)] == [
        "ShortName",
        "Series",
        "CompanyName",
        "ExpiryDate",
        "OptionType",
        "StrikePrice",
    ]
    assert mcx[-1] == "ExchangeCode"


def test_equity_and_index_rows(members: dict) -> None:
    _header, nse = members["NSEScripMaster.txt"]
    _header, bse = members["BSEScripMaster.txt"]
    relind = next(r for r in nse if r["ShortName"] == "RELIND")
    assert (relind["Token"], relind["Series"], relind["ExchangeCode"]) == ("2885", "EQ", "RELIANCE")
    assert relind["ISINCode"] == "INE002A01018"
    assert (relind["ticksize"], relind["Lotsize"]) == ("0.05", "1")
    assert relind["CompanyName"] == "RELIANCE INDUSTRIES"
    assert next(r for r in bse if r["ShortName"] == "RELIND")["Token"] == "500325"
    indices = {(r["Token"], r["ShortName"], r["ExchangeCode"]) for r in nse if r["Series"] == "0"}
    assert indices == {("NIFTY 50", "NIFTY", "NIFTY 50"), ("NIFTY BANK", "CNXBAN", "NIFTY BANK")}
    assert {(r["Token"], r["ShortName"]) for r in bse if r["Series"] == "0"} == {
        ("SENSEX", "BSESEN")
    }
    for rows in (nse, bse):
        equities = [r for r in rows if r["Series"] != "0"]
        assert {r["Series"] for r in equities} == {"EQ"}
        for row in equities:
            isin = row["ISINCode"]
            assert re.fullmatch(r"INE[0-9A-Z]{9}", isin), row
            assert isin_check_digit(isin[:11]) == isin[11], row
        for column in ("Token", "ShortName", "ExchangeCode", "ISINCode"):
            values = [r[column] for r in rows if r[column]]
            assert len(values) == len(set(values)), column


def test_fo_rows_columns_and_lots(members: dict) -> None:
    _header, fonse = members["FONSEScripMaster.txt"]
    _header, fobse = members["FOBSEScripMaster.txt"]
    for rows in (fonse, fobse):
        assert rows
        for row in rows:
            future = row["Series"] == "FUTURE"
            assert row["Series"] in ("FUTURE", "OPTION")
            assert row["InstrumentName"] in (
                ("FUTIDX", "FUTSTK") if future else ("OPTIDX", "OPTSTK")
            )
            assert DMY.fullmatch(row["ExpiryDate"]), row
            assert row["OptionType"] == "XX" if future else row["OptionType"] in ("CE", "PE")
            assert (float(row["StrikePrice"]) == 0) == future
            assert int(row["LotSize"]) > 0
        tokens = [r["Token"] for r in rows]
        assert len(tokens) == len(set(tokens))
    lots = {(r["ShortName"], r["InstrumentName"]): r["LotSize"] for r in fonse + fobse}
    assert lots == {
        ("NIFTY", "FUTIDX"): "65",
        ("NIFTY", "OPTIDX"): "65",
        ("CNXBAN", "FUTIDX"): "30",
        ("CNXBAN", "OPTIDX"): "30",
        ("RELIND", "FUTSTK"): "500",
        ("RELIND", "OPTSTK"): "500",
        ("INFTEC", "FUTSTK"): "400",
        ("INFTEC", "OPTSTK"): "400",
        ("BSESEN", "FUTIDX"): "20",
        ("BSESEN", "OPTIDX"): "20",
    }
    exchange_codes = {r["ShortName"]: (r["ExchangeCode"], r["CompanyName"]) for r in fonse}
    assert exchange_codes["NIFTY"] == ("NIFTY 50", "NIFTY 50")
    assert exchange_codes["CNXBAN"] == ("NIFTY BANK", "NIFTY BANK")
    assert exchange_codes["RELIND"] == ("RELIANCE", "RELIANCE INDUSTRIES")
    # TickSize is in paise: 10 = Rs 0.10 (futures), 5 = Rs 0.05 (options)
    assert {r["TickSize"] for r in fonse if r["ShortName"] == "NIFTY"} == {"10", "5"}
    steps = {"NIFTY": 50, "CNXBAN": 100, "RELIND": 10, "INFTEC": 20, "BSESEN": 100}
    for code, step in steps.items():
        rows = fonse + fobse
        strikes = sorted({float(r["StrikePrice"]) for r in rows if r["ShortName"] == code} - {0.0})
        assert len(strikes) == 41, code  # 20 either side of the money
        assert all(b - a == step for a, b in itertools.pairwise(strikes)), code


def test_expiries_fall_on_tuesday_and_thursday_with_holiday_shifts(members: dict) -> None:
    _header, fonse = members["FONSEScripMaster.txt"]
    _header, fobse = members["FOBSEScripMaster.txt"]
    nfo = {parse_dmy(r["ExpiryDate"]) for r in fonse}
    bfo = {parse_dmy(r["ExpiryDate"]) for r in fobse}
    assert all(weekday_rule_holds(e, TUESDAY) for e in nfo), sorted(nfo)
    assert all(weekday_rule_holds(e, THURSDAY) for e in bfo), sorted(bfo)
    assert all(e >= DAY for e in nfo | bfo)
    assert not (nfo | bfo) & HOLIDAYS
    # NIFTY: four weeklies (Holi moves the first to Monday 2-Mar, today) and three monthlies
    assert expiries(fonse, "NIFTY", "OPTION") == [
        date(2026, 3, 2),
        date(2026, 3, 10),
        date(2026, 3, 17),
        date(2026, 3, 24),
        date(2026, 3, 30),  # last Tuesday 31-Mar is Mahavir Jayanti
        date(2026, 4, 28),
        date(2026, 5, 26),
    ]
    monthly = [date(2026, 3, 30), date(2026, 4, 28), date(2026, 5, 26)]
    assert expiries(fonse, "NIFTY", "FUTURE") == monthly
    # SENSEX: weekly Thursdays (26-Mar is Ram Navami) and monthly futures (28-May is Bakri Id)
    assert expiries(fobse, "BSESEN", "OPTION") == [
        date(2026, 3, 5),
        date(2026, 3, 12),
        date(2026, 3, 19),
        date(2026, 3, 25),
        date(2026, 4, 30),
        date(2026, 5, 27),
    ]
    assert expiries(fobse, "BSESEN", "FUTURE") == [
        date(2026, 3, 25),
        date(2026, 4, 30),
        date(2026, 5, 27),
    ]


def test_banknifty_and_stocks_list_monthly_contracts_only(members: dict) -> None:
    _header, fonse = members["FONSEScripMaster.txt"]
    monthly = [date(2026, 3, 30), date(2026, 4, 28), date(2026, 5, 26)]
    for code in ("CNXBAN", "RELIND", "INFTEC"):
        assert expiries(fonse, code, "OPTION") == monthly, code
        assert expiries(fonse, code, "FUTURE") == monthly, code


def test_currency_and_commodity_rows_stay_in_their_members(members: dict) -> None:
    _header, cdnse = members["CDNSEScripMaster.txt"]
    _header, mcx = members["MCXScripMaster.txt"]
    currencies = {r["ShortName"] for r in cdnse}
    commodities = {r["ShortName"] for r in mcx}
    assert {"USDINR", "EURINR"} <= currencies
    assert {"GOLD", "CRUDEOIL"} <= commodities
    assert {r["InstrumentName"] for r in cdnse} == {"FUTCUR"}
    assert {r["InstrumentName"] for r in mcx} == {"FUTCOM"}
    for row in cdnse + mcx:
        assert DMY.fullmatch(row["ExpiryDate"])
        assert row["Series"] == "FUTURE"
    for name in ("NSEScripMaster.txt", "BSEScripMaster.txt", "FONSEScripMaster.txt"):
        _header, rows = members[name]
        codes = {r["ShortName"] for r in rows} | {r["ExchangeCode"] for r in rows}
        assert not codes & (currencies | commodities), name
        if "InstrumentName" in rows[0]:
            assert not {r["InstrumentName"] for r in rows} & {"FUTCUR", "FUTCOM"}


def master_index(members: dict) -> dict[tuple[str, ...], dict[str, str]]:
    """(exchange, code, kind, expiry, strike, right) -> master row, for every member."""
    index: dict[tuple[str, ...], dict[str, str]] = {}
    exchanges = {
        "NSEScripMaster.txt": "NSE",
        "BSEScripMaster.txt": "BSE",
        "FONSEScripMaster.txt": "NFO",
        "FOBSEScripMaster.txt": "BFO",
        "CDNSEScripMaster.txt": "NDX",
        "MCXScripMaster.txt": "MCX",
    }
    for name, exchange in exchanges.items():
        for row in members[name][1]:
            if "ExpiryDate" in row and row["Series"] in ("FUTURE", "OPTION"):
                key = (
                    exchange,
                    row["ShortName"],
                    row["Series"],
                    row["ExpiryDate"],
                    f"{float(row['StrikePrice']):g}",
                    row["OptionType"],
                )
            else:
                key = (exchange, row["ShortName"])
            assert key not in index, key
            index[key] = row
    return index


def instrument_key(inst: Instrument) -> tuple[str, ...]:
    if not inst.is_derivative:
        return (inst.exchange, inst.stock_code)
    assert inst.expiry is not None
    option = inst.kind == "option"
    return (
        inst.exchange,
        inst.stock_code,
        "OPTION" if option else "FUTURE",
        fmt_dd_mon_yyyy(inst.expiry),
        f"{inst.strike or 0:g}",
        (inst.right or "XX") if option else "XX",
    )


def check_in_master(inst: Instrument, index: dict) -> None:
    row = index.get(instrument_key(inst))
    assert row is not None, inst
    assert row["Token"] == inst.token, (inst, row)
    if inst.is_derivative:
        assert int(row.get("LotSize") or row.get("Lotsize")) == inst.lot
        assert float(row["TickSize"]) == pytest.approx(inst.tick * 100)  # paise
    else:
        assert row["ticksize"] == ("0" if inst.kind == "index" else f"{inst.tick:g}")
        assert row["ISINCode"] == inst.isin
        assert row["ExchangeCode"] == (inst.token if inst.kind == "index" else inst.symbol)


def test_every_quoted_instrument_is_in_the_master(
    small: tuple[SimulatorServer, str], members: dict
) -> None:
    server, token = small
    universe = universe_for(DAY)
    index = master_index(members)
    listed = (
        universe.nse
        + universe.bse
        + universe.futures
        + universe.options
        + universe.bfo_futures
        + universe.bfo_options
        + universe.currency
        + universe.commodities
    )
    assert len(listed) == len(index)  # and nothing in the master that the simulator lacks
    for inst in listed:
        check_in_master(inst, index)
    # Each cash instrument, future, currency and commodity quotes; options through their chains.
    for inst in listed:
        if inst.kind == "option":
            continue
        rows = v1(server, token, "quotes", quote_body(inst))["Success"]
        assert rows, inst
        assert {r["stock_code"] for r in rows} == {inst.stock_code}
        mine = [r for r in rows if r["exchange_code"] == inst.exchange]  # cash: NSE row first
        assert len(mine) == 1, rows
        assert mine[0]["ltp"] > 0
    chains = defaultdict(list)
    for inst in universe.options + universe.bfo_options:
        chains[(inst.exchange, inst.stock_code, inst.expiry)].append(inst)
    nearest = {(exchange, code): expiry for exchange, code, expiry in sorted(chains, reverse=True)}
    for (exchange, code, expiry), contracts in chains.items():
        # every expiry's calls; puts of the nearest expiry only (pricing each option costs time)
        sides = (("CE", "call"), ("PE", "put")) if nearest[(exchange, code)] == expiry else ()
        for right, word in sides or (("CE", "call"),):
            body = {
                "stock_code": code,
                "exchange_code": exchange,
                "expiry_date": expiry_label(expiry),
                "product_type": "options",
                "right": word,
            }
            rows = v1(server, token, "optionchain", body)["Success"]
            want = sorted(i.strike for i in contracts if i.right == right)
            assert [r["strike_price"] for r in rows] == want, (code, expiry, right)
            assert all(r["ltp"] > 0 and float(r["spot_price"]) > 0 for r in rows)
    sensex = v1(server, token, "quotes", quote_body(universe.cash("BSE", "BSESEN")))["Success"]
    assert [r["exchange_code"] for r in sensex] == ["BSE", "NA"]
    nothing = {"stock_code": "ARNGLA", "exchange_code": "NSE", "product_type": "cash"}
    assert v1(server, token, "quotes", nothing)["Success"] == []  # synthetic: full size only


def test_history_for_other_underlyings(small: tuple[SimulatorServer, str]) -> None:
    server, token = small
    universe = universe_for(DAY)
    picks = [
        universe.futures_of("CNXBAN")[0],
        universe.chain("RELIND", right="PE")[20],
        universe.bfo_options[0],
        universe.currency[0],
    ]
    for inst in picks:
        body = quote_body(inst)
        rows = v2(
            server,
            token,
            interval="30minute",
            from_date="2026-02-26T09:15:00.000Z",
            to_date="2026-02-27T15:30:00.000Z",
            exch_code=body.pop("exchange_code"),
            **body,
        )["Success"]
        assert len(rows) == 2 * 13, inst
        assert all(r["stock_code"] == inst.stock_code for r in rows)
    expired = {
        "stock_code": "CNXBAN",
        "exch_code": "NFO",
        "product_type": "options",
        "expiry_date": "2026-01-27T06:00:00.000Z",
        "right": "call",
        "strike_price": "52000",
    }
    span = {"from_date": "2026-01-20T09:15:00.000Z", "to_date": "2026-01-20T15:30:00.000Z"}
    assert len(v2(server, token, interval="5minute", **span, **expired)["Success"]) == 75
    off_grid = {**expired, "strike_price": "52050"}  # BANKNIFTY strikes are 100 apart
    assert v2(server, token, interval="5minute", **span, **off_grid)["Success"] == []


# ----------------------------------------------------------------------------- holidays


def test_holiday_list() -> None:
    brief_2025 = {
        date(2025, 2, 26),
        date(2025, 3, 14),
        date(2025, 3, 31),
        date(2025, 4, 10),
        date(2025, 4, 14),
        date(2025, 4, 18),
        date(2025, 5, 1),
        date(2025, 8, 15),
        date(2025, 8, 27),
        date(2025, 10, 2),
        date(2025, 10, 21),
        date(2025, 10, 22),
        date(2025, 11, 5),
        date(2025, 12, 25),
    }
    assert {d for d in HOLIDAYS if d.year == 2025} == brief_2025
    assert len([d for d in HOLIDAYS if d.year == 2026]) == 16
    assert {date(2026, 1, 15), date(2026, 3, 3), date(2026, 11, 24)} <= HOLIDAYS
    assert all(d.weekday() < 5 and not is_trading_day(d) for d in HOLIDAYS)
    assert is_trading_day(date(2026, 3, 2))
    assert not is_trading_day(date(2026, 2, 28))
    assert previous_trading_day(date(2026, 3, 4)) == date(2026, 3, 2)


def test_expiry_rules_follow_the_date() -> None:
    # before September 2025 NSE expired on Thursdays; BSE used Tuesdays during 2025
    assert monthly_expiry_date(2025, 8) == date(2025, 8, 28)
    assert monthly_expiry_date(2025, 9) == date(2025, 9, 30)
    assert monthly_expiry_date(2025, 8, "BSE") == date(2025, 8, 26)
    assert monthly_expiry_date(2025, 9, "BSE") == date(2025, 9, 25)
    # 15-Jan-2026 closed for the Maharashtra civic polls: BSE's weekly moved to Wednesday 14th
    weeks = weekly_expiry_dates(date(2026, 1, 12), 2, "BSE")
    assert weeks == [date(2026, 1, 14), date(2026, 1, 22)]
    # on the holiday itself the week's (moved) expiry has passed: the next one is listed
    assert weekly_expiry_dates(date(2026, 3, 3), 1) == [date(2026, 3, 10)]


@pytest.fixture(scope="module")
def on_holiday() -> Iterator[tuple[SimulatorServer, str]]:
    yield from frozen(datetime(2026, 3, 3, 11, 0, 30))  # Holi


@pytest.fixture(scope="module")
def after_close() -> Iterator[tuple[SimulatorServer, str]]:
    yield from frozen(datetime(2026, 3, 2, 16, 0, 0))


def test_no_candles_on_holidays_or_weekends(on_holiday: tuple[SimulatorServer, str]) -> None:
    server, token = on_holiday
    later = datetime(2026, 3, 5, 12, 0, 0)
    for sim, tok in frozen(later):
        span = {"from_date": "2026-02-27T00:00:00.000Z", "to_date": "2026-03-04T23:59:00.000Z"}
        cash = {"stock_code": "RELIND", "exch_code": "NSE", "product_type": "cash"}
        minutes = v2(sim, tok, interval="30minute", **span, **cash)["Success"]
        days = Counter(r["datetime"][:10] for r in minutes)
        assert days == {"2026-02-27": 13, "2026-03-02": 13, "2026-03-04": 13}
        daily = v2(sim, tok, interval="1day", **span, **cash)["Success"]
        assert [r["datetime"][:10] for r in daily] == ["2026-02-27", "2026-03-02", "2026-03-04"]
        holi = {"from_date": "2026-03-03T09:15:00.000Z", "to_date": "2026-03-03T15:30:00.000Z"}
        for interval in ("1second", "1minute", "1day"):
            assert v2(sim, tok, interval=interval, **holi, **cash) == {
                "Error": None,
                "Status": 200,
                "Success": [],
            }
        old = v1(
            sim,
            tok,
            "historicalcharts",
            {"interval": "minute", **holi, "stock_code": "NIFTY", "exchange_code": "NSE"},
        )
        assert old == {"Success": [], "Status": 200, "Error": None}
        option = universe_for(later.date()).options[0]
        body = quote_body(option)
        body.pop("exchange_code")
        rows = v2(sim, tok, interval="1day", exch_code="NFO", **span, **body)["Success"]
        assert [r["datetime"][:10] for r in rows] == ["2026-02-27", "2026-03-02", "2026-03-04"]
    # and "today" being a holiday: nothing for the day, the last session is 2-Mar
    cash = {"stock_code": "TCS", "exch_code": "NSE", "product_type": "cash"}
    span = {"from_date": "2026-03-02T00:00:00.000Z", "to_date": "2026-03-03T23:59:00.000Z"}
    rows = v2(server, token, interval="1minute", **span, **cash)["Success"]
    assert len(rows) == 375
    assert rows[-1]["datetime"] == "2026-03-02 15:29:00"


def test_quotes_on_a_holiday_equal_the_previous_session(
    on_holiday: tuple[SimulatorServer, str], after_close: tuple[SimulatorServer, str]
) -> None:
    holiday, holiday_token = on_holiday
    previous, previous_token = after_close
    universe = universe_for(date(2026, 3, 3))
    picks = [
        universe.cash("NSE", "RELIND"),
        universe.cash("NSE", "NIFTY"),
        universe.cash("BSE", "BSESEN"),
        universe.futures_of("NIFTY")[0],
        universe.chain("NIFTY", right="CE")[20],
    ]
    for inst in picks:
        assert inst is not None
        body = quote_body(inst)
        on_the_day = v1(holiday, holiday_token, "quotes", body)["Success"]
        before = v1(previous, previous_token, "quotes", body)["Success"]
        assert on_the_day == before, inst
        assert on_the_day[0]["ltt"].startswith("02-Mar-2026 15:29:"), on_the_day[0]
    details = requests.get(
        holiday.api_url + "customerdetails",
        json={"SessionToken": holiday.issue_session(), "AppKey": DEFAULT_API_KEY},
        timeout=10,
    ).json()["Success"]
    assert details["exg_trade_date"]["NSE"] == "04-Mar-2026"


# ----------------------------------------------------------------------------- full size


def test_full_master_counts_and_build_time(
    full_build: tuple[float, bytes], full_members: dict
) -> None:
    seconds, payload = full_build
    assert seconds < 5.0, f"full master took {seconds:.2f}s"
    assert len(payload) < 8_000_000
    counts = {name: len(rows) for name, (_header, rows) in full_members.items()}
    assert counts["NSEScripMaster.txt"] >= 8_000
    assert counts["BSEScripMaster.txt"] >= 8_000
    assert counts["FONSEScripMaster.txt"] + counts["FOBSEScripMaster.txt"] >= 100_000
    assert counts["FONSEScripMaster.txt"] >= 100_000
    for name, (_header, rows) in full_members.items():
        tokens = [r["Token"] for r in rows]
        assert len(tokens) == len(set(tokens)), name
    _header, nse = full_members["NSEScripMaster.txt"]
    assert nse[0]["ShortName"] == "RELIND"  # the named instruments come first
    codes = [r["ShortName"] for r in nse]
    symbols = [r["ExchangeCode"] for r in nse]
    assert len(set(codes)) == len(codes)
    assert len(set(symbols)) == len(symbols)
    numeric = [int(r["Token"]) for r in nse if r["Token"].isdigit()]
    assert max(numeric) < 35001  # NSE cash and NFO tokens share the stream prefix "4."
    for row in nse:
        if row["Series"] == "EQ":
            assert isin_check_digit(row["ISINCode"][:11]) == row["ISINCode"][11]
    assert security_master_zip(FULL_DAY, "full") is payload  # cached per day and size


def test_full_master_is_deterministic() -> None:
    script = (
        "import hashlib; from breeze_sim.instruments import synthetic_equities as s; "
        "print(hashlib.sha256(repr(s()).encode()).hexdigest())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.strip()
        for _ in range(2)
    }
    assert runs == {hashlib.sha256(repr(synthetic_equities()).encode()).hexdigest()}


def test_full_size_instruments_are_quotable_and_match_the_master(
    full_sim: tuple[SimulatorServer, str], full_members: dict
) -> None:
    server, token = full_sim
    universe = server.universe()
    assert isinstance(universe, Universe)
    assert universe.full
    index = master_index(full_members)
    rng = random.Random(7)
    equities = rng.sample(synthetic_equities(), 12)
    picks: list[Instrument] = []
    for syn in equities:
        for exchange in ("NSE", "BSE"):
            inst = universe.cash(exchange, syn.code)
            assert inst is not None
            picks.append(inst)
    for syn in rng.sample(synthetic_fno(), 6):
        futures = universe.futures_of(syn.code)
        assert len(futures) == 3
        chain = universe.chain(syn.code, expiry=futures[1].expiry)
        assert len(chain) == 2 * 85
        picks += [futures[0], rng.choice(chain), rng.choice(universe.chain(syn.code))]
    for inst in picks:
        check_in_master(inst, index)
        rows = v1(server, token, "quotes", quote_body(inst))["Success"]
        assert rows, inst
        assert rows[0]["ltp"] > 0
        if inst.kind == "equity":
            assert [r["exchange_code"] for r in rows] == ["NSE", "BSE"]
        else:
            assert float(rows[0]["spot_price"]) > 0
    syn = synthetic_fno()[3]
    expiry = universe.futures_of(syn.code)[0].expiry
    assert expiry is not None
    body = {
        "stock_code": syn.code,
        "exchange_code": "NFO",
        "expiry_date": expiry_label(expiry),
        "product_type": "options",
        "right": "put",
    }
    chain = v1(server, token, "optionchain", body)["Success"]
    assert len(chain) == 85
    assert [r["strike_price"] for r in chain] == sorted(r["strike_price"] for r in chain)
    candles = v2(
        server,
        token,
        interval="30minute",
        from_date="2026-11-27T09:15:00.000Z",
        to_date="2026-11-27T15:30:00.000Z",
        stock_code=equities[0].code,
        exch_code="NSE",
        product_type="cash",
    )["Success"]
    assert len(candles) == 13
    assert all(c["volume"] > 0 for c in candles)
    # the master served over HTTP is the full one
    response = requests.get(server.security_master_url, timeout=30)
    assert len(zipfile.ZipFile(io.BytesIO(response.content)).namelist()) == 6


def test_master_size_knob() -> None:
    assert build_parser().parse_args(["--master-size", "full"]).master_size == "full"
    assert build_parser().parse_args([]).master_size == "small"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--master-size", "huge"])
    with pytest.raises(ValueError, match="master_size"):
        SimulatorServer(master_size="huge")
    assert SimulatorServer().master_size == "small"
