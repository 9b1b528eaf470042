"""What a market fetch returns: rows as Breeze sent them, plus where and when they came from."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class MarketAnswer:
    rows: Rows
    as_of: float = field(default_factory=time.time)
    # miss: fetched from Breeze for this request; hit: served from the shared cache (or from
    # another request's fetch); stale: Breeze is failing and this is the last good answer.
    cache: str = "miss"
    expires_at: float = 0.0  # when the fresh copy leaves the cache (0: not cached)

    @property
    def age_s(self) -> int:
        return max(0, int(time.time() - self.as_of))

    @property
    def fresh_for_s(self) -> float:
        return max(0.0, self.expires_at - time.time()) if self.cache != "stale" else 0.0

    def served_as(self, cache: str) -> MarketAnswer:
        return replace(self, cache=cache)

    def body(self) -> dict[str, Any]:
        as_of = datetime.fromtimestamp(self.as_of, tz=UTC).isoformat().replace("+00:00", "Z")
        return {"Success": self.rows, "as_of": as_of, "stale": self.cache == "stale"}
