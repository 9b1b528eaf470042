"""The simulated instruments: named ones, the synthetic market, and the Universe of a day.

Two sizes (``MASTER_SIZES``):

* ``"small"`` (the default): the named instruments only. Six NSE/BSE equities with their real
  Breeze codes, tokens and ISINs; the NIFTY 50 and NIFTY BANK indices on NSE and SENSEX on BSE;
  the F&O contracts of NIFTY, BANKNIFTY (Breeze code CNXBAN), RELIANCE (RELIND), INFOSYS
  (INFTEC) on NFO and SENSEX (BSESEN) on BFO; a few currency (CDNSE) and commodity (MCX) futures.
* ``"full"``: the same plus a deterministic synthetic market for benchmarks: 8,200 equities
  listed on NSE and BSE, 200 of them with monthly stock futures and options (over 100,000 NFO
  contracts). Synthetic codes, symbols, ISINs and tokens come from a seeded RNG and never collide
  with the named ones; synthetic prices follow from the code, so everything in the master can be
  quoted.

F&O contracts are derived from the current IST date and the exchange calendar (``market_time``):
NSE derivatives expire on Tuesdays and BSE derivatives on Thursdays (since September 2025),
moved to the previous trading day when that is a holiday. The master of a day is cached per
(day, size); synthetic contracts are built on demand, never all at once, to keep memory low.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from .market_time import (
    currency_expiry_date,
    expiry_day,
    monthly_expiry_dates,
    weekly_expiry_dates,
)

MASTER_SIZES = ("small", "full")
DEFAULT_MASTER_SIZE = "small"

NIFTY_STRIKE_STEP = 50
NIFTY_STRIKES_EACH_SIDE = 20
NIFTY_LOT = 65
WEEKLY_EXPIRIES = 4  # weekly option expiries listed (NIFTY on NFO, SENSEX on BFO)
MONTHLY_EXPIRIES = 3  # the current and the next two monthly expiries


@dataclass(frozen=True)
class Instrument:
    """One tradable (or index) line. Frozen so it can key price caches."""

    exchange: str  # "NSE" | "BSE" (cash, indices) | "NFO" | "BFO" (F&O) | "NDX" | "MCX"
    stock_code: str  # ICICI code, e.g. RELIND
    token: str  # SecurityMaster token (index rows use the index name)
    symbol: str  # exchange symbol (master ExchangeCode), e.g. RELIANCE
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
        """Key of the underlying price path (derivatives follow their underlying)."""
        return self.stock_code

    @property
    def cash_exchange(self) -> str:
        """Where the underlying trades: BFO contracts follow BSE, everything else NSE."""
        return "BSE" if self.exchange in ("BSE", "BFO") else "NSE"


# ------------------------------------------------------------------------ named instruments

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

# NSE indices: code, token (= index name), base price
INDICES: tuple[tuple[str, str, float], ...] = (
    ("NIFTY", "NIFTY 50", 24000.0),
    ("CNXBAN", "NIFTY BANK", 52000.0),
)
# BSE indices: code, token (= index name), base price
BSE_INDICES: tuple[tuple[str, str, float], ...] = (("BSESEN", "SENSEX", 80000.0),)
INDEX_CODES = frozenset(code for code, _token, _base in INDICES + BSE_INDICES)


@dataclass(frozen=True)
class FnoSpec:
    """An underlying with listed futures and options."""

    code: str  # Breeze code (master ShortName)
    exchange: str  # "NFO" | "BFO"
    symbol: str  # master ExchangeCode of its contracts
    company: str  # master CompanyName of its contracts
    lot: int
    strike_step: float
    weekly: bool  # weekly options listed besides the monthly ones
    future_tick: float = 0.10
    option_tick: float = 0.05
    strikes_each_side: int = 20

    @property
    def is_index(self) -> bool:
        return self.code in INDEX_CODES

    @property
    def cash_exchange(self) -> str:
        return "BSE" if self.exchange == "BFO" else "NSE"


# Lot sizes as NSE/BSE revised them for 2026 (NIFTY 65, BANKNIFTY 30, RELIANCE 500, SENSEX 20).
# BANKNIFTY lists monthly contracts only: SEBI's F&O measures of Oct 2024 left each exchange one
# weekly index contract from 20 Nov 2024, and NSE kept NIFTY's, so BANKNIFTY weeklies stopped.
# Index contracts carry the index name as ExchangeCode and CompanyName, as in a 3P copy of a real
# FONSE file ("NIFTY 50", "NIFTY BANK"); BFO SENSEX likewise.
FNO_SPECS: tuple[FnoSpec, ...] = (
    FnoSpec("NIFTY", "NFO", "NIFTY 50", "NIFTY 50", NIFTY_LOT, NIFTY_STRIKE_STEP, weekly=True),
    FnoSpec("CNXBAN", "NFO", "NIFTY BANK", "NIFTY BANK", 30, 100, weekly=False),
    FnoSpec("RELIND", "NFO", "RELIANCE", "RELIANCE INDUSTRIES", 500, 10, weekly=False),
    FnoSpec("INFTEC", "NFO", "INFY", "INFOSYS", 400, 20, weekly=False),
    FnoSpec("BSESEN", "BFO", "SENSEX", "SENSEX", 20, 100, weekly=True, future_tick=0.05),
)
_SPECS = {(spec.exchange, spec.code): spec for spec in FNO_SPECS}
FNO_UNDERLYINGS = tuple(spec.code for spec in FNO_SPECS if spec.exchange == "NFO")
BFO_UNDERLYINGS = tuple(spec.code for spec in FNO_SPECS if spec.exchange == "BFO")

# Currency futures (CDNSE; exchange code NDX): code, lot, tick, base price.
CURRENCY_FUTURES: tuple[tuple[str, int, float, float], ...] = (
    ("USDINR", 1000, 0.0025, 86.0),
    ("EURINR", 1000, 0.0025, 94.0),
    ("GBPINR", 1000, 0.0025, 110.0),
    ("JPYINR", 1000, 0.0025, 58.0),  # quoted per 100 yen
)
# Commodity futures (MCX): code, company, lot, tick, quantity unit, price unit, expiry day of
# the month, base price.
COMMODITY_FUTURES: tuple[tuple[str, str, int, float, str, str, int, float], ...] = (
    ("GOLD", "GOLD", 1, 1.0, "KGS", "RS/10GMS", 5, 120_000.0),
    ("SILVER", "SILVER", 30, 1.0, "KGS", "RS/1KGS", 5, 150_000.0),
    ("CRUDEOIL", "CRUDE OIL", 100, 1.0, "BBL", "RS/1BBL", 19, 5_500.0),
    ("NATURALGAS", "NATURAL GAS", 1250, 0.10, "MMBTU", "RS/1MMBTU", 26, 320.0),
    ("COPPER", "COPPER", 2500, 0.05, "KGS", "RS/1KGS", 28, 950.0),
)


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


def _index(code: str, token: str, base: float, exchange: str = "NSE") -> Instrument:
    return Instrument(
        exchange=exchange,
        stock_code=code,
        token=token,
        symbol=token,
        company=token,
        kind="index",
        tick=0.05,
        lot=1,
        base_price=base,
    )


def weekly_expiries(today: date, count: int = WEEKLY_EXPIRIES, exchange: str = "NSE") -> list[date]:
    """The next ``count`` weekly expiries, today included (contracts trade until 15:30 on
    expiry day): Tuesdays on NSE, Thursdays on BSE, moved back over holidays."""
    return weekly_expiry_dates(today, count, exchange)


def monthly_expiries(
    today: date, count: int = MONTHLY_EXPIRIES, exchange: str = "NSE"
) -> list[date]:
    """The current monthly expiry (this month's last Tuesday on NSE, Thursday on BSE, holiday
    shifted; next month's once it passed) and the following ones."""
    return monthly_expiry_dates(today, count, exchange)


def _base_of(code: str) -> float:
    for row in EQUITIES:
        if row[0] == code:
            return row[6]
    for index_code, _token, base in INDICES + BSE_INDICES:
        if index_code == code:
            return base
    syn = synthetic_equity(code)
    return syn.base if syn else 0.0


def contract(
    spec: FnoSpec,
    kind: str,
    expiry: date,
    strike: float = 0.0,
    right: str | None = None,
    token: str = "0",  # noqa: S107 (a scrip token)
) -> Instrument:
    """A future (``kind="future"``) or option of ``spec``'s underlying."""
    return Instrument(
        exchange=spec.exchange,
        stock_code=spec.code,
        token=token,
        symbol=spec.symbol,
        company=spec.company,
        kind=kind,
        tick=spec.future_tick if kind == "future" else spec.option_tick,
        lot=spec.lot,
        base_price=_base_of(spec.code),
        expiry=expiry,
        strike=float(strike) if kind == "option" else 0.0,
        right=right if kind == "option" else None,
    )


def nifty_future(expiry: date, token: str = "0") -> Instrument:  # noqa: S107 (a scrip token)
    return contract(FNO_SPECS[0], "future", expiry, token=token)


def nifty_option(expiry: date, strike: float, right: str, token: str = "0") -> Instrument:  # noqa: S107 (a scrip token)
    return contract(FNO_SPECS[0], "option", expiry, strike, right, token)


def _on_grid(strike: float, step: float) -> bool:
    ratio = strike / step
    return abs(ratio - round(ratio)) < 1e-6


# ------------------------------------------------------------------------ synthetic market

SYNTHETIC_SEED = 20250901
SYNTHETIC_EQUITIES = 8_200
SYNTHETIC_FNO_UNDERLYINGS = 200
SYNTHETIC_STRIKES_EACH_SIDE = 42  # 85 strikes per expiry and right
_NICE_STEPS = (1.0, 2.5, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0)

_SYLLABLES = (
    "KA", "VE", "RI", "SHA", "MA", "NI", "TA", "RO", "DE", "LU", "PRA", "SU", "VI", "JA", "YA",
    "GO", "HA", "BA", "NA", "RA", "SA", "TE", "MI", "DA", "KO", "PA", "LA", "VA", "CHA", "DHA",
    "AN", "IN", "UR", "OM", "AR", "EK", "KRI", "SHRI", "TRI", "GU", "BHA", "NE", "SI", "ZE",
)  # fmt: skip
_SECTORS = (
    ("POLYMERS", "POL"), ("TEXTILES", "TEX"), ("PHARMA", "PHA"), ("FINANCE", "FIN"),
    ("INDUSTRIES", "IND"), ("CEMENT", "CEM"), ("STEEL", "STE"), ("MOTORS", "MOT"),
    ("LABS", "LAB"), ("POWER", "POW"), ("INFRA", "INF"), ("FOODS", "FOO"),
    ("CHEMICALS", "CHE"), ("ENERGY", "ENE"), ("AGRO", "AGR"), ("LOGISTICS", "LOG"),
    ("SOFTWARE", "SOF"), ("CAPITAL", "CAP"), ("HOTELS", "HOT"), ("PAPER", "PAP"),
    ("GLASS", "GLA"), ("TYRES", "TYR"), ("CABLES", "CAB"), ("ESTATES", "EST"),
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticEquity:
    """One generated equity, listed on NSE and BSE (and, for ``fno_index >= 0``, on NFO)."""

    code: str
    symbol: str
    company: str
    isin: str
    nse_token: str
    bse_token: str
    base: float
    vol: float  # daily volatility of the price path
    volume: int  # typical daily volume in shares
    fno_index: int = -1  # position among the synthetic F&O underlyings, or -1
    lot: int = 0
    strike_step: float = 0.0


def isin_check_digit(body: str) -> str:
    """ISO 6166 check digit of an 11-character ISIN body (letters count as 10..35)."""
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def _nice_step(price: float) -> float:
    target = price * 0.01
    return min(_NICE_STEPS, key=lambda step: (abs(step - target), step))


def _reserved_names() -> set[str]:
    names = {"NIFTY", "CNXBAN", "BSESEN", "SENSEX", "NIFTY 50", "NIFTY BANK", "FUTCUR", "FUTCOM"}
    for row in EQUITIES:
        names.update((row[0], row[3]))
    names.update(code for code, *_rest in CURRENCY_FUTURES)
    names.update(code for code, *_rest in COMMODITY_FUTURES)
    return names


@cache
def synthetic_equities() -> tuple[SyntheticEquity, ...]:
    """The synthetic equities of the full-size master, always the same (seeded RNG)."""
    rng = random.Random(SYNTHETIC_SEED)
    taken_codes = _reserved_names()
    taken_symbols = set(taken_codes)
    nse_token, bse_token = 14000, 700000
    fno_count = 0
    out: list[SyntheticEquity] = []
    while len(out) < SYNTHETIC_EQUITIES:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3))))
        sector, abbreviation = rng.choice(_SECTORS)
        code = (word[:3] + abbreviation)[:6]
        if code in taken_codes:
            code = (word[:4] + abbreviation[:2])[:6]
        symbol = (word + sector)[:10]
        if code in taken_codes or symbol in taken_symbols or len(word) < 3:
            continue
        taken_codes.add(code)
        taken_symbols.add(symbol)
        i = len(out)
        issuer = f"{i % 1000:03d}" + "PQRSTUVWXYZ"[i // 1000]
        body = f"INE{issuer}0101"
        base = round(math.exp(rng.uniform(math.log(20), math.log(5000))), 1)
        vol = round(rng.uniform(0.012, 0.03), 4)
        volume = int(math.exp(rng.uniform(math.log(10_000), math.log(5_000_000))))
        nse_token += rng.randint(1, 3)  # stays below the NFO tokens (35001+): both stream as 4.
        bse_token += rng.randint(1, 9)
        fno_index, lot, step = -1, 0, 0.0
        if fno_count < SYNTHETIC_FNO_UNDERLYINGS and base >= 150 and rng.random() < 0.1:
            fno_index, fno_count = fno_count, fno_count + 1
            lot = max(1, round(600_000 / base / 25)) * 25
            step = _nice_step(base)
        out.append(
            SyntheticEquity(
                code=code,
                symbol=symbol,
                company=f"{word} {sector}",
                isin=body + isin_check_digit(body),
                nse_token=str(nse_token),
                bse_token=str(bse_token),
                base=base,
                vol=vol,
                volume=volume,
                fno_index=fno_index,
                lot=lot,
                strike_step=step,
            )
        )
    assert fno_count == SYNTHETIC_FNO_UNDERLYINGS, fno_count
    return tuple(out)


@cache
def _synthetic_by_code() -> dict[str, SyntheticEquity]:
    return {syn.code: syn for syn in synthetic_equities()}


@cache
def synthetic_fno() -> tuple[SyntheticEquity, ...]:
    """The synthetic F&O underlyings, in ``fno_index`` order."""
    return tuple(syn for syn in synthetic_equities() if syn.fno_index >= 0)


def synthetic_equity(code: str) -> SyntheticEquity | None:
    return _synthetic_by_code().get(code.upper())


def synthetic_params(code: str) -> tuple[float, float, int] | None:
    """(base price, daily volatility, daily volume) of a synthetic equity's price path."""
    syn = synthetic_equity(code)
    return (syn.base, syn.vol, syn.volume) if syn else None


def _synthetic_cash(exchange: str, syn: SyntheticEquity) -> Instrument:
    return Instrument(
        exchange=exchange,
        stock_code=syn.code,
        token=syn.nse_token if exchange == "NSE" else syn.bse_token,
        symbol=syn.symbol,
        company=syn.company,
        kind="equity",
        tick=0.05,
        lot=1,
        base_price=syn.base,
        isin=syn.isin,
    )


def _synthetic_spec(syn: SyntheticEquity) -> FnoSpec:
    return FnoSpec(
        syn.code,
        "NFO",
        syn.symbol,
        syn.company,
        syn.lot,
        syn.strike_step,
        weekly=False,
        strikes_each_side=SYNTHETIC_STRIKES_EACH_SIDE,
    )


def _synthetic_centre(syn: SyntheticEquity) -> float:
    """Synthetic strike grids are static: centred on the base price the path hovers around."""
    return round(syn.base / syn.strike_step) * syn.strike_step


SYN_FUTURE_TOKEN0 = 50001
SYN_OPTION_TOKEN0 = 100001
_SYN_STRIKES = 2 * SYNTHETIC_STRIKES_EACH_SIDE + 1


def _syn_future_token(fno_index: int, expiry_index: int) -> str:
    return str(SYN_FUTURE_TOKEN0 + fno_index * MONTHLY_EXPIRIES + expiry_index)


def _syn_option_token(fno_index: int, expiry_index: int, strike_index: int, right: str) -> str:
    slot = (fno_index * MONTHLY_EXPIRIES + expiry_index) * _SYN_STRIKES + strike_index
    return str(SYN_OPTION_TOKEN0 + slot * 2 + (right == "PE"))


def _syn_strike(syn: SyntheticEquity, strike_index: int) -> float:
    centre = _synthetic_centre(syn)
    return round(centre + (strike_index - SYNTHETIC_STRIKES_EACH_SIDE) * syn.strike_step, 2)


# ------------------------------------------------------------------------ the universe


def _strike_grid(reference: float, step: float, each_side: int) -> list[float]:
    atm = round(reference / step) * step
    return [float(atm + step * k) for k in range(-each_side, each_side + 1) if atm + step * k > 0]


class Universe:
    """Every instrument listed on one IST calendar day, for one master size.

    ``nse``/``bse`` hold the named cash instruments, ``futures``/``options`` the NFO contracts of
    the named underlyings (``bfo_futures``/``bfo_options`` the BFO ones), ``currency`` and
    ``commodities`` the NDX (CDNSE) and MCX futures (quotes and history only). In the full size, the
    synthetic equities and their NFO contracts are found through the same lookups (``cash``,
    ``future``, ``option``, ``chain``...) and iterated with ``cash_instruments``/``contracts``.
    """

    def __init__(
        self, today: date, references: dict[str, float], size: str = DEFAULT_MASTER_SIZE
    ) -> None:
        if size not in MASTER_SIZES:
            raise ValueError(f"master size must be one of {MASTER_SIZES}, not {size!r}")
        self.today = today
        self.size = size
        self.nse = [_equity("NSE", row) for row in EQUITIES]
        self.nse += [_index(*row) for row in INDICES]
        self.bse = [_equity("BSE", row) for row in EQUITIES]
        self.bse += [_index(code, token, base, "BSE") for code, token, base in BSE_INDICES]
        self.nfo_monthly = monthly_expiries(today, MONTHLY_EXPIRIES, "NSE")
        self.bfo_monthly = monthly_expiries(today, MONTHLY_EXPIRIES, "BSE")
        self.futures: list[Instrument] = []
        self.options: list[Instrument] = []
        self.bfo_futures: list[Instrument] = []
        self.bfo_options: list[Instrument] = []
        self._strikes: dict[tuple[str, str], list[float]] = {}
        tokens = {"NFO": (35001, 40001), "BFO": (820001, 830001)}
        for spec in FNO_SPECS:
            cash = "BSE" if spec.exchange == "BFO" else "NSE"
            monthly = self.bfo_monthly if cash == "BSE" else self.nfo_monthly
            weekly = weekly_expiries(today, WEEKLY_EXPIRIES, cash) if spec.weekly else []
            reference = references.get(spec.code) or _base_of(spec.code)
            strikes = _strike_grid(reference, spec.strike_step, spec.strikes_each_side)
            self._strikes[(spec.exchange, spec.code)] = strikes
            futures = self.bfo_futures if spec.exchange == "BFO" else self.futures
            options = self.bfo_options if spec.exchange == "BFO" else self.options
            next_future, next_option = tokens[spec.exchange]
            for expiry in monthly:
                futures.append(contract(spec, "future", expiry, token=str(next_future)))
                next_future += 1
            for expiry in sorted(set(weekly) | set(monthly)):
                for strike in strikes:
                    for right in ("CE", "PE"):
                        options.append(
                            contract(spec, "option", expiry, strike, right, str(next_option))
                        )
                        next_option += 1
            tokens[spec.exchange] = (next_future, next_option)
        self.strikes = self._strikes[("NFO", "NIFTY")]
        self.currency = self._currency_futures()
        self.commodities = self._commodity_futures()
        self._cash = {(i.exchange, i.stock_code): i for i in self.nse + self.bse}
        self._listed_futures = {
            "NFO": self.futures,
            "BFO": self.bfo_futures,
            "NDX": self.currency,
            "MCX": self.commodities,
        }
        self._contracts = {
            (i.exchange, i.stock_code, i.kind, i.expiry, i.strike, i.right): i
            for listed in (self.options, self.bfo_options, *self._listed_futures.values())
            for i in listed
        }

    @property
    def full(self) -> bool:
        return self.size == "full"

    # ------------------------------------------------------------------ currency, commodity

    def _currency_futures(self) -> list[Instrument]:
        year, month = self.today.year, self.today.month
        expiries: list[date] = []
        while len(expiries) < MONTHLY_EXPIRIES:
            expiry = currency_expiry_date(year, month)
            if expiry >= self.today:
                expiries.append(expiry)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        out, token = [], 1101
        for code, lot, tick, base in CURRENCY_FUTURES:
            for expiry in expiries:
                out.append(
                    Instrument(
                        exchange="NDX",
                        stock_code=code,
                        token=str(token),
                        symbol=code,
                        company=code,
                        kind="future",
                        tick=tick,
                        lot=lot,
                        base_price=base,
                        expiry=expiry,
                        strike=0.0,
                    )
                )
                token += 1
        return out

    def _commodity_futures(self) -> list[Instrument]:
        # Approximate: each commodity expires on a fixed day of every month (holiday shifted);
        # MCX's own contract calendars differ per commodity and are not modelled.
        out, token = [], 430001
        for code, company, lot, tick, _qty_unit, _price_unit, day, base in COMMODITY_FUTURES:
            year, month, found = self.today.year, self.today.month, 0
            while found < 2:
                expiry = expiry_day(date(year, month, day))
                if expiry >= self.today:
                    out.append(
                        Instrument(
                            exchange="MCX",
                            stock_code=code,
                            token=str(token),
                            symbol=code,
                            company=company,
                            kind="future",
                            tick=tick,
                            lot=lot,
                            base_price=base,
                            expiry=expiry,
                            strike=0.0,
                        )
                    )
                    token += 1
                    found += 1
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    # ------------------------------------------------------------------ lookups

    def cash(self, exchange: str, code: str) -> Instrument | None:
        exchange, code = exchange.upper(), code.upper()
        found = self._cash.get((exchange, code))
        if found is None and self.full and exchange in ("NSE", "BSE"):
            syn = synthetic_equity(code)
            if syn is not None:
                return _synthetic_cash(exchange, syn)
        return found

    def underlying(self, inst: Instrument) -> Instrument | None:
        """The cash instrument whose price a derivative follows (its spot)."""
        return self.cash(inst.cash_exchange, inst.stock_code)

    def _synthetic_for(self, exchange: str, code: str) -> SyntheticEquity | None:
        if not self.full or exchange != "NFO":
            return None
        syn = synthetic_equity(code)
        return syn if syn is not None and syn.fno_index >= 0 else None

    def future(self, code: str, expiry: date | None, exchange: str = "NFO") -> Instrument | None:
        exchange, code = exchange.upper(), code.upper()
        found = self._contracts.get((exchange, code, "future", expiry, 0.0, None))
        syn = None if found else self._synthetic_for(exchange, code)
        if syn is not None and expiry in self.nfo_monthly:
            return self._synthetic_future(syn, self.nfo_monthly.index(expiry))
        return found

    def _synthetic_future(self, syn: SyntheticEquity, expiry_index: int) -> Instrument:
        token = _syn_future_token(syn.fno_index, expiry_index)
        return contract(_synthetic_spec(syn), "future", self.nfo_monthly[expiry_index], token=token)

    def option(
        self,
        code: str,
        expiry: date | None,
        strike: float | None,
        right: str | None,
        exchange: str = "NFO",
    ) -> Instrument | None:
        exchange, code = exchange.upper(), code.upper()
        found = self._contracts.get((exchange, code, "option", expiry, strike, right))
        syn = None if found else self._synthetic_for(exchange, code)
        if syn is None or expiry not in self.nfo_monthly or right not in ("CE", "PE") or not strike:
            return found
        index = round((strike - _synthetic_centre(syn)) / syn.strike_step)
        index += SYNTHETIC_STRIKES_EACH_SIDE
        if not 0 <= index < _SYN_STRIKES or abs(_syn_strike(syn, index) - strike) > 1e-6:
            return None
        return self._synthetic_option(syn, self.nfo_monthly.index(expiry), index, right)

    def _synthetic_option(
        self, syn: SyntheticEquity, expiry_index: int, strike_index: int, right: str
    ) -> Instrument:
        return contract(
            _synthetic_spec(syn),
            "option",
            self.nfo_monthly[expiry_index],
            _syn_strike(syn, strike_index),
            right,
            _syn_option_token(syn.fno_index, expiry_index, strike_index, right),
        )

    def strikes_of(self, code: str, exchange: str = "NFO") -> list[float]:
        """The listed strike grid of an underlying (empty when it has no options)."""
        exchange, code = exchange.upper(), code.upper()
        if (exchange, code) in self._strikes:
            return list(self._strikes[(exchange, code)])
        syn = self._synthetic_for(exchange, code)
        return [_syn_strike(syn, s) for s in range(_SYN_STRIKES)] if syn else []

    def option_expiries(self, code: str | None = None, exchange: str = "NFO") -> list[date]:
        exchange = exchange.upper()
        if code is not None and self._synthetic_for(exchange, code.upper()) is not None:
            return list(self.nfo_monthly)
        listed = self.bfo_options if exchange == "BFO" else self.options
        wanted = None if code is None else code.upper()
        return sorted({i.expiry for i in listed if i.expiry and wanted in (None, i.stock_code)})

    def chain(
        self,
        code: str,
        expiry: date | None = None,
        right: str | None = None,
        strike: float | None = None,
        exchange: str = "NFO",
    ) -> list[Instrument]:
        """Options of one underlying filtered by whatever was given, ordered by expiry, strike."""
        exchange, code = exchange.upper(), code.upper()
        syn = self._synthetic_for(exchange, code)
        if syn is not None:
            rows = [
                self._synthetic_option(syn, e, s, r)
                for e, listed in enumerate(self.nfo_monthly)
                if expiry is None or listed == expiry
                for s in range(_SYN_STRIKES)
                if strike is None or abs(_syn_strike(syn, s) - strike) < 1e-6
                for r in ("CE", "PE")
                if right is None or r == right
            ]
        else:
            listed = self.bfo_options if exchange == "BFO" else self.options
            rows = [
                i
                for i in listed
                if i.stock_code == code
                and (expiry is None or i.expiry == expiry)
                and (right is None or i.right == right)
                and (strike is None or i.strike == strike)
            ]
        return sorted(rows, key=lambda i: (i.expiry, i.strike, i.right))

    def futures_of(
        self, code: str, expiry: date | None = None, exchange: str = "NFO"
    ) -> list[Instrument]:
        exchange, code = exchange.upper(), code.upper()
        syn = self._synthetic_for(exchange, code)
        if syn is not None:
            return [
                self._synthetic_future(syn, e)
                for e, day in enumerate(self.nfo_monthly)
                if expiry is None or day == expiry
            ]
        listed = self._listed_futures.get(exchange, [])
        return [
            i for i in listed if i.stock_code == code and (expiry is None or i.expiry == expiry)
        ]

    def unlisted_contract(
        self,
        exchange: str,
        code: str,
        kind: str,
        expiry: date | None,
        strike: float | None,
        right: str | None,
    ) -> Instrument | None:
        """A contract outside today's list (e.g. expired), allowed for history only.

        Breeze serves history of expired contracts; the simulator accepts any future of a known
        F&O underlying, and any option whose strike lies on that underlying's strike grid.
        """
        exchange, code = exchange.upper(), code.upper()
        spec = _SPECS.get((exchange, code))
        if spec is None:
            syn = self._synthetic_for(exchange, code)
            spec = _synthetic_spec(syn) if syn is not None else None
        if spec is None or expiry is None:
            return None
        if kind == "future":
            return contract(spec, "future", expiry)
        if (
            kind == "option"
            and right in ("CE", "PE")
            and strike
            and strike > 0
            and _on_grid(strike, spec.strike_step)
        ):
            return contract(spec, "option", expiry, strike, right)
        return None

    # ------------------------------------------------------------------ iteration (master)

    def cash_instruments(self, exchange: str) -> Iterator[Instrument]:
        """Every cash instrument of "NSE" or "BSE": the named ones, then the synthetic ones."""
        yield from self.nse if exchange == "NSE" else self.bse
        if self.full:
            for syn in synthetic_equities():
                yield _synthetic_cash(exchange, syn)

    def synthetic_contract_count(self) -> int:
        if not self.full:
            return 0
        per_expiry = 1 + 2 * _SYN_STRIKES
        return SYNTHETIC_FNO_UNDERLYINGS * len(self.nfo_monthly) * per_expiry

    def contracts(self, exchange: str = "NFO") -> Iterator[Instrument]:
        """Every listed contract of "NFO" or "BFO" (synthetic ones built one at a time)."""
        if exchange == "BFO":
            yield from self.bfo_futures
            yield from self.bfo_options
            return
        yield from self.futures
        yield from self.options
        if self.full:
            for syn in synthetic_fno():
                yield from self.futures_of(syn.code)
                for e in range(len(self.nfo_monthly)):
                    for s in range(_SYN_STRIKES):
                        for r in ("CE", "PE"):
                            yield self._synthetic_option(syn, e, s, r)
