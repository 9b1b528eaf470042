"""What a market fetch returns: Breeze's rows, already encoded, and where and when they came from.

Rows are kept as the JSON bytes they will be sent as: an answer is encoded once, when Breeze's
reply arrives, and every later request served from the cache splices those bytes into its
response instead of decoding and encoding them again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from breeze.gateway import errors

Rows = list[dict[str, Any]]
# session id, rows JSON, as_of, expires_at[, source]: "stream" when the live feed wrote it.
Stored = tuple[Any, ...]


def encode_rows(rows: Rows) -> bytes:
    """Compact UTF-8 JSON, as DRF renders it; a row Breeze filled with NaN is a bad response."""
    try:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise errors.UpstreamBadResponse(details="the answer is not plain JSON") from exc


@dataclass(frozen=True)
class MarketAnswer:
    rows_json: bytes
    as_of: float = field(default_factory=time.time)
    expires_at: float = 0.0  # when the fresh copy leaves the cache (0: not cached)
    session_id: int = 0
    # miss: fetched from Breeze for this request; hit: served from the shared cache (or from
    # another request's fetch); stale: Breeze is failing and this is the last good answer;
    # stream: the live feed's last tick, written as this answer.
    cache: str = "miss"
    upstream_calls: int = 0  # Breeze calls this request caused (what its client is charged)

    @classmethod
    def from_rows(cls, rows: Rows, **kwargs: Any) -> MarketAnswer:
        return cls(rows_json=encode_rows(rows), **kwargs)

    @classmethod
    def from_stored(cls, stored: Stored, *, served_as: str) -> MarketAnswer:
        session_id, rows_json, as_of, expires_at = stored[:4]
        if len(stored) > 4 and served_as == "hit":
            served_as = stored[4]
        return cls(rows_json, as_of, expires_at, session_id, served_as)

    def stored(self) -> Stored:
        return (self.session_id, self.rows_json, self.as_of, self.expires_at)

    @cached_property
    def rows(self) -> Rows:
        return json.loads(self.rows_json)

    @property
    def age_s(self) -> int:
        return max(0, int(time.time() - self.as_of))

    @property
    def fresh_for_s(self) -> float:
        return max(0.0, self.expires_at - time.time()) if self.cache != "stale" else 0.0

    def served_as(self, cache: str) -> MarketAnswer:
        return replace(self, cache=cache, upstream_calls=0)
