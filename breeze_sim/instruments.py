"""The simulated instrument universe and the SecurityMaster.zip built from it.

Codes and tokens are the real Breeze ones for the cash instruments. NFO contracts (NIFTY futures
for the current and next monthly expiry, NIFTY weekly options for the next four Tuesdays) are
derived from the current IST date, so the simulator never serves a stale contract list.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from .market_time import fmt_dd_mon_yyyy, last_tuesday, previous_trading_day

NIFTY_STRIKE_STEP = 50
NIFTY_STRIKES_EACH_SIDE = 20
NIFTY_LOT = 65
WEEKLY_EXPIRIES = 4


@dataclass(frozen=True)
class Instrument:
    """One tradable (or index) line. Frozen so it can key price caches."""

    exchange: str  # "NSE" | "BSE" | "NFO"
    stock_code: str  # ICICI code, e.g. RELIND
    token: str  # SecurityMaster token (index rows use the index name)
    symbol: str  # exchange symbol, e.g. RELIANCE
    company: str
    kind: str  # "equity" | "index" | "future" | "option"
    tick: float
    lot: int
    base_price: float  # level the deterministic walk hovers around
    isin: str = ""
    expiry: date | None = None
    strike: float | None = None
    right: str | None = None  # "CE" | "PE" for options

    @property
    def is_derivative(self) -> bool:
        return self.kind in ("future", "option")

    @property
    def price_key(self) -> str:
        """Key of the underlying price path (derivatives follow their underlying index)."""
        return self.stock_code


# code, NSE token, BSE token, symbol, company, ISIN, base price, daily volume (shares)
EQUITIES: tuple[tuple[str, str, str, str, str, str, float, int], ...] = (
    (
        "RELIND",
        "2885",
        "500325",
        "RELIANCE",
        "RELIANCE INDUSTRIES",
        "INE002A01018",
        1400.0,
        9_000_000,
    ),
    (
        "TCS",
        "11536",
        "532540",
        "TCS",
        "TATA CONSULTANCY SERVICES",
        "INE467B01029",
        3900.0,
        2_500_000,
    ),
    ("INFTEC", "1594", "500209", "INFY", "INFOSYS", "INE009A01021", 1800.0, 6_000_000),
    ("HDFBAN", "1333", "500180", "HDFCBANK", "HDFC BANK", "INE040A01034", 1700.0, 10_000_000),
    ("ICIBAN", "4963", "532174", "ICICIBANK", "ICICI BANK", "INE090A01021", 1350.0, 9_000_000),
    ("STABAN", "3045", "500112", "SBIN", "STATE BANK OF INDIA", "INE062A01020", 800.0, 12_000_000),
)
DAILY_VOLUME = {row[0]: row[7] for row in EQUITIES}

# code, token (= index name), base price
INDICES: tuple[tuple[str, str, float], ...] = (
    ("NIFTY", "NIFTY 50", 24000.0),
    ("CNXBAN", "NIFTY BANK", 52000.0),
)
FNO_UNDERLYINGS = ("NIFTY",)


def _equity(exchange: str, row: tuple) -> Instrument:
    code, nse_token, bse_token, symbol, company, isin, base, _volume = row
    return Instrument(
        exchange=exchange,
        stock_code=code,
        token=nse_token if exchange == "NSE" else bse_token,
        symbol=symbol,
        company=company,
        kind="equity",
        tick=0.05,
        lot=1,
        base_price=base,
        isin=isin,
    )


def _index(code: str, token: str, base: float) -> Instrument:
    return Instrument(
        exchange="NSE",
        stock_code=code,
        token=token,
        symbol=token,
        company=token,
        kind="index",
        tick=0.05,
        lot=1,
        base_price=base,
    )


def monthly_expiries(today: date, count: int = 2) -> list[date]:
    """The current monthly expiry (this month's last Tuesday, or next month's once it passed)."""
    year, month = today.year, today.month
    out: list[date] = []
    while len(out) < count:
        expiry = last_tuesday(year, month)
        if expiry >= today:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def weekly_expiries(today: date, count: int = WEEKLY_EXPIRIES) -> list[date]:
    """The next ``count`` Tuesdays, today included (contracts trade until 15:30 on expiry day)."""
    first = today + timedelta(days=(1 - today.weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range(count)]


def _nifty_contract(
    kind: str, expiry: date, strike: float, right: str | None, tick: float, token: str
) -> Instrument:
    return Instrument(
        exchange="NFO",
        stock_code="NIFTY",
        token=token,
        symbol="NIFTY 50",
        company="NIFTY 50",
        kind=kind,
        tick=tick,
        lot=NIFTY_LOT,
        base_price=24000.0,
        expiry=expiry,
        strike=float(strike),
        right=right,
    )


def nifty_future(expiry: date, token: str = "0") -> Instrument:  # noqa: S107 (a scrip token)
    return _nifty_contract("future", expiry, 0.0, None, 0.10, token)


def nifty_option(expiry: date, strike: float, right: str, token: str = "0") -> Instrument:  # noqa: S107 (a scrip token)
    return _nifty_contract("option", expiry, strike, right, 0.05, token)


class Universe:
    """Every instrument listed on one IST calendar day."""

    def __init__(self, today: date, nifty_reference: float) -> None:
        self.today = today
        self.nse = [_equity("NSE", row) for row in EQUITIES]
        self.nse += [_index(*row) for row in INDICES]
        self.bse = [_equity("BSE", row) for row in EQUITIES]
        self.futures = [
            nifty_future(exp, str(35001 + i)) for i, exp in enumerate(monthly_expiries(today))
        ]
        atm = round(nifty_reference / NIFTY_STRIKE_STEP) * NIFTY_STRIKE_STEP
        self.strikes = [
            float(atm + NIFTY_STRIKE_STEP * k)
            for k in range(-NIFTY_STRIKES_EACH_SIDE, NIFTY_STRIKES_EACH_SIDE + 1)
        ]
        self.options: list[Instrument] = []
        token = 40001
        for expiry in weekly_expiries(today):
            for strike in self.strikes:
                for right in ("CE", "PE"):
                    self.options.append(nifty_option(expiry, strike, right, str(token)))
                    token += 1
        self._cash = {(i.exchange, i.stock_code): i for i in self.nse + self.bse}
        self._futures = {(i.stock_code, i.expiry): i for i in self.futures}
        self._options = {(i.stock_code, i.expiry, i.strike, i.right): i for i in self.options}

    def cash(self, exchange: str, code: str) -> Instrument | None:
        return self._cash.get((exchange.upper(), code.upper()))

    def future(self, code: str, expiry: date | None) -> Instrument | None:
        return self._futures.get((code.upper(), expiry))

    def option(
        self, code: str, expiry: date | None, strike: float | None, right: str | None
    ) -> Instrument | None:
        return self._options.get((code.upper(), expiry, strike, right))

    def option_expiries(self) -> list[date]:
        return sorted({i.expiry for i in self.options if i.expiry})

    def chain(
        self,
        code: str,
        expiry: date | None = None,
        right: str | None = None,
        strike: float | None = None,
    ) -> list[Instrument]:
        """Options of one underlying filtered by whatever was given, ordered by expiry, strike."""
        rows = [
            i
            for i in self.options
            if i.stock_code == code.upper()
            and (expiry is None or i.expiry == expiry)
            and (right is None or i.right == right)
            and (strike is None or i.strike == strike)
        ]
        return sorted(rows, key=lambda i: (i.expiry, i.strike, i.right))

    def futures_of(self, code: str, expiry: date | None = None) -> list[Instrument]:
        return [
            i
            for i in self.futures
            if i.stock_code == code.upper() and (expiry is None or i.expiry == expiry)
        ]


@lru_cache(maxsize=16)
def universe_for(today: date) -> Universe:
    """The universe of ``today``; strikes are centred on the previous session's NIFTY close."""
    from .prices import ENGINE  # local import: prices depends on this module

    nifty = _index(*INDICES[0])
    reference = ENGINE.session_close(nifty, previous_trading_day(today))
    return Universe(today, reference)


def synthetic_contract(
    code: str, kind: str, expiry: date | None, strike: float | None, right: str | None
) -> Instrument | None:
    """A NIFTY contract outside today's list (e.g. expired), allowed for history only.

    Breeze serves history of expired contracts; the simulator accepts any NIFTY future, and any
    NIFTY option whose strike is a multiple of 50, so clients can ask for past expiries.
    """
    if code.upper() not in FNO_UNDERLYINGS or expiry is None:
        return None
    if kind == "future":
        return nifty_future(expiry)
    if (
        kind == "option"
        and right in ("CE", "PE")
        and strike
        and strike > 0
        and strike % NIFTY_STRIKE_STEP == 0
    ):
        return nifty_option(expiry, strike, right)
    return None


# ------------------------------------------------------------------------ SecurityMaster.zip

NSE_HEADER = (
    "Token",
    "ShortName",
    "Series",
    "CompanyName",
    "ticksize",
    "Lotsize",
    "DateOfListing",
    "DateOfDeListing",
    "IssuePrice",
    "FaceValue",
    "ISINCode",
    "52WeeksHigh",
    "52WeeksLow",
    "LifeTimeHigh",
    "LifeTimeLow",
    "HighDate",
    "LowDate",
    "Symbol",
    "InstrumentType",
    "ExchangeCode",
)
FO_HEADER = (
    "Token",
    "InstrumentName",
    "ShortName",
    "Series",
    "ExpiryDate",
    "StrikePrice",
    "OptionType",
    "CALevel",
    "PermittedToTrade",
    "IssueCapital",
    "WarningQty",
    "FreezeQty",
    "CreditRating",
    "NormalMarketStatus",
    "OddLotMarketStatus",
    "SpotMarketStatus",
    "AuctionMarketStatus",
    "NormalMarketEligibility",
    "OddLotMarketEligibility",
    "SpotMarketEligibility",
    "AuctionMarketEligibility",
    "IssueRate",
    "IssueStartDate",
    "InterestPaymentDate",
    "IssueMaturityDate",
    "MarginPercentage",
    "MinimumLotQty",
    "LotSize",
    "TickSize",
    "CompanyName",
    "ExchangeCode",
)
CDNSE_HEADER = FO_HEADER
MCX_HEADER = (
    "Token",
    "InstrumentName",
    "ShortName",
    "CompanyName",
    "Series",
    "Lotsize",
    "TickSize",
    "ExpiryDate",
    "OptionType",
    "StrikePrice",
    "ExchangeCode",
)


def _q(value: object) -> str:
    return '"' + str(value).replace('"', "") + '"'


def _spaced_header(columns: tuple[str, ...]) -> str:
    """NSE/BSE quirk: the header is quoted and separated by comma + space."""
    return ", ".join(_q(c) for c in columns)


def _plain_header(columns: tuple[str, ...]) -> str:
    return ",".join(_q(c) for c in columns)


def _cash_row(inst: Instrument) -> str:
    series = "0" if inst.kind == "index" else "EQ"
    tick = 0 if inst.kind == "index" else inst.tick
    face = 0 if inst.kind == "index" else 10
    exchange_code = inst.token if inst.kind == "index" else inst.symbol
    fields = [
        _q(inst.token),
        _q(inst.stock_code),
        _q(series),
        _q(inst.company),
        f"{tick:g}",
        str(inst.lot),
        '""',
        '""',
        "0",
        str(face),
        _q(inst.isin),
        "0",
        "0",
        "0",
        "0",
        '""',
        '""',
        '""',
        "0",
        _q(exchange_code),
    ]
    return ",".join(fields)


def _fo_row(inst: Instrument) -> str:
    assert inst.expiry is not None
    if inst.kind == "future":
        name, series, strike, opt = "FUTIDX", "FUTURE", "0", "XX"
    else:
        name, series, opt = "OPTIDX", "OPTION", inst.right or "XX"
        strike = (
            str(int(inst.strike or 0)) if float(inst.strike or 0).is_integer() else str(inst.strike)
        )
    fields = [
        _q(inst.token),
        _q(name),
        _q(inst.stock_code),
        _q(series),
        _q(fmt_dd_mon_yyyy(inst.expiry)),
        _q(strike),
        _q(opt),
        "0",
        "0",
        "0",
        "0",
        "0",
        '""',
        "0",
        "0",
        "0",
        "0",
        '""',
        '""',
        '""',
        '""',
        "0",
        '""',
        '""',
        '""',
        "0",
        "0",
        str(inst.lot),
        str(round(inst.tick * 100)),
        _q(inst.company),
        _q(inst.symbol),
    ]
    return ",".join(fields)


def _lines(header: str, rows: list[str]) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


@lru_cache(maxsize=4)
def security_master_zip(today: date) -> bytes:
    """Build SecurityMaster.zip with the layout quirks the SDK's parsers depend on (§7)."""
    uni = universe_for(today)
    members = {
        "NSEScripMaster.txt": _lines(_spaced_header(NSE_HEADER), [_cash_row(i) for i in uni.nse]),
        "BSEScripMaster.txt": _lines(_spaced_header(NSE_HEADER), [_cash_row(i) for i in uni.bse]),
        "FONSEScripMaster.txt": _lines(
            _plain_header(FO_HEADER), [_fo_row(i) for i in uni.futures + uni.options]
        ),
        "FOBSEScripMaster.txt": _lines(_plain_header(FO_HEADER), []),
        "CDNSEScripMaster.txt": _lines(_plain_header(CDNSE_HEADER), []),
        "MCXScripMaster.txt": _lines(_plain_header(MCX_HEADER), []),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(today.year, today.month, today.day, 6, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
