"""The roll-up's arithmetic: percentiles from the fixed-size histogram, windows of minutes."""

from __future__ import annotations

import pytest

from breeze import telemetry
from breeze.telemetry import BOUNDS_MS, BUCKETS
from monitoring.rollup import Window, percentile_ms, window_of


def _histogram(*samples_ms: float) -> list[int]:
    buckets = [0] * BUCKETS
    for ms in samples_ms:
        buckets[telemetry.bucket_of(ms)] += 1
    return buckets


def test_an_empty_histogram_has_no_percentile():
    assert percentile_ms([0] * BUCKETS, 0.5) is None


def test_percentiles_land_in_the_right_bucket():
    buckets = _histogram(*([4.0] * 90), *([180.0] * 9), 2500.0)

    assert 3 <= percentile_ms(buckets, 0.50) <= 5
    assert 150 <= percentile_ms(buckets, 0.95) <= 200
    assert 150 <= percentile_ms(buckets, 0.99) <= 200
    assert 2000 <= percentile_ms(buckets, 1.0) <= 3000


def test_beyond_the_last_bound_reports_the_last_bound():
    assert percentile_ms(_histogram(120_000.0), 0.5) == BOUNDS_MS[-1]


@pytest.mark.parametrize("ms", [0.0, 0.5, 1.0, 7.5, 29_999.0, 30_000.0, 10**9])
def test_every_duration_has_a_bucket(ms):
    assert 0 <= telemetry.bucket_of(ms) < BUCKETS


def test_a_window_merges_minutes_and_kinds():
    minutes = {
        100: {"r|quotes|n": 3, "r|quotes|4": 1, "r|quotes|b3": 3, "c|hit": 2, "u|quote|n": 1},
        101: {"r|quotes|n": 2, "r|quotes|5": 2, "r|quotes|b3": 2, "q|n": 4, "q|r": 1},
        102: {"r|health|n": 9},
    }

    window = window_of(minutes, 100, 101)

    assert isinstance(window, Window)
    assert window.routes["quotes"].count == 5
    assert window.routes["quotes"].err4 == 1
    assert window.routes["quotes"].err5 == 2
    assert "health" not in window.routes
    assert window.cache["hit"] == 2
    assert window.upstream().count == 1
    assert window.queue == {"n": 4, "r": 1}


def test_the_roll_up_of_one_process_is_fixed_in_size():
    """Thousands of requests on a few routes: the pending roll-up holds a bounded number of
    fields (routes x (count, errors, sum, buckets)), not one per request."""
    telemetry.reset()
    for index in range(5000):
        telemetry.record_request(
            ("quotes", "depth", "health")[index % 3], "POST", 200, index / 1e5, "hit"
        )

    fields = sum(len(minute) for minute in telemetry._pending.values())
    minutes = len(telemetry._pending)
    assert fields <= minutes * (3 * (BUCKETS + 5) + 4)
