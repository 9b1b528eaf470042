"""The stream's blocking work, run on a small thread pool off the event loop: deciding a client
key, resolving what a client asks for into feeds, the live session, and the REST quotes that
give a new subscriber its first value and an index its previous close.

Each runs the same code the REST endpoints run (``access.gate``, the market serializers,
``instruments``, ``market.services``), so a key, a name or an instrument means the same thing
on both; database connections are handed back after every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import close_old_connections, connections

from access import gate
from access.principals import Principal
from breeze.errors import ProxyError
from breeze.gateway import budget
from breeze.gateway.ticks import UnknownToken
from breeze.operations import Contract, QuoteQuery
from instruments import resolver
from instruments.errors import MasterMissing
from instruments.selectors import feed_token, instrument_for_contract
from market import services
from market.serializers import QuoteRequestSerializer
from sessions_admin.selectors import LiveSession, breeze_session_get_live
from stream.shapes import Described

T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stream-sync")
MAX_NAME = 60


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the pool; its database connection is returned afterwards."""

    def job() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await asyncio.get_running_loop().run_in_executor(_pool, job)


def close_connections(timeout_s: float = 5.0) -> None:
    """Hand back every pool thread's database connection (when the stream stops): one job per
    thread, held at a barrier so that each thread runs exactly one."""
    threads = len(getattr(_pool, "_threads", ()))
    if not threads:
        return
    barrier = threading.Barrier(threads)

    def job() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout_s)
        connections.close_all()

    for future in [_pool.submit(job) for _ in range(threads)]:
        future.result(timeout=timeout_s + 1)


@dataclass(frozen=True)
class Wanted:
    """One instrument a client asked for, and the feeds that carry it."""

    ident: str  # the native id, or the name a seed client sent
    feed: str  # X.1!token
    depth_feed: str | None  # X.2!token when depth was asked for
    described: Described
    contract: Contract


def admit(raw_key: str, *, source_ip: str | None, origin: str | None) -> Principal:
    """The caller behind ``raw_key`` with scope ``stream`` (the REST rules: lockout for the
    admin key, origins, quota: a subscription counts as one request)."""
    return gate.admit(raw_key, source_ip=source_ip, origin=origin, scope="stream").principal


def live_session() -> LiveSession | None:
    return breeze_session_get_live()


def _wanted(contract: Contract, ident: str, depth: bool) -> Wanted:
    row = instrument_for_contract(contract)
    described = Described(
        exchange_code=contract.exchange_code,
        stock_code=contract.stock_code,
        symbol=row.symbol or contract.symbol or contract.stock_code,
        product_type=contract.product_type,
        expiry_date=contract.expiry.isoformat() if contract.expiry else "",
        right=contract.right if contract.product_type == "options" else "",
        strike_price=contract.strike if contract.product_type == "options" else "",
        kind=row.kind,
    )
    return Wanted(
        ident=ident,
        feed=feed_token(row),
        depth_feed=feed_token(row, depth=True) if depth else None,
        described=described,
        contract=contract,
    )


def _error(error: ProxyError | UnknownToken, **where: Any) -> dict[str, Any]:
    if isinstance(error, UnknownToken):
        return {**where, "error": str(error), "code": "unknown_instrument"}
    envelope = error.envelope()
    return {**where, "error": envelope["message"], "code": envelope["code"],
            "details": envelope.get("details")}  # fmt: skip


def watchlist(stocks: Any) -> tuple[list[Wanted], list[dict[str, Any]]]:
    """The seed's ``stocks``: exchange symbols (or Breeze codes, or NIFTY for NIFTY 50) on NSE."""
    if not isinstance(stocks, list):
        return [], [{"error": "stocks must be a list of symbols.", "code": "bad_request"}]
    if resolver.current() is None:
        error = MasterMissing()
        return [], [_error(error)]
    found, errors, seen = [], [], set()
    for name in stocks:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            errors.append({"symbol": str(name)[:MAX_NAME], "error": "Not a symbol.",
                           "code": "bad_request"})  # fmt: skip
            continue
        if name in seen:
            continue
        seen.add(name)
        try:
            resolved = resolver.resolve("NSE", name)
            if resolved is None:  # the master is being (re)loaded in this process
                raise MasterMissing()
            contract = Contract(resolved.stock_code, "NSE", "cash", symbol=resolved.symbol)
            found.append(_wanted(contract, name, depth=False))
        except (ProxyError, UnknownToken) as exc:
            errors.append(_error(exc, symbol=name))
    return found, errors


def instruments(items: Any, *, depth: bool) -> tuple[list[Wanted], list[dict[str, Any]]]:
    """The native ``subscribe``'s instruments, each validated as a REST quote body is."""
    if not isinstance(items, list):
        return [], [{"error": "instruments must be a list.", "code": "bad_request"}]
    found, errors = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "error": "Not an object.", "code": "bad_request"})
            continue
        body = {k: v for k, v in item.items() if k != "id"}
        ident = item.get("id")
        try:
            serializer = QuoteRequestSerializer(data=body)
            if not serializer.is_valid():
                errors.append({"index": index, "error": "Invalid instrument.",
                               "code": "bad_request", "details": serializer.errors})  # fmt: skip
                continue
            contract = serializer.query.contract
            if not isinstance(ident, str) or not ident or len(ident) > 100:
                ident = _default_id(contract)
            found.append(_wanted(contract, ident, depth=depth))
        except (ProxyError, UnknownToken) as exc:
            errors.append(_error(exc, index=index))
    return found, errors


def _default_id(contract: Contract) -> str:
    parts = [contract.exchange_code, contract.symbol or contract.stock_code]
    if contract.expiry:
        parts.append(contract.expiry.isoformat())
        options = contract.product_type == "options"
        parts += [contract.right, contract.strike] if options else ["FUT"]
    return ":".join(parts)


def rest_quote(
    contract: Contract, session: LiveSession, account: budget.Account | None
) -> dict[str, Any] | None:
    """The REST quote row of ``contract`` (through the cache, merging, breaker and budget), or
    None when Breeze has none to give right now."""
    try:
        answer = services.quote_get(query=QuoteQuery(contract), session=session, account=account)
    except ProxyError:
        return None
    rows = answer.rows
    row = next((r for r in rows if r.get("exchange_code") == contract.exchange_code), None)
    return row or (rows[0] if rows else None)
