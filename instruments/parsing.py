"""Reading SecurityMaster.zip as ICICI writes it (BREEZE_API.md §7), one row at a time.

Members are read as streams (the zip's own decompression, the csv module), never whole: a
full master is over 100,000 rows. Columns are found by header name, because the header's
width has changed over the years; the cash members quote their header and separate it with a
comma AND a space, which ``skipinitialspace`` absorbs. Only the four members the proxy serves
are read: currency (CDNSE) and commodity (MCX) rows never reach the equities, whatever their
member names contain (the SDK's substring match merges CDNSE into NSE). A row that cannot be
read is counted and skipped, never fatal: one bad line must not cost the day's master.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO

# member → the exchange its rows are listed on, and which layout it has
MEMBERS: dict[str, tuple[str, str]] = {
    "NSESCRIPMASTER.TXT": ("NSE", "cash"),
    "BSESCRIPMASTER.TXT": ("BSE", "cash"),
    "FONSESCRIPMASTER.TXT": ("NFO", "fno"),
    "FOBSESCRIPMASTER.TXT": ("BFO", "fno"),
}
IGNORED_MEMBERS = frozenset({"CDNSESCRIPMASTER.TXT", "MCXSCRIPMASTER.TXT"})
_COLUMNS = {
    "cash": ("Token", "ShortName", "Series", "CompanyName", "ticksize", "Lotsize", "ISINCode",
             "ExchangeCode"),
    "fno": ("Token", "InstrumentName", "ShortName", "Series", "ExpiryDate", "StrikePrice",
            "OptionType", "LotSize", "TickSize", "CompanyName", "ExchangeCode"),
}  # fmt: skip
_RIGHTS = {"CE": "call", "PE": "put"}


class MasterUnreadable(ValueError):
    """The file is not a SecurityMaster.zip the proxy can use (not a zip, a member missing, a
    member without the columns it needs, or a damaged member)."""


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    exchange: str
    stock_code: str
    symbol: str
    token: str
    company_name: str
    series: str
    isin: str
    kind: str  # equity, index, future, option
    expiry: date | None
    strike: Decimal | None
    right: str
    lot_size: int
    tick_size: Decimal


@dataclass
class ParseReport:
    rows: Counter[str] = field(default_factory=Counter)  # per exchange
    skipped: Counter[str] = field(default_factory=Counter)  # per member
    examples: list[str] = field(default_factory=list)  # a few skipped lines, for the log

    def skip(self, member: str, line: int, why: str) -> None:
        self.skipped[member] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{member} line {line}: {why}")


def open_master(source: IO[bytes]) -> zipfile.ZipFile:
    """The zip in ``source`` (a file object), with every member the proxy needs present."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MasterUnreadable(f"not a zip file: {exc}") from exc
    present = {info.filename.rsplit("/", 1)[-1].upper() for info in archive.infolist()}
    missing = sorted(set(MEMBERS) - present)
    if missing:
        raise MasterUnreadable(f"the zip lacks {', '.join(missing)}")
    return archive


def rows(archive: zipfile.ZipFile, report: ParseReport) -> Iterator[InstrumentRow]:
    """Every instrument of the four members, in member order; counts what it skips."""
    for info in archive.infolist():
        member = info.filename.rsplit("/", 1)[-1].upper()
        if member not in MEMBERS:
            continue
        exchange, layout = MEMBERS[member]
        try:
            with archive.open(info) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                yield from _member_rows(text, member, exchange, layout, report)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            # A CRC mismatch or a truncated member: the file as a whole cannot be trusted.
            raise MasterUnreadable(f"{member} is damaged: {exc}") from exc


def _member_rows(
    text: io.TextIOBase, member: str, exchange: str, layout: str, report: ParseReport
) -> Iterator[InstrumentRow]:
    reader = csv.reader(text, skipinitialspace=True)
    header = next(reader, None)
    if header is None:
        raise MasterUnreadable(f"{member} is empty")
    positions = {name.strip().strip('"').lower(): i for i, name in enumerate(header)}
    wanted = _COLUMNS[layout]
    missing = [name for name in wanted if name.lower() not in positions]
    if missing:
        raise MasterUnreadable(f"{member} has no column {', '.join(missing)}")
    columns = [positions[name.lower()] for name in wanted]
    width = max(columns) + 1
    build = _cash_row if layout == "cash" else _fno_row
    for line, values in enumerate(reader, start=2):
        if not values or values == [""]:
            continue
        if len(values) < width:
            report.skip(member, line, f"{len(values)} fields, {width} needed")
            continue
        try:
            row = build(exchange, [values[i].strip() for i in columns])
        except (ValueError, InvalidOperation) as exc:
            report.skip(member, line, str(exc) or type(exc).__name__)
            continue
        report.rows[exchange] += 1
        yield row


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text or "0")
    except InvalidOperation as exc:
        raise ValueError(f"{what} {text!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def _required(text: str, what: str) -> str:
    if not text:
        raise ValueError(f"no {what}")
    return text.upper()


def _cash_row(exchange: str, v: list[str]) -> InstrumentRow:
    token, code, series, company, tick, lot, isin, symbol = v
    # Index rows use the index's name as their token ("NIFTY 50"); equities a number.
    kind = "equity" if token.isdigit() else "index"
    return InstrumentRow(
        exchange=exchange,
        stock_code=_required(code, "ShortName"),
        symbol=_required(symbol or company, "ExchangeCode"),
        token=_required(token, "Token"),
        company_name=company.upper(),
        series=series.upper() if kind == "equity" else "",
        isin=isin.upper(),
        kind=kind,
        expiry=None,
        strike=None,
        right="",
        lot_size=int(_decimal(lot or "1", "Lotsize")) or 1,
        tick_size=_decimal(tick, "ticksize"),  # rupees in the cash members
    )


def _fno_row(exchange: str, v: list[str]) -> InstrumentRow:
    token, name, code, series, expiry, strike, option, lot, tick, company, symbol = v
    instrument = name.upper()
    if instrument.startswith("FUT"):
        kind, right, strike_value = "future", "", None
    elif instrument.startswith("OPT"):
        if option.upper() not in _RIGHTS:
            raise ValueError(f"option type {option!r}")
        kind, right, strike_value = "option", _RIGHTS[option.upper()], _decimal(strike, "strike")
    else:
        raise ValueError(f"instrument {name!r}")
    try:
        expiry_day = datetime.strptime(expiry, "%d-%b-%Y").date()
    except ValueError as exc:
        raise ValueError(f"expiry {expiry!r}") from exc
    return InstrumentRow(
        exchange=exchange,
        stock_code=_required(code, "ShortName"),
        symbol=_required(symbol or company, "ExchangeCode"),
        token=_required(token, "Token"),
        company_name=company.upper(),
        series=series.upper(),
        isin="",
        kind=kind,
        expiry=expiry_day,
        strike=strike_value,
        right=right,
        lot_size=int(_decimal(lot or "1", "LotSize")) or 1,
        tick_size=_decimal(tick, "TickSize") / 100,  # paise in the F&O members
    )
