"""Reading the instrument master: search, one instrument, expiries and strikes, status.

Search and detail read the database (indexed prefix matches over the current version); expiries
and strikes come from the process's index (``instruments.resolver``), so building an option
chain's parameters costs no query.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from breeze import clock
from breeze.gateway import ticks
from breeze.operations import Contract
from instruments import resolver
from instruments.errors import MasterMissing, UnknownContract
from instruments.models import Instrument, MasterVersion

CASH_EXCHANGES = ("NSE", "BSE")
FNO_EXCHANGES = ("NFO", "BFO")


def current_version() -> MasterVersion | None:
    return MasterVersion.objects.filter(is_current=True).first()


def _current_or_missing() -> MasterVersion:
    version = current_version()
    if version is None:
        raise MasterMissing()
    return version


def feed_token(instrument: Instrument, *, depth: bool = False) -> str:
    """Breeze's live-feed token (``4.1!2885``); :class:`ticks.UnknownToken` without one."""
    return ticks.feed_token(instrument.exchange, instrument.token, depth=depth)


def _feed_token_or_none(instrument: Instrument) -> str | None:
    try:
        return feed_token(instrument)
    except ticks.UnknownToken:
        return None


def instrument_for_contract(contract: Contract) -> Instrument:
    """The master's row for ``contract`` (cash: the equity or index line; F&O: that future or
    option), which names its live-feed token. :class:`UnknownContract` when it is not listed."""
    rows = Instrument.objects.filter(
        version=_current_or_missing(),
        exchange=contract.exchange_code,
        stock_code=contract.stock_code,
    )
    if contract.expiry is None:
        rows = rows.filter(kind__in=[Instrument.Kind.EQUITY, Instrument.Kind.INDEX])
    elif contract.product_type == "futures":
        rows = rows.filter(kind=Instrument.Kind.FUTURE, expiry=contract.expiry)
    else:
        rows = rows.filter(
            kind=Instrument.Kind.OPTION,
            expiry=contract.expiry,
            right=contract.right,
            strike=Decimal(contract.strike or "0"),
        )
    row = rows.first()
    if row is None:
        raise UnknownContract(f"{contract.stock_code} is not listed that way on "
                              f"{contract.exchange_code}.")  # fmt: skip
    return row


def instrument_data(instrument: Instrument) -> dict[str, Any]:
    """An instrument as the API shows it: both names, the feed token, lot and tick size."""
    return {
        "exchange": instrument.exchange,
        "symbol": instrument.symbol,
        "stock_code": instrument.stock_code,
        "token": instrument.token,
        "feed_token": _feed_token_or_none(instrument),
        "company_name": instrument.company_name,
        "type": instrument.kind,
        "series": instrument.series,
        "isin": instrument.isin or None,
        "expiry": instrument.expiry.isoformat() if instrument.expiry else None,
        "strike": _plain(instrument.strike) if instrument.strike is not None else None,
        "right": instrument.right or None,
        "lot_size": instrument.lot_size,
        "tick_size": _plain(instrument.tick_size),
    }


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def instrument_search(
    *, q: str, exchange: str | None = None, kind: str | None = None, limit: int = 20
) -> list[Instrument]:
    """Instruments matching ``q``, best first: exact symbol, code or ISIN; symbols, then codes,
    then company names starting with it; names containing it. Cash instruments and indices
    rank before contracts, nearest expiry first."""
    version = _current_or_missing()
    text = " ".join(q.upper().split())
    rows: QuerySet[Instrument] = Instrument.objects.filter(version=version)
    if exchange:
        rows = rows.filter(exchange=exchange)
    if kind:
        rows = rows.filter(kind=kind)
    matches = (
        Q(symbol__startswith=text)
        | Q(stock_code__startswith=text)
        | Q(company_name__startswith=text)
        | Q(isin=text)
        | Q(company_name__contains=text)
    )
    ranked = rows.filter(matches).annotate(
        rank=Case(
            When(Q(symbol=text) | Q(stock_code=text) | Q(isin=text), then=Value(0)),
            When(symbol__startswith=text, then=Value(1)),
            When(stock_code__startswith=text, then=Value(2)),
            When(company_name__startswith=text, then=Value(3)),
            default=Value(4),
            output_field=IntegerField(),
        ),
        contract=Case(
            When(kind__in=[Instrument.Kind.EQUITY, Instrument.Kind.INDEX], then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    )
    return list(
        ranked.order_by("rank", "contract", "symbol", "exchange", "expiry", "strike", "right")[
            :limit
        ]
    )


def instrument_get(*, exchange: str, text: str) -> dict[str, Any]:
    """One instrument by code or symbol: the cash line on NSE/BSE; on NFO/BFO the underlying,
    with its nearest future as the line and the expiries listed."""
    version = _current_or_missing()
    found = resolver.resolve(exchange, text)
    if found is None:  # the database has a master, this process has not indexed it yet
        raise MasterMissing()
    rows = Instrument.objects.filter(
        version=version, exchange=exchange, stock_code=found.stock_code
    )
    if exchange in CASH_EXCHANGES:
        row = rows.filter(kind__in=[Instrument.Kind.EQUITY, Instrument.Kind.INDEX]).first()
        if row is None:
            raise UnknownContract(f"{found.stock_code} is not listed for cash on {exchange}.")
        return instrument_data(row)
    nearest = rows.order_by("kind", "expiry", "strike").first()
    if nearest is None:
        raise UnknownContract(f"{found.stock_code} has no contracts on {exchange}.")
    return {
        **instrument_data(nearest),
        "expiries": [
            day.isoformat() for day in instrument_expiries(exchange=exchange, text=text)[1]
        ],
    }


def instrument_expiries(*, exchange: str, text: str) -> tuple[resolver.Resolution, list[date]]:
    index = resolver.current()
    if index is None:
        raise MasterMissing()
    found = index.resolve(exchange, text)
    return found, index.expiries(exchange, found.stock_code)


def expiry_kinds(days: list[date]) -> dict[date, str]:
    """ "monthly" for the last listed expiry of each month, "weekly" for the others."""
    last_of_month: dict[tuple[int, int], date] = {}
    for day in days:
        key = (day.year, day.month)
        last_of_month[key] = max(day, last_of_month.get(key, day))
    return {
        day: "monthly" if last_of_month[(day.year, day.month)] == day else "weekly" for day in days
    }


def instrument_strikes(
    *, exchange: str, text: str, expiry: date, right: str | None
) -> tuple[resolver.Resolution, dict[str, list[str]]]:
    index = resolver.current()
    if index is None:
        raise MasterMissing()
    found = index.resolve(exchange, text)
    listed = index.contracts.get((exchange, found.stock_code))
    rights = [right] if right else ["call", "put"]
    strikes = (
        {
            side: [_plain(value) for value in listed.strikes.get((expiry, side), [])]
            for side in rights
        }
        if listed
        else {}
    )
    if not any(strikes.values()):
        expiries = index.expiries(exchange, found.stock_code)
        nearest = sorted(expiries, key=lambda day: (abs((day - expiry).days), day))[:5]
        raise UnknownContract(
            f"No {found.stock_code} options expire on {expiry.isoformat()} on {exchange}.",
            details={"nearest_expiries": [day.isoformat() for day in sorted(nearest)]},
        )
    return found, strikes


def instruments_status() -> dict[str, Any]:
    """The master in use, for health, the admin and the command."""
    version = current_version()
    if version is None:
        return {"loaded": False, "stale": True}
    age_s = int((timezone.now() - version.loaded_at).total_seconds())
    return {
        "loaded": True,
        "version": version.pk,
        "digest": version.digest[:16],
        "loaded_at": clock.isoformat(version.loaded_at),
        "age_s": age_s,
        "stale": age_s > resolver.STALE_AFTER.total_seconds(),
        "source": version.source,
        "rows": version.rows,
        "skipped": version.skipped,
        "duration_s": version.duration_s,
    }
