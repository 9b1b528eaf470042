"""Reading SecurityMaster.zip as ICICI writes it: quoted comma+space headers, index rows,
the F&O columns, currency and commodity members kept out, malformed rows counted and skipped,
a damaged zip refused."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest

from breeze.calendar import NSE_HOLIDAYS
from breeze_sim.security_master import security_master_zip
from instruments.parsing import MasterUnreadable, ParseReport, open_master, rows

DAY = date(2026, 3, 2)


def _row(*fields: object, sep: str = ",") -> str:
    return sep.join(f'"{value}"' for value in fields)


# The cash members' header is quoted and separated by a comma AND a space (BREEZE_API.md §7).
NSE_HEADER = _row(
    "Token", "ShortName", "Series", "CompanyName", "ticksize", "Lotsize", "ISINCode",
    "ExchangeCode", sep=", ",
)  # fmt: skip
FO_HEADER = _row(
    "Token", "InstrumentName", "ShortName", "Series", "ExpiryDate", "StrikePrice", "OptionType",
    "LotSize", "TickSize", "CompanyName", "ExchangeCode",
)  # fmt: skip
RELIND = ("RELIND", "EQ", "RELIANCE INDUSTRIES", "0.05", "1", "INE002A01018", "RELIANCE")
NIFTY_FUTURE = (
    "FUTIDX",
    "NIFTY",
    "FUTURE",
    "31-Mar-2026",
    "0",
    "XX",
    65,
    10,
    "NIFTY 50",
    "NIFTY 50",
)


def _zip(members: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text.replace("\n", "\r\n"))
    buffer.seek(0)
    return buffer


def _members(**overrides: str) -> dict[str, str]:
    currency = (
        "FUTCUR",
        "USDINR",
        "FUTURE",
        "27-Mar-2026",
        "0",
        "XX",
        1000,
        0.25,
        "USDINR",
        "USDINR",
    )
    members = {
        "NSEScripMaster.txt": f"{NSE_HEADER}\n{_row('2885', *RELIND)}\n",
        "BSEScripMaster.txt": f"{NSE_HEADER}\n{_row('500325', *RELIND)}\n",
        "FONSEScripMaster.txt": f"{FO_HEADER}\n{_row('35001', *NIFTY_FUTURE)}\n",
        "FOBSEScripMaster.txt": f"{FO_HEADER}\n",
        "CDNSEScripMaster.txt": f"{FO_HEADER}\n{_row('1101', *currency)}\n",
        "MCXScripMaster.txt": '"Token","ShortName"\n"430001","GOLD"\n',
    }
    members.update({f"{name}ScripMaster.txt": text for name, text in overrides.items()})
    return members


def _parse(source: io.BytesIO) -> tuple[list, ParseReport]:
    report = ParseReport()
    return list(rows(open_master(source), report)), report


def test_simulators_master_in_icici_layout_parses_completely():
    found, report = _parse(io.BytesIO(security_master_zip(DAY, "small")))

    assert report.skipped == {}
    by_key = {(r.exchange, r.stock_code, r.kind): r for r in found if r.kind in ("equity", "index")}
    relind = by_key[("NSE", "RELIND", "equity")]
    assert (relind.symbol, relind.token, relind.isin, relind.series) == (
        "RELIANCE", "2885", "INE002A01018", "EQ",
    )  # fmt: skip
    assert relind.tick_size == Decimal("0.05")
    nifty = by_key[("NSE", "NIFTY", "index")]
    assert (nifty.symbol, nifty.token) == ("NIFTY 50", "NIFTY 50")  # the index name as token
    assert by_key[("NSE", "CNXBAN", "index")].symbol == "NIFTY BANK"
    options = [r for r in found if r.exchange == "NFO" and r.kind == "option"]
    assert {r.right for r in options} == {"call", "put"}
    # NSE expiries are Tuesdays, or the trading day before when the Tuesday is a holiday
    assert all(
        r.expiry.weekday() == 1 or (r.expiry + timedelta(days=1)) in NSE_HOLIDAYS
        for r in options
        if r.stock_code == "NIFTY"
    )
    assert {r.exchange for r in found} == {"NSE", "BSE", "NFO", "BFO"}
    assert set(report.rows) == {"NSE", "BSE", "NFO", "BFO"}


def test_currency_and_commodity_rows_never_reach_the_equities():
    found, _ = _parse(_zip(_members()))

    assert not [r for r in found if r.stock_code in ("USDINR", "GOLD")]
    assert {(r.exchange, r.stock_code) for r in found} == {
        ("NSE", "RELIND"), ("BSE", "RELIND"), ("NFO", "NIFTY"),
    }  # fmt: skip


def test_fno_tick_size_is_in_paise_and_futures_have_no_strike():
    found, _ = _parse(_zip(_members()))

    future = next(r for r in found if r.exchange == "NFO")
    assert (future.kind, future.strike, future.right) == ("future", None, "")
    assert future.tick_size == Decimal("0.10")
    assert (future.lot_size, future.expiry) == (65, date(2026, 3, 31))


def test_columns_are_found_by_header_name_whatever_their_order():
    shuffled = (
        '"ExchangeCode", "Lotsize", "Token", "Extra", "ShortName", "ISINCode", "Series", '
        '"ticksize", "CompanyName"\n"TCS","1","11536","x","TCS","INE467B01029","EQ","0.05",'
        '"TATA CONSULTANCY SERVICES"\n'
    )
    found, _ = _parse(_zip(_members(NSE=shuffled)))

    tcs = next(r for r in found if r.exchange == "NSE")
    assert (tcs.stock_code, tcs.symbol, tcs.token, tcs.isin) == (
        "TCS",
        "TCS",
        "11536",
        "INE467B01029",
    )


def test_malformed_rows_are_counted_and_skipped_not_fatal():
    bad = "\n".join(
        [
            NSE_HEADER,
            _row("2885", *RELIND),
            _row("1594", "INFTEC", "EQ"),  # too few fields
            _row("1333", "HDFBAN", "EQ", "HDFC BANK", "abc", "1", "INE040A01034", "HDFCBANK"),
            _row("3045", "", "EQ", "STATE BANK", "0.05", "1", "INE062A01020", "SBIN"),  # no code
            _row("4963", "ICIBAN", "EQ", "ICICI BANK", "0.05", "1", "INE090A01021", "ICICIBANK"),
        ]
    )
    bad_date = (
        "FUTIDX",
        "NIFTY",
        "FUTURE",
        "31-Foo-2026",
        "0",
        "XX",
        65,
        10,
        "NIFTY 50",
        "NIFTY 50",
    )
    bad_side = ("OPTIDX", "NIFTY", "OPTION", "31-Mar-2026", "24000", "ZZ", 65, 5, "NIFTY", "NIFTY")
    bad_fo = "\n".join(
        [
            FO_HEADER,
            _row("35001", *NIFTY_FUTURE),
            _row("35002", *bad_date),
            _row("35003", *bad_side),
        ]
    )
    found, report = _parse(_zip(_members(NSE=bad, FONSE=bad_fo)))

    assert [r.stock_code for r in found if r.exchange == "NSE"] == ["RELIND", "ICIBAN"]
    assert report.skipped == {"NSESCRIPMASTER.TXT": 3, "FONSESCRIPMASTER.TXT": 2}
    assert report.rows["NSE"] == 2
    assert any("line 3" in example for example in report.examples)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda payload: payload[: len(payload) // 2], "not a zip"),
        (lambda payload: b"<html>Service Unavailable</html>", "not a zip"),
    ],
)
def test_partial_or_wrong_file_is_refused(damage, reason):
    payload = damage(security_master_zip(DAY, "small"))

    with pytest.raises(MasterUnreadable, match=reason):
        _parse(io.BytesIO(payload))


def test_a_member_missing_or_without_its_columns_is_refused():
    members = _members()
    del members["FONSEScripMaster.txt"]
    with pytest.raises(MasterUnreadable, match="FONSESCRIPMASTER"):
        _parse(_zip(members))

    with pytest.raises(MasterUnreadable, match="no column Series"):
        _parse(_zip(_members(NSE='"Token", "ShortName"\n"1","X"\n')))


def test_a_corrupted_member_is_refused_not_half_read():
    payload = bytearray(security_master_zip(DAY, "small"))
    archive = zipfile.ZipFile(io.BytesIO(bytes(payload)))
    info = archive.getinfo("FONSEScripMaster.txt")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    payload[middle] ^= 0xFF  # flip a byte inside the compressed data

    with pytest.raises(MasterUnreadable, match="damaged"):
        _parse(io.BytesIO(bytes(payload)))
