"""A history request: what the store holds, plus the pages it lacks, fetched under the budget.

The range is numbered in candle slots (``breeze.calendar.SlotClock``); the slots whose candles
are closed and already stored cost nothing; the rest is fetched newest first, one Breeze call
per page of up to 1000 candles, through the gateway's protections (cache, merging, breaker,
the fleet's budget at the caller's priority, charged to the caller). Closed candles are
written to the store as they arrive; a candle still open (today's current minute, today's day)
is served from the fetch and never stored.

At most ``BREEZE_HISTORY_MAX_CALLS`` pages are fetched for one request. Beyond that, or when a
page fails after newer ones succeeded, the answer covers what it has from the end of the range
backwards and says so: ``complete`` is false and ``next_to_date`` is where to continue.
Nothing is ever cut silently.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from breeze import clock, telemetry
from breeze.calendar import SlotClock, calendar_with
from breeze.gateway import budget
from breeze.gateway.errors import BreezeError, NoData, SessionExpired
from breeze.gateway.fetch import fetch
from breeze.operations import HistoryQuery
from market.history import paging, store
from market.models import CandleSeries
from sessions_admin.selectors import LiveSession
from sessions_admin.services import breeze_session_mark_rejected

CLOSED_PAGE_TTL_S = 60.0  # the store keeps closed candles; the cache only merges a burst


@dataclass
class HistoryAnswer:
    query: HistoryQuery
    series: CandleSeries
    start: datetime  # the candle starts the answer covers (naive IST)
    end: datetime
    complete: bool
    next_to_date: datetime | None
    upstream_calls: int
    stale: bool = False
    as_of: float = field(default_factory=time.time)
    stored_until: datetime | None = None  # the newest closed candle start in the range
    tail: dict[datetime, dict[str, Any]] = field(default_factory=dict)  # open candles

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every candle of the answer, oldest first: the store's, then the open tail's."""
        if self.stored_until is not None and self.stored_until >= self.start:
            yield from store.read(self.series, self.start, min(self.end, self.stored_until))
        for moment, row in self.tail.items():
            if self.start <= moment <= self.end:
                yield row

    def hold(self, fetched: dict[datetime, dict[str, Any]], *, read_store: bool) -> None:
        """Serve a small answer from memory: what the store held (one read, when it held any
        of the range) overlaid with what was just fetched. No count and no cursor per request,
        and a stale page (never stored) still shows."""
        held: dict[datetime, dict[str, Any]] = {}
        if read_store and self.stored_until is not None and self.stored_until >= self.start:
            end = min(self.end, self.stored_until)
            for row in store.read(self.series, self.start, end, chunked=False):
                held[datetime.strptime(row["datetime"], "%Y-%m-%d %H:%M:%S")] = row
        held.update(
            (moment, store.as_stored(self.series, moment, row)) for moment, row in fetched.items()
        )
        self.tail = dict(sorted(held.items()))  # the open candles are among those fetched
        self.stored_until = None

    def is_empty(self) -> bool:
        if any(self.start <= moment <= self.end for moment in self.tail):
            return False
        if self.stored_until is None or self.stored_until < self.start:
            return True
        return store.count(self.series, self.start, min(self.end, self.stored_until)) == 0

    def meta(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "from": clock.isoformat(self.start.replace(tzinfo=clock.IST)),
            "to": clock.isoformat(self.end.replace(tzinfo=clock.IST)),
            "next_to_date": clock.isoformat(self.next_to_date.replace(tzinfo=clock.IST))
            if self.next_to_date
            else None,
            "upstream_calls": self.upstream_calls,
        }


def slot_clock(interval: str) -> SlotClock:
    return SlotClock(calendar_with(settings.BREEZE_EXTRA_HOLIDAYS), interval)


def history_get(
    *,
    query: HistoryQuery,
    session: LiveSession,
    account: budget.Account | None = None,
    priority: str = budget.BULK,
    max_calls: int | None = None,
    now: datetime | None = None,
) -> HistoryAnswer:
    """The candles of ``query``'s range, from the store and from Breeze for what it lacks."""
    slots = slot_clock(query.interval)
    now = now or clock.now().replace(tzinfo=None)
    first = slots.first_at_or_after(query.start)
    last = min(slots.last_at_or_before(query.end), slots.last_at_or_before(now))  # none ahead
    if first > last:
        raise NoData("No trading session falls in that range (weekends and holidays).")
    closed_last = min(last, slots.last_closed(now))
    series = store.series_for(query.contract, query.interval)
    have = store.covered(series, slots, first, closed_last) if closed_last >= first else []
    pages = paging.windows(first, last, have)
    limit = max_calls or settings.BREEZE_HISTORY_MAX_CALLS
    if have:  # the calls the store spared Breeze (metrics)
        without = len(paging.windows(first, last, []))
        telemetry.record_history_saved(min(without, limit) - min(len(pages), limit))

    answer = HistoryAnswer(
        query=query,
        series=series,
        start=slots.start_of(first),
        end=query.end,
        complete=True,
        next_to_date=None,
        upstream_calls=0,
        stored_until=slots.start_of(closed_last) if closed_last >= first else None,
    )
    small = last - first < paging.PAGE  # at most one page of candles: served from memory
    fetched: dict[datetime, dict[str, Any]] = {}
    for page in pages[:limit]:
        try:
            rows, calls, stale = _fetch_page(
                query, slots, page, session, account, priority, closed_last
            )
        except BreezeError:
            if page.last >= last:
                raise  # the newest candles failed: nothing to show but Breeze's failure
            # What is stored stays stored; the answer is what lies after the failed page.
            _stop_before(answer, slots, page.last + 1)
            if small:
                answer.hold(fetched, read_store=bool(have))
            if answer.is_empty():
                raise
            return answer
        answer.upstream_calls += calls
        answer.stale = answer.stale or stale
        if small:
            fetched.update(rows)
        closed_end = (
            slots.start_of(min(page.last, closed_last)) if page.first <= closed_last else None
        )
        closed_rows = {m: r for m, r in rows.items() if closed_end is not None and m <= closed_end}
        answer.tail.update({m: r for m, r in rows.items() if closed_end is None or m > closed_end})
        if not stale:  # a stale answer is the last good one, not proof of completeness
            covers = (slots.start_of(page.first), closed_end) if closed_end is not None else None
            store.save(series, closed_rows, covers=covers)
    if len(pages) > limit:
        _stop_before(answer, slots, pages[limit - 1].first)
    if small:
        answer.hold(fetched, read_store=bool(have))
    if answer.is_empty():
        raise NoData()
    return answer


def _stop_before(answer: HistoryAnswer, slots: SlotClock, slot: int) -> None:
    """The answer covers the range from ``slot`` on; the client continues before it."""
    answer.complete = False
    answer.start = slots.start_of(slot)
    answer.next_to_date = slots.start_of(slot - 1)


def _fetch_page(
    query: HistoryQuery,
    slots: SlotClock,
    page: paging.Window,
    session: LiveSession,
    account: budget.Account | None,
    priority: str,
    closed_last: int,
) -> tuple[dict[datetime, dict[str, Any]], int, bool]:
    """One Breeze call for ``page``: its rows by candle start, the calls it cost (0 when merged
    or cached) and whether it is a stale answer. "No data" is an empty page, not an error."""
    start, end = slots.start_of(page.first), slots.start_of(page.last)
    if query.interval == "1day":
        end = end + timedelta(hours=23, minutes=59, seconds=59)
    page_query = HistoryQuery(query.contract, query.interval, start, end)
    ttl = CLOSED_PAGE_TTL_S if page.last <= closed_last else settings.BREEZE_HISTORY_OPEN_TTL_S
    try:
        result = fetch(
            page_query,
            session_id=session.id,
            credentials=session.credentials,
            ttl_s=ttl,
            priority=priority,
            account=account,
        )
    except NoData:
        return {}, 1, False
    except SessionExpired as exc:
        breeze_session_mark_rejected(session_id=session.id, error=str(exc.details or exc.message))
        raise
    return store.parse_rows(result.rows), result.upstream_calls, result.cache == "stale"
