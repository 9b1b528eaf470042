"""History without the 1000-candle wall: pages counted in trading minutes, closed candles stored
once for the fleet, truncation never silent, CSV and JSON streamed."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import tracemalloc
from datetime import date, datetime, timedelta
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from rest_framework.test import APIClient

from breeze.calendar import NSE_HOLIDAYS, SlotClock, TradingCalendar
from breeze.gateway.fetch import ERROR_TTL_S
from market.history import paging
from market.models import Candle, CandleCoverage, CandleSeries

pytestmark = pytest.mark.django_db

CAL = TradingCalendar()


def _history(api, **body):
    body.setdefault("stock_code", "RELIND")
    return api.post("/breeze/historical", body, format="json")


def _trading_days_back(count: int, before: date) -> date:
    """The date ``count`` trading days before ``before`` (exclusive)."""
    day = before
    for _ in range(count):
        day = CAL.previous_trading_day(day)
    return day


# --- pages ----------------------------------------------------------------------------------


def test_pages_count_trading_minutes_across_a_weekend():
    slots = SlotClock(CAL, "1minute")
    first = slots.first_at_or_after(datetime(2025, 2, 7, 14, 0))  # a Friday afternoon
    last = slots.last_at_or_before(datetime(2025, 2, 10, 10, 0))  # the Monday morning

    # 14:00-15:29 on Friday (90) and 09:15-10:00 on Monday (46); Saturday and Sunday hold none
    assert last - first + 1 == 136
    assert paging.windows(first, last, []) == [paging.Window(first, last)]


def test_pages_skip_holidays():
    slots = SlotClock(CAL, "1day")
    first = slots.first_at_or_after(datetime(2025, 3, 10))
    last = slots.last_at_or_before(datetime(2025, 3, 21))

    assert date(2025, 3, 14) in NSE_HOLIDAYS  # Holi, a Friday
    assert last - first + 1 == 9  # ten weekdays less the holiday
    assert slots.start_of(first + 4).date() == date(2025, 3, 17)  # Thursday 13th, then Monday


def test_pages_are_the_fewest_possible_and_newest_first():
    windows = paging.windows(0, 2499, [(1000, 1199)])

    assert windows == [
        paging.Window(1500, 2499),
        paging.Window(1200, 1499),
        paging.Window(0, 999),
    ]


# --- whole ranges, the store, the budget -----------------------------------------------------


def test_thirty_days_of_minutes_in_the_fewest_calls_then_from_the_store(api, live_session, sim):
    to_day = CAL.previous_trading_day(date.today())
    from_day = to_day - timedelta(days=30)  # 30 calendar days: about 21 trading days
    slots = SlotClock(CAL, "1minute")
    minutes = slots.last_at_or_before(datetime.combine(to_day, datetime.max.time())) - (
        slots.first_at_or_after(datetime.combine(from_day, datetime.min.time()))
    ) + 1  # fmt: skip
    calls_before = sim.stats()["calls"].get("historicalcharts_v2", 0)

    cold = _history(
        api, interval="1minute", from_date=from_day.isoformat(), to_date=to_day.isoformat()
    )

    assert cold.status_code == HTTPStatus.OK, cold.content
    body = cold.json()
    assert body["complete"] is True
    assert len(body["Success"]) == minutes
    assert body["upstream_calls"] == -(-minutes // 1000)
    assert sim.stats()["calls"]["historicalcharts_v2"] - calls_before == -(-minutes // 1000)
    stamps = [row["datetime"] for row in body["Success"]]
    assert stamps == sorted(set(stamps))  # ordered, no duplicates

    # Another instance (nothing in the shared cache) asks again: the store answers
    cache.clear()
    warm = _history(
        api, interval="1minute", from_date=from_day.isoformat(), to_date=to_day.isoformat()
    )
    assert warm.json()["Success"] == body["Success"]
    assert warm.json()["upstream_calls"] == 0
    assert warm["X-Cache"] == "hit"
    assert sim.stats()["calls"]["historicalcharts_v2"] - calls_before == -(-minutes // 1000)


def test_an_overlapping_small_range_joins_stored_and_fetched_candles_in_order(
    api, live_session, sim
):
    day = CAL.previous_trading_day(date.today()).isoformat()
    first = _history(api, interval="1minute", from_date=f"{day}T09:15:00",
                     to_date=f"{day}T09:19:00")  # fmt: skip
    calls = sim.stats()["total_calls"]

    wider = _history(api, interval="1minute", from_date=f"{day}T09:17:00",
                     to_date=f"{day}T09:24:00")  # fmt: skip
    again = _history(api, interval="1minute", from_date=f"{day}T09:15:00",
                     to_date=f"{day}T09:24:00")  # fmt: skip

    assert first.status_code == wider.status_code == again.status_code == HTTPStatus.OK
    assert sim.stats()["total_calls"] == calls + 1  # only 09:20-09:24 was fetched
    times = [row["datetime"][11:16] for row in again.json()["Success"]]
    assert times == [f"09:{m}" for m in range(15, 25)]
    assert again.json()["Success"][2:] == wider.json()["Success"]
    assert again.json()["Success"][:5] == first.json()["Success"]


def test_more_pages_than_allowed_says_so_and_continues(api, live_session, settings):
    settings.BREEZE_HISTORY_MAX_CALLS = 2
    to_day = CAL.previous_trading_day(date.today())
    from_day = _trading_days_back(14, to_day)  # 15 days x 375 = 5625 minutes: 6 pages

    first = _history(
        api, interval="1minute", from_date=from_day.isoformat(), to_date=to_day.isoformat()
    )
    body = first.json()

    assert first.status_code == HTTPStatus.OK
    assert body["complete"] is False
    assert body["upstream_calls"] == 2
    assert len(body["Success"]) == 2000
    assert first["X-History-Complete"] == "false"
    assert body["next_to_date"] < body["Success"][0]["datetime"].replace(" ", "T")
    # Continuing from next_to_date gets the rest, each page fetched once
    rest, calls = [], 2
    to_date = body["next_to_date"]
    while to_date:
        page = _history(
            api, interval="1minute", from_date=from_day.isoformat(), to_date=to_date
        ).json()
        rest = page["Success"] + rest
        calls += page["upstream_calls"]
        to_date = page["next_to_date"]
    assert len(rest) + 2000 == 15 * 375
    assert calls == 6


def test_a_daily_range_from_long_ago_is_refused_not_cut(api, live_session, sim):
    calls = sim.stats()["total_calls"]

    response = _history(api, interval="1day", from_date="1900-01-01", to_date="2025-01-31")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_request"
    assert "from_date" in response.json()["details"]
    assert sim.stats()["total_calls"] == calls


def test_a_holiday_alone_has_no_candles_and_costs_no_call(api, live_session, sim):
    calls = sim.stats()["total_calls"]

    response = _history(api, interval="1minute", from_date="2025-03-14", to_date="2025-03-14")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "no_data"
    assert sim.stats()["total_calls"] == calls


def test_an_empty_range_is_remembered(api, live_session, sim):
    # A contract listed long after the range: Breeze answers nothing, once
    body = {
        "stock_code": "NIFTY", "exchange_code": "NFO", "product_type": "futures",
        "expiry_date": "2025-01-30", "interval": "1day", "from_date": "2024-01-01",
        "to_date": "2024-01-31",
    }  # fmt: skip
    first = api.post("/breeze/historical", body, format="json")
    calls = sim.stats()["total_calls"]
    second = api.post("/breeze/historical", body, format="json")

    assert first.status_code == second.status_code == HTTPStatus.NOT_FOUND
    assert sim.stats()["total_calls"] == calls
    assert CandleCoverage.objects.count() == 1


def test_partial_failure_keeps_what_was_stored_and_says_where_to_continue(api, live_session, sim):
    to_day = CAL.previous_trading_day(date.today())
    from_day = _trading_days_back(5, to_day)  # 6 days: 2250 minutes, 3 pages
    recent = _history(
        api, interval="1minute", from_date=CAL.previous_trading_day(to_day).isoformat(),
        to_date=to_day.isoformat(),
    )  # fmt: skip
    assert recent.status_code == HTTPStatus.OK  # the newest 750 minutes are stored now
    sim.set_fault("http_error", endpoints=["historicalcharts_v2"], count=1, status=503)

    broken = _history(
        api, interval="1minute", from_date=from_day.isoformat(), to_date=to_day.isoformat()
    )
    body = broken.json()

    assert broken.status_code == HTTPStatus.OK
    assert body["complete"] is False
    assert len(body["Success"]) == 750  # what the store holds after the failed page
    assert body["next_to_date"]
    stored = Candle.objects.count()
    assert stored >= 750

    sim.clear_faults()
    time.sleep(ERROR_TTL_S)  # a failure is remembered this long so a retry storm costs nothing
    resumed = _history(
        api, interval="1minute", from_date=from_day.isoformat(), to_date=to_day.isoformat()
    )
    assert resumed.json()["complete"] is True
    assert len(resumed.json()["Success"]) == 6 * 375


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_ranges_fetch_each_page_once(live_session, sim):
    sim.configure(latency_ms=150)
    to_day = CAL.previous_trading_day(date.today())
    from_day = _trading_days_back(4, to_day)  # 1875 minutes: 2 pages
    body = {"stock_code": "TCS", "interval": "1minute", "from_date": from_day.isoformat(),
            "to_date": to_day.isoformat()}  # fmt: skip
    barrier = threading.Barrier(6)
    answers = []

    def ask() -> None:
        try:
            barrier.wait(5)
            answers.append(APIClient().post("/breeze/historical", body, format="json"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 6
    assert sim.stats()["calls"]["historicalcharts_v2"] == 2


def test_history_is_charged_to_its_key(api, live_session, make_key, settings, sim):
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    _, raw = make_key(quota=100)
    to_day = CAL.previous_trading_day(date.today())

    response = api.post(
        "/breeze/historical",
        {"stock_code": "INFTEC", "interval": "1minute", "from_date": to_day.isoformat(),
         "to_date": to_day.isoformat()},
        format="json", HTTP_X_PROXY_KEY=raw,
    )  # fmt: skip

    assert response.status_code == HTTPStatus.OK
    assert response["X-Upstream-Calls"] == "1"
    assert response["RateLimit-Remaining"] == "99"


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["accept", "format"])
def test_csv_is_streamed(api, live_session, how):
    to_day = CAL.previous_trading_day(date.today())
    body = {"stock_code": "RELIND", "interval": "5minute", "from_date": to_day.isoformat(),
            "to_date": to_day.isoformat()}  # fmt: skip
    if how == "accept":
        response = api.post("/breeze/historical", body, format="json", HTTP_ACCEPT="text/csv")
    else:
        response = api.post("/breeze/historical?format=csv", body, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert len(rows) == 75
    assert rows[0]["datetime"].endswith("09:15:00")
    assert float(rows[0]["low"]) <= float(rows[0]["high"])


def test_csv_errors_stay_json(api, live_session):
    response = api.post(
        "/breeze/historical", {"stock_code": "RELIND"}, format="json", HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_request"


def test_a_hundred_thousand_candles_stream_in_flat_memory(api, live_session):
    # Given 100,000 stored minute candles (267 trading days) and their coverage
    slots = SlotClock(CAL, "1minute")
    last = slots.last_closed(datetime.now() - timedelta(days=3))
    first = last - 99_999
    series = CandleSeries.objects.create(
        contract="RELIND|NSE|cash|||", interval="1minute", stock_code="RELIND", exchange="NSE",
        fields={"exchange_code": "NSE", "stock_code": "RELIND"},
    )  # fmt: skip
    from breeze.clock import IST

    Candle.objects.bulk_create(
        [
            Candle(
                series=series,
                at=slots.start_of(n).replace(tzinfo=IST),
                open=1.0,
                high=2.0,
                low=0.5,
                close=1.5,
                volume=n,
            )
            for n in range(first, last + 1)
        ],
        batch_size=5000,
    )
    CandleCoverage.objects.create(
        series=series,
        start=slots.start_of(first).replace(tzinfo=IST),
        end=slots.start_of(last).replace(tzinfo=IST),
    )
    body = {
        "stock_code": "RELIND",
        "interval": "1minute",
        "from_date": slots.start_of(first).isoformat(),
        "to_date": slots.start_of(last).isoformat(),
    }

    # When it is streamed as CSV, counting the memory Python allocates meanwhile
    tracemalloc.start()
    response = APIClient().post("/breeze/historical?format=csv", body, format="json")
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # Then every candle arrived, no call was made, and the peak stayed small
    assert lines == 100_001
    assert response["X-Upstream-Calls"] == "0"
    print(f"\n[stream] 100,000 candles as CSV: peak traced memory {peak / 2**20:.1f} MiB")
    assert peak < 20 * 2**20


# --- operations -------------------------------------------------------------------------------


def test_backfill_fills_the_store_and_resumes(master, live_session, sim, capsys):
    to_day = CAL.previous_trading_day(date.today())
    from_day = _trading_days_back(9, to_day)  # 10 days: 3750 minutes, 4 pages
    sim.set_fault("http_error", endpoints=["historicalcharts_v2"], count=3, status=503)
    args = ["backfill", "--symbol", "RELIANCE", "--interval", "1minute",
            "--from", from_day.isoformat(), "--to", to_day.isoformat()]  # fmt: skip

    call_command("candles", *args)
    interrupted = json.loads(capsys.readouterr().out)
    sim.clear_faults()
    time.sleep(ERROR_TTL_S)
    call_command("candles", *args)
    resumed = json.loads(capsys.readouterr().out)

    assert interrupted["complete"] is False
    assert resumed["complete"] is True
    assert resumed["candles_stored"] == 3750
    assert resumed["stock_code"] == "RELIND"
    # Only the pages that had failed were fetched again
    assert resumed["upstream_calls"] + interrupted["upstream_calls"] == 4


def test_prune_deletes_candles_past_retention(settings, capsys):
    settings.BREEZE_CANDLE_RETENTION_DAYS = {"1minute": 30}
    from breeze.clock import IST

    series = CandleSeries.objects.create(
        contract="X", interval="1minute", stock_code="X", exchange="NSE"
    )
    old = datetime.now(tz=IST) - timedelta(days=40)
    Candle.objects.create(series=series, at=old, open=1, high=1, low=1, close=1, volume=1)
    Candle.objects.create(
        series=series, at=datetime.now(tz=IST), open=1, high=1, low=1, close=1, volume=1
    )

    call_command("candles", "prune")

    assert json.loads(capsys.readouterr().out)["deleted"] == {"1minute": 1}
    assert Candle.objects.count() == 1
