"""Which Breeze calls a range of candles needs: the slots not yet stored, in pages of 1000.

Breeze answers a history call with at most 1000 candles, the newest ones ending at ``to_date``.
With candles numbered over trading days (:class:`breeze.calendar.SlotClock`), a range is a run
of slot numbers; the slots the store already holds are taken out, and what is left is cut from
the newest end into pages of at most :data:`PAGE` slots: each page is one call, and the number
of calls is the least possible (⌈missing candles / 1000⌉ per gap).
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE = 1000


@dataclass(frozen=True)
class Window:
    first: int  # slot numbers, inclusive
    last: int


def gaps(first: int, last: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The runs of [first, last] outside every ``covered`` run (merged, in order)."""
    missing: list[tuple[int, int]] = []
    cursor = first
    for start, end in sorted(covered):
        if end < cursor:
            continue
        if start > last:
            break
        if start > cursor:
            missing.append((cursor, min(start - 1, last)))
        cursor = max(cursor, end + 1)
        if cursor > last:
            break
    if cursor <= last:
        missing.append((cursor, last))
    return missing


def windows(first: int, last: int, covered: list[tuple[int, int]]) -> list[Window]:
    """The pages to fetch for [first, last], newest first."""
    pages: list[Window] = []
    for start, end in reversed(gaps(first, last, covered)):
        while end >= start:
            pages.append(Window(max(start, end - PAGE + 1), end))
            end -= PAGE
    return pages


def merge(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or adjacent runs joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
