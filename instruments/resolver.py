"""Names people type → Breeze's codes, answered from memory on the request path.

Each process keeps an index of the current master: codes and exchange symbols per exchange,
and for F&O the expiries and strikes of every underlying. It is rebuilt only when the master
changes: at most every ``BREEZE_INSTRUMENTS_CHECK_S`` seconds the process reads the current
version's id from the shared store (one ``GET``), so once warm a request costs no database
query and a dictionary lookup or two. Without a loaded master, :func:`resolve` answers None
and requests pass through as they always did.

When the master is older than a day and no sync is running anywhere (a lock in the shared
store), the process that notices starts one in the background (``BREEZE_INSTRUMENTS_AUTO_SYNC``);
the daily Cloud Run job is the main mechanism, this is the safety net.
"""

from __future__ import annotations

import bisect
import difflib
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from breeze import clock
from instruments.aliases import INDEX_ALIASES
from instruments.errors import UnknownContract, UnknownInstrument
from instruments.models import Instrument, MasterVersion
from instruments.services import VERSION_CACHE_KEY, SyncFailed, instruments_sync

logger = logging.getLogger(__name__)

AUTO_SYNC_LOCK = "instruments:auto-sync"
STALE_AFTER = timedelta(days=1)
# For a symbol people know from one exchange, the exchange whose names Breeze shares.
_SIBLING = {"BSE": "NSE", "BFO": "NFO"}


@dataclass(frozen=True)
class Resolution:
    stock_code: str  # Breeze's code
    symbol: str  # the exchange's symbol


@dataclass
class _Contracts:
    futures: set[date] = field(default_factory=set)
    strikes: dict[tuple[date, str], list[Decimal]] = field(default_factory=dict)

    def expiries(self) -> list[date]:
        return sorted(self.futures | {expiry for expiry, _ in self.strikes})


@dataclass
class Index:
    version_id: int
    loaded_at: datetime
    rows: dict[str, int] = field(default_factory=dict)  # per exchange, as loaded
    codes: dict[tuple[str, str], str] = field(default_factory=dict)  # (exchange, code) → symbol
    symbols: dict[tuple[str, str], str] = field(default_factory=dict)  # (exchange, symbol) → code
    contracts: dict[tuple[str, str], _Contracts] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)  # exchange → sorted names

    @classmethod
    def build(cls, version: MasterVersion) -> Index:
        index = cls(version.pk, version.loaded_at, dict(version.rows))
        strikes: dict[tuple[str, str, date, str], list[Decimal]] = defaultdict(list)
        rows = Instrument.objects.filter(version=version).values_list(
            "exchange", "stock_code", "symbol", "kind", "expiry", "strike", "right"
        )
        for exchange, code, symbol, kind, expiry, strike, right in rows.iterator(chunk_size=5000):
            index.codes.setdefault((exchange, code), symbol)
            index.symbols.setdefault((exchange, symbol), code)
            if kind == Instrument.Kind.FUTURE:
                index.contracts.setdefault((exchange, code), _Contracts()).futures.add(expiry)
            elif kind == Instrument.Kind.OPTION:
                index.contracts.setdefault((exchange, code), _Contracts())
                strikes[(exchange, code, expiry, right)].append(strike)
        for (exchange, code, expiry, right), values in strikes.items():
            index.contracts[(exchange, code)].strikes[(expiry, right)] = sorted(set(values))
        per_exchange: dict[str, set[str]] = defaultdict(set)
        for exchange, code in index.codes:
            per_exchange[exchange].add(code)
        for exchange, symbol in index.symbols:
            per_exchange[exchange].add(symbol)
        index.names = {exchange: sorted(names) for exchange, names in per_exchange.items()}
        return index

    # --- names ---------------------------------------------------------------------------

    def resolve(self, exchange: str, text: str) -> Resolution:
        wanted = " ".join(text.upper().split())
        found = self._lookup(exchange, wanted)
        sibling = _SIBLING.get(exchange)
        if found is None and sibling is not None:
            # A symbol known from the sibling exchange names the same Breeze code.
            on_sibling = self._lookup(sibling, wanted)
            if on_sibling is not None and (exchange, on_sibling.stock_code) in self.codes:
                found = Resolution(
                    on_sibling.stock_code, self.codes[(exchange, on_sibling.stock_code)]
                )
        if found is None:
            raise UnknownInstrument(
                exchange=exchange, text=text, suggestions=self.suggestions(exchange, wanted)
            )
        return found

    def _lookup(self, exchange: str, wanted: str) -> Resolution | None:
        if (exchange, wanted) in self.codes:
            return Resolution(wanted, self.codes[(exchange, wanted)])
        if (exchange, wanted) in self.symbols:
            return Resolution(self.symbols[(exchange, wanted)], wanted)
        alias = INDEX_ALIASES.get(wanted) or INDEX_ALIASES.get(wanted.replace(" ", ""))
        if alias is not None and (exchange, alias) in self.symbols:
            return Resolution(self.symbols[(exchange, alias)], alias)
        return None

    def suggestions(self, exchange: str, wanted: str, limit: int = 5) -> list[str]:
        """Up to ``limit`` names like ``wanted``: those it begins, then the closest spellings
        among the names sharing its first letter (a bounded set, so a typo stays cheap)."""
        names = self.names.get(exchange, [])
        start = bisect.bisect_left(names, wanted)
        found = [name for name in names[start : start + limit] if name.startswith(wanted)]
        if len(found) < limit and wanted:
            first = bisect.bisect_left(names, wanted[0])
            last = bisect.bisect_left(names, chr(ord(wanted[0]) + 1))
            close = difflib.get_close_matches(wanted, names[first:last], n=limit, cutoff=0.5)
            found += [name for name in close if name not in found]
        return found[:limit]

    # --- contracts -----------------------------------------------------------------------

    def check_contract(
        self, exchange: str, code: str, *, expiry: date, right: str, strike: Decimal | None
    ) -> None:
        """Raise :class:`UnknownContract` unless this future (``strike`` None) or option is
        listed today, with the nearest expiries or strikes that are."""
        listed = self.contracts.get((exchange, code))
        if listed is None:
            raise UnknownContract(f"{code} has no listed futures or options on {exchange}.")
        expiries = (
            listed.futures if strike is None else {e for e, r in listed.strikes if r == right}
        )
        if expiry not in expiries:
            nearest = sorted(expiries, key=lambda day: (abs((day - expiry).days), day))[:5]
            raise UnknownContract(
                f"No {code} {'future' if strike is None else 'option'} expires on "
                f"{expiry.isoformat()} on {exchange}.",
                details={"nearest_expiries": [day.isoformat() for day in sorted(nearest)]},
            )
        if strike is None:
            return
        strikes = listed.strikes.get((expiry, right), [])
        if strike not in strikes:
            nearest_strikes = sorted(strikes, key=lambda value: (abs(value - strike), value))[:5]
            raise UnknownContract(
                f"No {code} {right} at strike {strike} for {expiry.isoformat()} on {exchange}.",
                details={
                    "nearest_strikes": [format(v.normalize(), "f") for v in sorted(nearest_strikes)]
                },
            )

    def expiries(self, exchange: str, code: str) -> list[date]:
        listed = self.contracts.get((exchange, code))
        return listed.expiries() if listed else []


# --- the process's index ------------------------------------------------------------------

_lock = threading.Lock()
_index: Index | None = None
_checked_at = 0.0


def current() -> Index | None:
    """The index of the current master, or None when none is loaded."""
    global _index, _checked_at  # a per-process copy of the master, not shared state
    if time.monotonic() - _checked_at < settings.BREEZE_INSTRUMENTS_CHECK_S:
        return _index
    with _lock:
        if time.monotonic() - _checked_at < settings.BREEZE_INSTRUMENTS_CHECK_S:
            return _index
        version_id = cache.get(VERSION_CACHE_KEY)
        if version_id is None:
            version = MasterVersion.objects.filter(is_current=True).first()
            version_id = version.pk if version else 0
            cache.set(VERSION_CACHE_KEY, version_id, None)
        if not version_id:
            _index = None
        elif _index is None or _index.version_id != version_id:
            version = MasterVersion.objects.filter(pk=version_id).first()
            _index = Index.build(version) if version is not None else None
        _checked_at = time.monotonic()
        _maybe_refresh(_index)
        return _index


def forget() -> None:
    """Look for the current master again at the next request (tests, and after a sync)."""
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0


def version_id() -> int:
    """The id of the master in use (0: none); part of the key of anything resolved with it."""
    index = current()
    return index.version_id if index else 0


def summary() -> dict[str, object]:
    """The master in use, for health (from memory: no query once warm)."""
    index = current()
    if index is None:
        return {"loaded": False, "stale": True}
    age_s = int((timezone.now() - index.loaded_at).total_seconds())
    return {
        "loaded": True,
        "version": index.version_id,
        "loaded_at": clock.isoformat(index.loaded_at),
        "age_s": age_s,
        "stale": age_s > STALE_AFTER.total_seconds(),
        "rows": index.rows,
    }


def resolve(exchange: str, text: str) -> Resolution | None:
    """``text`` (a Breeze code, an exchange symbol or an alias) on ``exchange``; None when no
    master is loaded; :class:`UnknownInstrument` with suggestions when the master lacks it."""
    index = current()
    return None if index is None else index.resolve(exchange, text)


def _maybe_refresh(index: Index | None) -> None:
    if not settings.BREEZE_INSTRUMENTS_AUTO_SYNC:
        return
    if index is not None and timezone.now() - index.loaded_at < STALE_AFTER:
        return
    if not cache.add(AUTO_SYNC_LOCK, 1, timeout=15 * 60):
        return  # another process is syncing (or did a moment ago)
    threading.Thread(target=_sync_in_background, name="instruments-sync", daemon=True).start()


def _sync_in_background() -> None:
    try:
        instruments_sync()
    except SyncFailed as exc:
        logger.warning("automatic instruments sync failed", extra={"reason": str(exc)})
    except Exception:
        logger.exception("automatic instruments sync failed")
    finally:
        connections.close_all()
        forget()
