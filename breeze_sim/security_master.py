"""SecurityMaster.zip as ICICI serves it, built from the universe of a day."""

from __future__ import annotations

import io
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date

from .instruments import (
    _SYN_STRIKES,
    COMMODITY_FUTURES,
    DEFAULT_MASTER_SIZE,
    INDEX_CODES,
    MASTER_SIZES,
    Instrument,
    Universe,
    _syn_future_token,
    _syn_option_token,
    _syn_strike,
    synthetic_fno,
)
from .market_time import fmt_dd_mon_yyyy
from .universe import universe_for

# ------------------------------------------------------------------------ SecurityMaster.zip
#
# Layouts, member by member (BREEZE_API.md §7; where sources disagree, the choice is noted):
# * NSEScripMaster.txt: the header is quoted and joined by comma + SPACE, data rows are quoted and
#   joined by a bare comma. The SDK's get_names() depends on that (pandas then names the columns
#   ' "ShortName"' etc.). §7 reports two 3P transcriptions, of 20 and of 61 columns; the 61 are
#   a superset of the 20 in the same order (two independent 3P copies agree on them, typos such
#   as "OddLotlMarketEligibility" included), so the simulator serves the 61. ExchangeCode (the NSE
#   symbol) is always last; consumers must parse by header name.
# * BSEScripMaster.txt: the same layout and header quirk as NSE, so that the SDK's
#   get_names("BSE", ...) works. (One 3P fixture shows a BSE-specific layout with a plain header;
#   not adopted: the SDK reads BSE with the NSE column names.)
# * FONSEScripMaster.txt / FOBSEScripMaster.txt: plain quoted header (no spaces, as in 3P copies
#   of real files), the 31 columns of §7: ExpiryDate DD-Mon-YYYY, OptionType CE/PE/XX, LotSize at
#   27, TickSize at 28 (in paise, as in a 3P copy of real rows: 10 = Rs 0.10), CompanyName at 29,
#   ExchangeCode at 30. Text fields are quoted, numeric ones are bare. (A 3P fixture shows 70
#   columns with more fields between CompanyName and ExchangeCode; §7's order is kept.)
# * CDNSEScripMaster.txt: the F&O layout (FUTCUR rows; exchange code NDX).
# * MCXScripMaster.txt: Token, InstrumentName, ShortName, Series, CompanyName, TickSize, LotSize,
#   ExpiryDate, OptionType, StrikePrice, ... ExchangeCode (3P fixture; consistent with the SDK,
#   which builds MCX keys from columns 2, 3, 7, 9, 8 and reads the name from column 4).

NSE_HEADER = (
    "Token", "ShortName", "Series", "CompanyName", "ticksize", "Lotsize", "DateOfListing",
    "DateOfDeListing", "IssuePrice", "FaceValue", "ISINCode", "52WeeksHigh", "52WeeksLow",
    "LifeTimeHigh", "LifeTimeLow", "HighDate", "LowDate", "Symbol", "InstrumentType",
    "PermittedToTrade", "IssueCapital", "WarningPercent", "FreezePercent", "CreditRating",
    "IssueRate", "IssueStartDate", "InterestPaymentDate", "IssueMaturityDate", "BoardLotQty",
    "Name", "ListingDate", "ExpulsionDate", "ReAdmissionDate", "RecordDate", "ExpiryDate",
    "NoDeliveryStartDate", "NoDeliveryEndDate", "MFill", "AON", "ParticipantInMarketIndex",
    "BookClsStartDate", "BookClsEndDate", "EGM", "AGM", "Interest", "Bonus", "Rights",
    "Dividends", "LocalUpdateDateTime", "DeleteFlag", "Remarks", "NormalMarketStatus",
    "OddLotMarketStatus", "SpotMarketStatus", "AuctionMarketStatus", "NormalMarketEligibility",
    "OddLotlMarketEligibility", "SpotMarketEligibility", "AuctionlMarketEligibility",
    "MarginPercentage", "ExchangeCode",
)  # fmt: skip
BSE_HEADER = NSE_HEADER
FO_HEADER = (
    "Token", "InstrumentName", "ShortName", "Series", "ExpiryDate", "StrikePrice", "OptionType",
    "CALevel", "PermittedToTrade", "IssueCapital", "WarningQty", "FreezeQty", "CreditRating",
    "NormalMarketStatus", "OddLotMarketStatus", "SpotMarketStatus", "AuctionMarketStatus",
    "NormalMarketEligibility", "OddLotMarketEligibility", "SpotMarketEligibility",
    "AuctionMarketEligibility", "IssueRate", "IssueStartDate", "InterestPaymentDate",
    "IssueMaturityDate", "MarginPercentage", "MinimumLotQty", "LotSize", "TickSize",
    "CompanyName", "ExchangeCode",
)  # fmt: skip
CDNSE_HEADER = FO_HEADER
MCX_HEADER = (
    "Token", "InstrumentName", "ShortName", "Series", "CompanyName", "TickSize", "LotSize",
    "ExpiryDate", "OptionType", "StrikePrice", "StartDate", "EndDate", "ExpiryMonth", "MarketLot",
    "MarginPercentage", "LowerCktLimit", "UpperCktLimit", "OpenInterest", "LifeTimeLow",
    "LifeTimeHigh", "LowPriceRange", "HighPriceRange", "QuantityUnit", "PriceUnit",
    "DeliveryUnit", "Exchange", "ExchangeCode",
)  # fmt: skip
MEMBERS = (
    "NSEScripMaster.txt",
    "BSEScripMaster.txt",
    "FONSEScripMaster.txt",
    "FOBSEScripMaster.txt",
    "CDNSEScripMaster.txt",
    "MCXScripMaster.txt",
)

_CASH_NUMERIC = (
    "Token", "ticksize", "Lotsize", "IssuePrice", "FaceValue", "52WeeksHigh", "52WeeksLow",
    "LifeTimeHigh", "LifeTimeLow", "IssueCapital", "WarningPercent", "FreezePercent",
    "IssueRate", "BoardLotQty", "MarginPercentage",
)  # fmt: skip


def _q(value: object) -> str:
    return '"' + str(value).replace('"', "") + '"'


def _spaced_header(columns: tuple[str, ...]) -> str:
    """NSE/BSE quirk: the header is quoted and separated by comma + space."""
    return ", ".join(_q(c) for c in columns)


def _plain_header(columns: tuple[str, ...]) -> str:
    return ",".join(_q(c) for c in columns)


def _num(value: float) -> str:
    """``24000`` for whole numbers, ``2.5`` / ``0.25`` otherwise (strikes, tick sizes)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


class _CashRows:
    """Formats NSE/BSE rows: every cell quoted, constant cells precomputed once per day."""

    def __init__(self, today: date) -> None:
        fixed = {name: "0" if name in _CASH_NUMERIC else "" for name in NSE_HEADER}
        fixed.update(
            {
                "Lotsize": "1",
                "InstrumentType": "0",
                "PermittedToTrade": "1",
                "BoardLotQty": "1",
                "LocalUpdateDateTime": f"{today.isoformat()} 08:00:00",
                "DeleteFlag": "N",
                "NormalMarketStatus": "1",
                "OddLotMarketStatus": "0",
                "SpotMarketStatus": "0",
                "AuctionMarketStatus": "0",
                "NormalMarketEligibility": "Y",
                "OddLotlMarketEligibility": "N",
                "SpotMarketEligibility": "N",
                "AuctionlMarketEligibility": "N",
            }
        )
        cells = [_q(fixed[name]) for name in NSE_HEADER]
        # Variable cells: 0-5 (Token..Lotsize), 9-10 (FaceValue, ISINCode), 29 (Name),
        # 59-60 (MarginPercentage, ExchangeCode); the runs between them are constant.
        self.mid_a = ",".join(cells[6:9])  # DateOfListing, DateOfDeListing, IssuePrice
        self.mid_b = ",".join(cells[11:29])  # 52WeeksHigh .. BoardLotQty
        self.mid_c = ",".join(cells[30:59])  # ListingDate .. AuctionlMarketEligibility

    def row(self, inst: Instrument) -> str:
        index = inst.kind == "index"
        series, tick, face = ("0", "0", "0") if index else ("EQ", _num(inst.tick), "10")
        exchange_code = inst.token if index else inst.symbol
        margin = "0" if index else "20"
        company = _q(inst.company)
        return (
            f'"{inst.token}","{inst.stock_code}","{series}",{company},"{tick}","1",'
            f'{self.mid_a},"{face}","{inst.isin}",{self.mid_b},{company},{self.mid_c},'
            f'"{margin}","{exchange_code}"'
        )


# CALevel .. MinimumLotQty (columns 7-26), all constant in the simulated master.
_FO_MIDDLE = '0,0,0,0,0,"",0,0,0,0,"","","","",0,"","","",0,0'


def _fo_name(inst: Instrument) -> str:
    if inst.exchange == "NDX":
        return "FUTCUR"
    index = inst.stock_code in INDEX_CODES
    if inst.kind == "future":
        return "FUTIDX" if index else "FUTSTK"
    return "OPTIDX" if index else "OPTSTK"


def _paise(tick: float) -> str:
    return _num(round(tick * 100, 4))


def fo_row(inst: Instrument) -> str:
    """One FONSE/FOBSE/CDNSE row (31 columns, §7 order)."""
    assert inst.expiry is not None
    option = inst.kind == "option"
    series = "OPTION" if option else "FUTURE"
    strike = _num(inst.strike or 0.0) if option else "0"
    right = (inst.right or "XX") if option else "XX"
    return (
        f'"{inst.token}","{_fo_name(inst)}","{inst.stock_code}","{series}",'
        f'"{fmt_dd_mon_yyyy(inst.expiry)}","{strike}","{right}",{_FO_MIDDLE},'
        f'{inst.lot},{_paise(inst.tick)},"{inst.company}","{inst.symbol}"'
    )


def _synthetic_fo_rows(universe: Universe) -> Iterator[str]:
    """The synthetic NFO rows, formatted straight from the grid (no Instrument objects)."""
    for syn in synthetic_fno():
        company, symbol, code, lot = syn.company, syn.symbol, syn.code, syn.lot
        tail = f'{lot},5,"{company}","{symbol}"'
        for e, expiry in enumerate(universe.nfo_monthly):
            exp = fmt_dd_mon_yyyy(expiry)
            yield (
                f'"{_syn_future_token(syn.fno_index, e)}","FUTSTK","{code}","FUTURE","{exp}",'
                f'"0","XX",{_FO_MIDDLE},{lot},10,"{company}","{symbol}"'
            )
            for s in range(_SYN_STRIKES):
                strike = _num(_syn_strike(syn, s))
                for r in ("CE", "PE"):
                    yield (
                        f'"{_syn_option_token(syn.fno_index, e, s, r)}","OPTSTK","{code}",'
                        f'"OPTION","{exp}","{strike}","{r}",{_FO_MIDDLE},{tail}'
                    )


def mcx_row(inst: Instrument) -> str:
    assert inst.expiry is not None
    spec = next(row for row in COMMODITY_FUTURES if row[0] == inst.stock_code)
    _code, _company, _lot, _tick, quantity_unit, price_unit, _day, _base = spec
    exp = fmt_dd_mon_yyyy(inst.expiry)
    return (
        f'"{inst.token}","FUTCOM","{inst.stock_code}","FUTURE","{inst.company}",'
        f'{_paise(inst.tick)},{inst.lot},"{exp}","XX",0,"","","{exp[3:]}",{inst.lot},10,'
        f'0,0,0,0,0,0,0,"{quantity_unit}","{price_unit}","{quantity_unit}","MCX","{inst.symbol}"'
    )


def master_members(today: date, size: str = DEFAULT_MASTER_SIZE) -> dict[str, bytes]:
    """The text of every SecurityMaster.zip member for ``today`` (CRLF line ends)."""
    uni = universe_for(today, size)
    cash = _CashRows(today)

    def lines(header: str, rows: Iterator[str]) -> bytes:
        text = "\r\n".join([header, *rows]) + "\r\n"
        return text.encode("utf-8")

    def fonse() -> Iterator[str]:
        for inst in uni.futures + uni.options:
            yield fo_row(inst)
        if uni.full:
            yield from _synthetic_fo_rows(uni)

    return {
        "NSEScripMaster.txt": lines(
            _spaced_header(NSE_HEADER), (cash.row(i) for i in uni.cash_instruments("NSE"))
        ),
        "BSEScripMaster.txt": lines(
            _spaced_header(BSE_HEADER), (cash.row(i) for i in uni.cash_instruments("BSE"))
        ),
        "FONSEScripMaster.txt": lines(_plain_header(FO_HEADER), fonse()),
        "FOBSEScripMaster.txt": lines(
            _plain_header(FO_HEADER), (fo_row(i) for i in uni.contracts("BFO"))
        ),
        "CDNSEScripMaster.txt": lines(
            _plain_header(CDNSE_HEADER), (fo_row(i) for i in uni.currency)
        ),
        "MCXScripMaster.txt": lines(
            _plain_header(MCX_HEADER), (mcx_row(i) for i in uni.commodities)
        ),
    }


_ZIP_CACHE: OrderedDict[tuple[date, str], bytes] = OrderedDict()
_ZIP_CACHE_SIZE = 4
_ZIP_LOCK = threading.Lock()


def security_master_zip(today: date, size: str = DEFAULT_MASTER_SIZE) -> bytes:
    """SecurityMaster.zip of ``today`` in ``size`` ("small" or "full"), built once and cached.

    Building is serialised, so concurrent first downloads of a full master build it only once.
    """
    if size not in MASTER_SIZES:
        raise ValueError(f"master size must be one of {MASTER_SIZES}, not {size!r}")
    key = (today, size)
    with _ZIP_LOCK:
        cached = _ZIP_CACHE.get(key)
        if cached is not None:
            _ZIP_CACHE.move_to_end(key)
            return cached
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, data in master_members(today, size).items():
                stamp = (today.year, today.month, today.day, 8, 0, 0)
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        payload = buffer.getvalue()
        _ZIP_CACHE[key] = payload
        while len(_ZIP_CACHE) > _ZIP_CACHE_SIZE:
            _ZIP_CACHE.popitem(last=False)
        return payload
