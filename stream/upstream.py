"""The fleet's one connection to Breeze's live feed, run by whichever instance leads.

Every second (and at once when an instance reports a change) the leader compares what the
fleet's clients listen to (the union of the instances' reports, capped at
``BREEZE_STREAM_MAX_TOKENS``, most-listened first) with what the connection has joined, joins
the difference and leaves what nobody has listened to for ``BREEZE_STREAM_LEAVE_GRACE_S``. With
no listener at all for ``BREEZE_STREAM_IDLE_GRACE_S`` it closes the connection.

It never goes silent:

* a lost connection is reopened with exponential backoff and jitter, and everything is joined
  again;
* during market hours, a connection with joined feeds and no tick for ``BREEZE_STREAM_STALE_S``
  is declared stale and reopened;
* a session activated by staff (a new live session id) reopens the connection with the new
  credentials, and clients are told ``session_renewed``; their subscriptions stay as they are;
* a session Breeze refuses, or one that expired, tells every client ``session_expired`` once
  and waits, without retrying, for the next activation.

Ticks are numbered per feed (``seq``, carried on from the last published tick when leadership
changes hands), stamped with the leader's fence, published in batches (one Redis round trip per
batch) and written as the feed's REST quote (and 5-level depth) answer, so ``/breeze/quotes`` for
a streamed instrument costs Breeze nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.conf import settings

from breeze import clock, store, telemetry
from breeze.calendar import calendar_with
from breeze.gateway.flight import answer_key, depth_key
from breeze.gateway.livestream import FeedError, FeedRefused, LiveFeed
from breeze.gateway.ticks import is_depth, quotes_feed
from breeze.operations import Contract, QuoteQuery
from sessions_admin.selectors import LiveSession
from sessions_admin.services import breeze_session_mark_rejected
from stream import lookups, shapes
from stream.bus import Bus, union
from stream.shapes import Described

logger = logging.getLogger("stream")

TICK_PERIOD_S = 1.0
PREVIOUS_CLOSE_WAIT_S = 5.0
CLOSE_RETRY_S = 60.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0
MARKET_OPEN, MARKET_CLOSE = (9, 15), (15, 30)

LIVE, CONNECTING, RECONNECTING, STALE, EXPIRED, IDLE = (
    "live", "connecting", "reconnecting", "stale", "session_expired", "idle",
)  # fmt: skip


def market_open(now: datetime | None = None) -> bool:
    """IST trading hours on a trading day (the calendar knows NSE's holidays)."""
    now = (now or clock.now()).astimezone(clock.IST)
    if not calendar_with(settings.BREEZE_EXTRA_HOLIDAYS).is_trading_day(now.date()):
        return False
    return MARKET_OPEN <= (now.hour, now.minute) < MARKET_CLOSE


class Upstream:
    """The leader's feed. ``run()`` until cancelled (when leadership is lost)."""

    def __init__(
        self,
        bus: Bus,
        fence: int,
        *,
        feed_factory: Callable[..., LiveFeed] = LiveFeed,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.fence = fence
        self._feed_factory = feed_factory
        self._now = now
        self.feed: LiveFeed | None = None
        self.state = IDLE
        self.state_since = now()
        self.session_id: int | None = None
        self.joined: set[str] = set()
        self._unheard_since: dict[str, float] = {}  # joined feeds nobody listens to, since when
        self._idle_since: float | None = None
        self._backoff = BACKOFF_FIRST_S
        self._retry_at = 0.0
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._seq: dict[str, int] = {}
        self._pending: list[tuple[str, bytes]] = []
        self._answers: list[tuple[str, Any, float]] = []
        self._flush_scheduled = False
        self._described: dict[str, Described] = {}
        # An index's previous close, per IST trading day (a leader may lead for days).
        self._previous_close: dict[str, tuple[date, float]] = {}
        self._close_asked: dict[str, float] = {}
        self._last_tick_at = 0.0
        self.ticks_in = 0
        self.connects = 0
        self.refused_session: int | None = None  # a session Breeze refused: wait for another

    def poke(self) -> None:
        """Re-examine now (an instance's listeners changed, or a session was activated)."""
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("stream: the feed's step failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TICK_PERIOD_S)
        finally:
            await self._close()

    # --- one look at the world --------------------------------------------------------------

    async def _step(self) -> None:
        now = self._now()
        wanted = await self._wanted()
        session = await lookups.run(lookups.live_session)
        if session is None or session.id == self.refused_session:
            if session is None:
                self.refused_session = None
            await self._expired("No live Breeze session: staff must activate today's session.")
            return
        if self.state == EXPIRED:
            await self._set_state(IDLE if not wanted else CONNECTING)
        if not wanted:
            self._idle_since = self._idle_since or now
            idle_s = now - self._idle_since
            if self.feed is not None and idle_s >= settings.BREEZE_STREAM_IDLE_GRACE_S:
                await self._close()
                await self._set_state(IDLE)
            return
        self._idle_since = None
        renewed = self.session_id is not None and session.id != self.session_id
        if renewed and self.feed is not None:
            logger.info("stream: a new session; reconnecting with it", extra={
                "session_id": session.id})  # fmt: skip
            await self._close()
            self._retry_at = 0.0
        if self.feed is None or self._lost.is_set():
            if now < self._retry_at:
                return
            await self._connect(session, renewed=renewed)
            if self.feed is None:
                return
        await self._sync(wanted, now)
        await self._watch(now)

    async def _wanted(self) -> list[str]:
        listeners = union(await self.bus.reports(), "f:")
        ranked = sorted(listeners, key=lambda feed: (-listeners[feed], feed))
        return ranked[: settings.BREEZE_STREAM_MAX_TOKENS]

    async def _connect(self, session: LiveSession, *, renewed: bool) -> None:
        await self._close()
        self._lost.clear()
        await self._set_state(CONNECTING if self.state in (IDLE, EXPIRED) else self.state)
        feed = self._feed_factory(
            settings.BREEZE_LIVE_STREAM_URL, on_tick=self._on_tick, on_lost=self._on_lost
        )
        credentials = session.credentials()
        try:
            await feed.connect(credentials.user_id, credentials.session_key)
        except FeedRefused as exc:
            logger.warning("stream: Breeze refused the session on the live feed", extra={
                "session_id": session.id, "reason": str(exc)})  # fmt: skip
            self.refused_session = session.id
            await lookups.run(
                breeze_session_mark_rejected, session_id=session.id, error=f"live feed: {exc}"
            )
            await self._expired("Breeze refused the session: staff must activate a new one.")
            return
        except FeedError as exc:
            delay = min(BACKOFF_MAX_S, self._backoff) * (0.5 + random.random())
            self._backoff = min(BACKOFF_MAX_S, self._backoff * 2)
            self._retry_at = self._now() + delay
            logger.warning("stream: cannot reach the live feed; retrying", extra={
                "reason": str(exc), "retry_in_s": round(delay, 2)})  # fmt: skip
            await self._set_state(RECONNECTING)
            return
        self.feed = feed
        self.connects += 1
        self.session_id = session.id
        self.joined = set()
        self._backoff = BACKOFF_FIRST_S
        self._last_tick_at = self._now()
        logger.info("stream: live feed connected", extra={"session_id": session.id})
        await self._set_state(LIVE, renewed=renewed)

    async def _sync(self, wanted: list[str], now: float) -> None:
        assert self.feed is not None
        desired = set(wanted)
        join = [feed for feed in wanted if feed not in self.joined]
        for feed in desired:
            self._unheard_since.pop(feed, None)
        leave = []
        for feed in self.joined - desired:
            since = self._unheard_since.setdefault(feed, now)
            if now - since >= settings.BREEZE_STREAM_LEAVE_GRACE_S:
                leave.append(feed)
        undescribed = [
            f for f in self.joined if f not in self._described or self._needs_close(f, now)
        ]
        if join or undescribed:
            await self._describe(join + undescribed)
        if join:
            await self.feed.join(join)
            self.joined.update(join)
            logger.info("stream: joined feeds", extra={
                "feeds": len(join), "joined": len(self.joined)})  # fmt: skip
        if leave:
            await self.feed.leave(leave)
            self.joined.difference_update(leave)
            for feed in leave:
                self._unheard_since.pop(feed, None)
        telemetry.STREAM_SUBSCRIPTIONS.set(len(self.joined))
        await self._publish_status()

    async def _describe(self, feeds: list[str]) -> None:
        """Learn what the feeds are (written by the instance that resolved them) and, for an
        index, its previous close, before its first tick is published."""
        missing = [f for f in feeds if f not in self._described]
        found = await self.bus.feed_descriptions(missing)
        for feed, data in found.items():
            self._described[feed] = Described.from_dict(data)
        now = self._now()
        indices = [f for f in feeds if self._needs_close(f, now)]
        if indices:
            try:
                await asyncio.wait_for(self._fetch_previous_closes(indices), PREVIOUS_CLOSE_WAIT_S)
            except TimeoutError:
                logger.warning("stream: no previous close for an index yet", extra={
                    "feeds": len(indices)})  # fmt: skip

    def _needs_close(self, feed: str, now: float) -> bool:
        """An index still without today's previous close, not asked for in the last minute."""
        described = self._described.get(feed)
        if described is None or not described.is_index or is_depth(feed):
            return False
        if self._previous_close_of(feed) is not None:
            return False
        return now - self._close_asked.get(feed, 0.0) >= CLOSE_RETRY_S

    def _previous_close_of(self, feed: str) -> float | None:
        known = self._previous_close.get(feed)
        return known[1] if known is not None and known[0] == clock.now().date() else None

    async def _fetch_previous_closes(self, feeds: list[str]) -> None:
        """An index tick's ``close`` is the previous second's value: its true previous close
        comes from one REST quote (through the budget, cached like any quote)."""
        session = await lookups.run(lookups.live_session)
        if session is None:
            return
        for feed in feeds:
            self._close_asked[feed] = self._now()
            described = self._described[feed]
            contract = Contract(described.stock_code, described.exchange_code, "cash")
            row = await lookups.run(lookups.rest_quote, contract, session, None)
            close = shapes._number((row or {}).get("previous_close"))
            if close:
                self._previous_close[feed] = (clock.now().date(), close)

    async def _watch(self, now: float) -> None:
        if self.state != LIVE or not self.joined:
            return
        silent_s = now - self._last_tick_at
        if silent_s >= settings.BREEZE_STREAM_STALE_S and market_open():
            logger.warning("stream: no tick during market hours; reconnecting", extra={
                "silent_s": round(silent_s, 1)})  # fmt: skip
            await self._set_state(STALE)
            await self._close()
            self._retry_at = 0.0

    async def _expired(self, message: str) -> None:
        await self._close()
        if self.state != EXPIRED:
            await self._set_state(EXPIRED, message=message)

    async def _close(self) -> None:
        feed, self.feed = self.feed, None
        self.joined = set()
        telemetry.STREAM_FEED_UP.set(0)
        telemetry.STREAM_SUBSCRIPTIONS.set(0)
        if feed is not None:
            await feed.close()

    # --- ticks ------------------------------------------------------------------------------

    def _on_tick(self, tick: dict[str, Any], received_at: float) -> None:
        feed = tick["feed"]
        if feed not in self.joined:
            return  # a tick for a feed just left
        self.ticks_in += 1
        self._last_tick_at = received_at
        seq = self._seq.get(feed, 0) + 1
        self._seq[feed] = seq
        depth = is_depth(feed)
        message: dict[str, Any] = {
            "f": feed, "s": seq, "x": self.fence, "r": received_at, "t": tick,
        }  # fmt: skip
        if depth:
            message["d"] = True
        described = self._described.get(feed)
        if described is not None and described.is_index:
            message["index"] = True
            message["pc"] = self._previous_close_of(feed)
        self._pending.append((feed, json.dumps(message, separators=(",", ":")).encode()))
        if described is not None and self.session_id is not None:
            self._answer(message, described, received_at)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_soon)

    def _answer(self, message: dict[str, Any], described: Described, received_at: float) -> None:
        """The tick as the REST answer of its instrument, for ``BREEZE_QUOTE_TTL_S``."""
        ttl = settings.BREEZE_QUOTE_TTL_S
        contract = Contract(
            described.stock_code,
            described.exchange_code,
            described.product_type,
            datetime.fromisoformat(described.expiry_date).date() if described.expiry_date else None,
            described.right or ("others" if described.product_type == "futures" else ""),
            described.strike_price or ("0" if described.product_type == "futures" else ""),
        )
        query = QuoteQuery(contract)
        if message.get("d"):
            row = shapes.depth_row(message, described, None)
            key = depth_key(query)
        else:
            row = shapes.quote_row(message, described)
            key = answer_key(query)
        rows_json = json.dumps([row], separators=(",", ":")).encode()
        stored = (self.session_id, rows_json, received_at, received_at + ttl, "stream")
        self._answers.append((key, stored, ttl))

    def _flush_soon(self) -> None:
        asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        answers, self._answers = self._answers, []
        if pending:
            try:
                await self.bus.publish_ticks(pending)
            except Exception:
                logger.exception("stream: could not publish ticks")
        if answers:
            try:
                await lookups.run(store.exchange, sets=answers)
            except Exception:
                logger.exception("stream: could not write quotes from the stream")

    def _on_lost(self, reason: str) -> None:
        logger.warning("stream: the live feed dropped", extra={"reason": reason})
        self._lost.set()
        self.feed = None
        self.joined = set()
        self._retry_at = self._now() + BACKOFF_FIRST_S * (0.5 + random.random())
        asyncio.get_running_loop().create_task(self._set_state(RECONNECTING, message=reason))
        self._wake.set()

    async def resume_sequences(self) -> None:
        """Carry each feed's ``seq`` on from the last tick a previous leader published."""
        found = await self.bus.last_ticks(f for f in union(await self.bus.reports(), "f:"))
        for feed, raw in found.items():
            try:
                self._seq[feed] = int(json.loads(raw)["s"])
            except (ValueError, KeyError, TypeError):
                continue

    # --- status -----------------------------------------------------------------------------

    async def _set_state(self, state: str, *, renewed: bool = False, message: str = "") -> None:
        if state == self.state and not renewed:
            return
        self.state, self.state_since = state, self._now()
        telemetry.STREAM_FEED_UP.set(1 if state == LIVE else 0)
        event = "session_renewed" if renewed else state
        await self._publish_status()
        news = {"status": event, "since": self.state_since, "message": message}
        try:
            await self.bus.publish_control(news)
        except Exception:
            logger.exception("stream: could not publish a status change")
        if renewed:  # the feed is live again, on the new session
            await self.bus.publish_control({"status": LIVE, "since": self.state_since})

    async def _publish_status(self) -> None:
        try:
            await self.bus.set_status(self.status())
        except Exception:
            logger.exception("stream: could not record the feed's status")

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "since": self.state_since,
            "fence": self.fence,
            "feeds": len(self.joined),
            "session_id": self.session_id,
            "connects": self.connects,
            "ticks_in": self.ticks_in,
            "last_tick_at": self._last_tick_at or None,
        }


def quotes_feed_of(feed: str) -> str:
    return quotes_feed(feed)
