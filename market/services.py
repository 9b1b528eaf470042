"""What each market endpoint means: fetch a typed query through the gateway, shape the answer.

Views hand these functions a validated query, the live session and the account to charge; they
get a :class:`~breeze.gateway.answers.MarketAnswer` back, and every failure is a typed error
from ``breeze.gateway.errors``. Caching, merging, the budget and the breaker are the gateway's,
so each endpoint only says what to ask, for how long the answer stays true, and how urgent it
is.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from breeze.gateway import budget
from breeze.gateway.answers import MarketAnswer, Rows
from breeze.gateway.errors import SessionExpired, SessionMissing
from breeze.gateway.fetch import fetch
from breeze.gateway.flight import depth_key
from breeze.operations import OptionChainQuery, Query, QuoteQuery
from sessions_admin.selectors import LiveSession, breeze_session_get_live
from sessions_admin.services import breeze_session_mark_rejected

__all__ = [
    "MarketAnswer",
    "depth_get",
    "live_session",
    "option_chain_get",
    "quote_get",
]

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


def live_session() -> LiveSession:
    live = breeze_session_get_live()
    if live is None:
        raise SessionMissing()
    return live


def _fetch(
    query: Query,
    *,
    session: LiveSession,
    account: budget.Account | None,
    ttl_s: float,
    priority: str = budget.INTERACTIVE,
) -> MarketAnswer:
    try:
        return fetch(
            query,
            session_id=session.id,
            credentials=session.credentials,
            ttl_s=ttl_s,
            priority=priority,
            account=account,
        )
    except SessionExpired as exc:
        breeze_session_mark_rejected(session_id=session.id, error=str(exc.details or exc.message))
        raise


def quote_get(
    *, query: QuoteQuery, session: LiveSession, account: budget.Account | None = None
) -> MarketAnswer:
    return _fetch(query, session=session, account=account, ttl_s=settings.BREEZE_QUOTE_TTL_S)


def depth_rows(rows: Rows) -> Rows:
    """Best bid and offer per exchange row: all the depth Breeze's REST API offers."""
    return [{**{name: row.get(name) for name in DEPTH_FIELDS}, "levels": 1} for row in rows]


def depth_from(answer: MarketAnswer) -> MarketAnswer:
    """The depth answer cut from a quote answer (same source, same freshness)."""
    return MarketAnswer.from_rows(
        depth_rows(answer.rows),
        as_of=answer.as_of,
        expires_at=answer.expires_at,
        session_id=answer.session_id,
        cache=answer.cache,
        upstream_calls=answer.upstream_calls,
    )


def depth_get(
    *, query: QuoteQuery, session: LiveSession, account: budget.Account | None = None
) -> MarketAnswer:
    """Five levels from the live feed while it carries this instrument's depth; otherwise the
    best bid/offer cut from the quote."""
    streamed = cache.get(depth_key(query))
    if streamed is not None and streamed[0] == session.id:
        return MarketAnswer.from_stored(streamed, served_as="hit")
    return depth_from(quote_get(query=query, session=session, account=account))


def option_chain_get(
    *, query: OptionChainQuery, session: LiveSession, account: budget.Account | None = None
) -> MarketAnswer:
    return _fetch(query, session=session, account=account, ttl_s=settings.BREEZE_CHAIN_TTL_S)
