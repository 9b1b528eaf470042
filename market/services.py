"""What each market endpoint means: find the live session, fetch through the gateway, shape.

Views hand these functions validated parameters (already in the SDK's wire format) and get a
:class:`~market.gateway.answers.MarketAnswer` back; every failure is a typed error from
``market.gateway.errors``. Caching, merging, the rate budget and the breaker are the gateway's
(``market.gateway.fetch``), so each endpoint only says what to ask and for how long it stays
true.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from market.gateway import budget
from market.gateway.answers import MarketAnswer, Rows
from market.gateway.client import IST, BreezeClient, client_for
from market.gateway.errors import SessionExpired, SessionMissing
from market.gateway.fetch import fetch
from sessions_admin.selectors import LiveSession, breeze_session_get_live
from sessions_admin.services import breeze_session_mark_rejected

__all__ = ["MarketAnswer", "depth_get", "historical_candles_list", "option_chain_get", "quote_get"]

DEPTH_FIELDS = (
    "exchange_code",
    "stock_code",
    "product_type",
    "expiry_date",
    "right",
    "strike_price",
    "ltp",
    "ltt",
    "best_bid_price",
    "best_bid_quantity",
    "best_offer_price",
    "best_offer_quantity",
)
INTERVAL_SECONDS = {"1second": 1, "1minute": 60, "5minute": 300, "30minute": 1800, "1day": 86400}


def live_session() -> LiveSession:
    live = breeze_session_get_live()
    if live is None:
        raise SessionMissing()
    return live


def _fetch(
    operation: str,
    params: dict[str, Any],
    call: Callable[[BreezeClient], Rows],
    *,
    ttl_s: float,
    session: LiveSession | None,
    priority: str = budget.INTERACTIVE,
) -> MarketAnswer:
    live = session or live_session()
    try:
        return fetch(
            session_id=live.id,
            operation=operation,
            params=params,
            client=lambda: client_for(live.credentials()),
            call=call,
            ttl_s=ttl_s,
            priority=priority,
        )
    except SessionExpired as exc:
        breeze_session_mark_rejected(session_id=live.id, error=str(exc.details or exc.message))
        raise


def quote_get(*, params: dict[str, str], session: LiveSession | None = None) -> MarketAnswer:
    return _fetch(
        "quotes",
        params,
        lambda client: client.quotes(**params),
        ttl_s=settings.BREEZE_QUOTE_TTL_S,
        session=session,
    )


def depth_get(*, params: dict[str, str], session: LiveSession | None = None) -> MarketAnswer:
    """Best bid and offer per exchange row: all the depth Breeze's REST API offers."""
    answer = quote_get(params=params, session=session)
    rows = [{**{name: row.get(name) for name in DEPTH_FIELDS}, "levels": 1} for row in answer.rows]
    return MarketAnswer(
        rows=rows, as_of=answer.as_of, cache=answer.cache, expires_at=answer.expires_at
    )


def history_ttl_s(params: dict[str, str], now: datetime | None = None) -> float:
    """Closed candles never change, so a range that ended a full interval ago is kept long."""
    now = (now or datetime.now(tz=IST)).astimezone(IST).replace(tzinfo=None)
    end = datetime.strptime(params["to_date"][:19], "%Y-%m-%dT%H:%M:%S")
    if end + timedelta(seconds=INTERVAL_SECONDS[params["interval"]]) <= now:
        return settings.BREEZE_HISTORY_TTL_S
    return settings.BREEZE_HISTORY_OPEN_TTL_S


def historical_candles_list(
    *, params: dict[str, str], session: LiveSession | None = None
) -> MarketAnswer:
    return _fetch(
        "historicalcharts",
        params,
        lambda client: client.historical(**params),
        ttl_s=history_ttl_s(params),
        session=session,
        priority=budget.BULK,
    )


def option_chain_get(*, params: dict[str, str], session: LiveSession | None = None) -> MarketAnswer:
    return _fetch(
        "optionchain",
        params,
        lambda client: client.option_chain(**params),
        ttl_s=settings.BREEZE_CHAIN_TTL_S,
        session=session,
    )
