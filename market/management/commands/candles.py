"""``manage.py candles backfill`` and ``manage.py candles prune``.

``backfill`` fills the candle store for a range, newest pages first, at the budget's
background priority: it only takes Breeze calls the first half of each minute's budget leaves
free, so it never starves live quotes; when the budget is spent it waits and carries on. Pages
already stored cost nothing, so an interrupted backfill resumes where it stopped when run
again. A progress bar goes to a terminal's stderr; the JSON summary to stdout.

``prune`` deletes candles older than their interval's retention (BREEZE_CANDLE_RETENTION_DAYS).
"""

from __future__ import annotations

import json
import sys
import time
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from breeze import clock
from breeze.errors import ProxyError
from breeze.gateway import budget
from breeze.gateway.errors import NoData, RateBudgetExhausted
from breeze.operations import HistoryQuery
from market.history import paging, store
from market.history.service import history_get, slot_clock
from market.serializers import HistoricalRequestSerializer
from sessions_admin.selectors import breeze_session_get_live

BACKFILL_PAGES_PER_STEP = 5


class Command(BaseCommand):
    help = "Fill the candle store for a range (backfill) or delete old candles (prune)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        fill = sub.add_parser("backfill", help="Fetch and store a range's closed candles.")
        fill.add_argument("--symbol", required=True, help="RELIANCE, NIFTY 50, RELIND, ...")
        fill.add_argument("--interval", required=True, help="1second, 1minute, 5minute, ...")
        fill.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
        fill.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
        fill.add_argument("--exchange", default="NSE")
        fill.add_argument("--product", default="cash", help="cash, futures or options")
        fill.add_argument("--expiry", default="", help="F&O expiry, YYYY-MM-DD")
        fill.add_argument("--right", default="", help="call or put (options)")
        fill.add_argument("--strike", default="", help="options strike")
        prune = sub.add_parser("prune", help="Delete candles past their retention.")
        prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "prune":
            deleted = store.prune(dry_run=options["dry_run"])
            self.stdout.write(json.dumps({"deleted": deleted, "dry_run": options["dry_run"]}))
            return
        self.stdout.write(json.dumps(self._backfill(options), indent=2))

    def _query(self, options: dict[str, Any]) -> HistoryQuery:
        body = {
            "symbol": options["symbol"],
            "exchange_code": options["exchange"],
            "product_type": options["product"],
            "interval": options["interval"],
            "from_date": options["start"],
            "to_date": options["end"] or clock.now().date().isoformat(),
            "expiry_date": options["expiry"],
            "right": options["right"],
            "strike_price": options["strike"],
        }
        serializer = HistoricalRequestSerializer(data=body)
        try:
            valid = serializer.is_valid()
        except ProxyError as exc:
            raise CommandError(exc.message) from exc
        if not valid:
            problems = "; ".join(f"{k}: {v[0]}" for k, v in serializer.errors.items())
            raise CommandError(f"Invalid backfill: {problems}")
        return serializer.query

    def _backfill(self, options: dict[str, Any]) -> dict[str, Any]:
        query = self._query(options)
        session = breeze_session_get_live()
        if session is None:
            raise CommandError("No live Breeze session: activate today's session first.")
        started = time.monotonic()
        slots = slot_clock(query.interval)
        first, last = slots.first_at_or_after(query.start), slots.last_at_or_before(query.end)
        series = store.series_for(query.contract, query.interval)
        total_pages = len(paging.windows(first, last, store.covered(series, slots, first, last)))
        progress = _Progress(total_pages, enabled=sys.stderr.isatty())
        calls, waited_s, end, complete = 0, 0.0, query.end, True
        while True:
            step = HistoryQuery(query.contract, query.interval, query.start, end)
            try:
                answer = history_get(
                    query=step,
                    session=session,
                    priority=budget.BACKGROUND,
                    max_calls=BACKFILL_PAGES_PER_STEP,
                )
            except RateBudgetExhausted as exc:  # background work waits for spare budget
                pause = max(1.0, float(exc.retry_after or 1.0))
                waited_s += pause
                time.sleep(pause)
                continue
            except NoData:
                break
            except ProxyError as exc:
                complete = False
                self.stderr.write(f"Stopped: {exc.message} Run the same command to resume.")
                break
            calls += answer.upstream_calls
            progress.advance(answer.upstream_calls)
            if answer.complete or answer.next_to_date is None:
                break
            end = answer.next_to_date
        progress.close()
        stored = (
            store.count(series, slots.start_of(first), slots.start_of(last)) if first <= last else 0
        )
        return {
            "stock_code": query.contract.stock_code,
            "symbol": query.contract.symbol or None,
            "exchange": query.contract.exchange_code,
            "interval": query.interval,
            "from": clock.isoformat(query.start.replace(tzinfo=clock.IST)),
            "to": clock.isoformat(query.end.replace(tzinfo=clock.IST)),
            "upstream_calls": calls,
            "pages_needed_at_start": total_pages,
            "candles_stored": stored,
            "complete": complete,
            "waited_for_budget_s": round(waited_s, 1),
            "duration_s": round(time.monotonic() - started, 1),
        }


class _Progress:
    """A one-line bar on a terminal's stderr; nothing when stderr is not a terminal."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self.started = time.monotonic()

    def advance(self, pages: int) -> None:
        self.done = min(self.total, self.done + pages)
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = timedelta(seconds=int(time.monotonic() - self.started))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} pages {elapsed}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
