"""Arithmetic on the per-minute roll-up that ``breeze.telemetry`` keeps for the fleet: sums
over windows, rates, error ratios and percentiles from the fixed-size latency histograms.

A minute's roll-up is a flat mapping of field names to integers (see ``breeze.telemetry``):
``r|<route>|n`` requests, ``r|<route>|4`` and ``|5`` their 4xx and 5xx, ``|s`` the latency
sum in microseconds, ``|b<i>`` the histogram buckets; ``u|<operation>|...`` the same for
upstream calls (``|e`` errors); ``c|hit``, ``c|miss``, ``c|stale``, ``c|merged`` the cache;
``q|n``, ``q|s``, ``q|r`` the budget queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from breeze.telemetry import BOUNDS_MS, BUCKETS, FIELD_SEP


@dataclass
class Series:
    """One route's or operation's figures over a window."""

    count: int = 0
    err4: int = 0
    err5: int = 0
    errors: int = 0
    sum_us: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, part: str, value: int) -> None:
        if part == "n":
            self.count += value
        elif part == "4":
            self.err4 += value
        elif part == "5":
            self.err5 += value
        elif part == "e":
            self.errors += value
        elif part == "s":
            self.sum_us += value
        elif part.startswith("b"):
            index = int(part[1:])
            if 0 <= index < BUCKETS:
                self.buckets[index] += value

    def merge(self, other: Series) -> None:
        self.count += other.count
        self.err4 += other.err4
        self.err5 += other.err5
        self.errors += other.errors
        self.sum_us += other.sum_us
        for index, value in enumerate(other.buckets):
            self.buckets[index] += value

    def percentile_ms(self, q: float) -> float | None:
        return percentile_ms(self.buckets, q)

    @property
    def mean_ms(self) -> float | None:
        return round(self.sum_us / self.count / 1000, 2) if self.count else None


def percentile_ms(buckets: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a roll-up histogram, interpolated linearly inside its
    bucket as Prometheus's ``histogram_quantile`` does; None when it is empty. The last
    bucket has no upper bound: its quantiles are reported as its lower bound."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index >= len(BOUNDS_MS):
                return float(BOUNDS_MS[-1])
            lower = BOUNDS_MS[index - 1] if index else 0.0
            upper = BOUNDS_MS[index]
            return round(lower + (upper - lower) * max(0.0, rank - seen) / count, 2)
        seen += count
    return float(BOUNDS_MS[-1])


@dataclass
class Window:
    """Everything the roll-up holds for a set of minutes, merged."""

    routes: dict[str, Series] = field(default_factory=lambda: defaultdict(Series))
    operations: dict[str, Series] = field(default_factory=lambda: defaultdict(Series))
    cache: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queue: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add_minute(self, fields: Mapping[str, int]) -> None:
        for name, value in fields.items():
            kind, _, rest = name.partition(FIELD_SEP)
            if kind in ("r", "u"):
                subject, _, part = rest.rpartition(FIELD_SEP)
                if subject:
                    (self.routes if kind == "r" else self.operations)[subject].add(part, value)
            elif kind == "c":
                self.cache[rest] += value
            elif kind == "q":
                self.queue[rest] += value

    def requests(self) -> Series:
        return _total(self.routes.values())

    def upstream(self) -> Series:
        return _total(self.operations.values())


def _total(parts: Iterable[Series]) -> Series:
    total = Series()
    for part in parts:
        total.merge(part)
    return total


def window_of(minutes: Mapping[int, Mapping[str, int]], first: int, last: int) -> Window:
    window = Window()
    for minute in range(first, last + 1):
        fields = minutes.get(minute)
        if fields:
            window.add_minute(fields)
    return window
