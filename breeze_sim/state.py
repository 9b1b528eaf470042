"""Mutable simulator state: sessions, rate limits, faults and statistics.

All of it sits behind one lock because handler threads run concurrently. Rate windows use the
monotonic clock (robust against a frozen or injected wall clock); the daily quota and session
expiry use the simulator's IST clock, so they roll over at midnight IST like Breeze.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ENDPOINTS = ("customerdetails", "quotes", "historicalcharts", "historicalcharts_v2", "optionchain")
FAULT_MODES = (
    "latency",
    "http_error",
    "hang",
    "non_json",
    "drop",
    "rate_limit",
    "expired",
    "breeze_error",
)
USER_ID = "SIM0001"
USER_NAME = "SIM TRADER"


@dataclass
class SessionRecord:
    """One daily login: the api_session a person gets, and the session key derived from it."""

    api_session: str
    issued_on: date
    expired: bool = False
    exchanges: int = 0
    session_key: str | None = None


@dataclass
class Fault:
    """An injected failure, optionally limited to some endpoints and to the next N calls."""

    mode: str
    endpoints: frozenset[str] | None = None
    remaining: int | None = None
    latency_ms: int = 0
    status: int = 503

    def matches(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "endpoints": sorted(self.endpoints) if self.endpoints is not None else None,
            "count": self.remaining,
            "latency_ms": self.latency_ms,
            "status": self.status,
        }


@dataclass
class _Counters:
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINTS, 0))
    recent: deque[float] = field(default_factory=deque)  # API calls of the last 60 s
    max_in_60s: int = 0
    rate_limited: int = 0
    connections: int = 0


class SimState:
    """Thread-safe state shared by every handler thread of one simulator."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        rate_per_min: int,
        rate_per_day: int,
        latency_ms: int,
        single_use_sessions: bool,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.single_use_sessions = single_use_sessions
        self._lock = threading.Lock()
        self._rate_per_min = rate_per_min
        self._rate_per_day = rate_per_day
        self._latency_ms = latency_ms
        self._sessions: dict[str, SessionRecord] = {}
        self._keys: dict[str, str] = {}  # session_key -> api_session
        self._faults: list[Fault] = []
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._daily: dict[tuple[str, date], int] = defaultdict(int)
        self._counters = _Counters()

    # ------------------------------------------------------------------ config

    @property
    def latency_ms(self) -> int:
        with self._lock:
            return self._latency_ms

    def configure(
        self,
        *,
        latency_ms: int | None = None,
        rate_per_min: int | None = None,
        rate_per_day: int | None = None,
    ) -> dict[str, int]:
        with self._lock:
            if latency_ms is not None:
                self._latency_ms = max(0, int(latency_ms))
            if rate_per_min is not None:
                self._rate_per_min = int(rate_per_min)
            if rate_per_day is not None:
                self._rate_per_day = int(rate_per_day)
            return {
                "latency_ms": self._latency_ms,
                "rate_per_min": self._rate_per_min,
                "rate_per_day": self._rate_per_day,
            }

    # ------------------------------------------------------------------ sessions

    def issue_session(self, token: str | None, today: date) -> str:
        """Register an api_session as a fresh login (re-issuing a token revives it)."""
        if token is None:
            token = f"{secrets.randbelow(90_000_000) + 10_000_000}"
        with self._lock:
            old = self._sessions.get(token)
            if old and old.session_key:
                self._keys.pop(old.session_key, None)
            self._sessions[token] = SessionRecord(api_session=token, issued_on=today)
        return token

    def expire_sessions(self) -> None:
        with self._lock:
            for record in self._sessions.values():
                record.expired = True

    def _is_expired(self, record: SessionRecord, today: date) -> bool:
        return record.expired or record.issued_on != today

    def exchange(self, api_session: str, today: date) -> tuple[str, str | None]:
        """customerdetails: ("ok", session_key) or ("invalid"|"expired"|"used", None)."""
        with self._lock:
            record = self._sessions.get(api_session)
            if record is None:
                return "invalid", None
            if self._is_expired(record, today):
                return "expired", None
            if self.single_use_sessions and record.exchanges > 0:
                return "used", None
            record.exchanges += 1
            if record.session_key is None:
                key = f"{secrets.randbelow(90_000_000) + 10_000_000}"
                while key in self._keys:
                    key = f"{secrets.randbelow(90_000_000) + 10_000_000}"
                record.session_key = key
                self._keys[key] = api_session
            return "ok", record.session_key

    def check_session_key(self, user_id: str, session_key: str, today: date) -> str:
        """X-SessionToken check: "ok", "invalid" or "expired"."""
        with self._lock:
            api_session = self._keys.get(session_key)
            if user_id != USER_ID or api_session is None:
                return "invalid"
            record = self._sessions.get(api_session)
            if record is None:
                return "invalid"
            return "expired" if self._is_expired(record, today) else "ok"

    # ------------------------------------------------------------------ rate limit

    def rate_check(self, app_key: str, today: date) -> str | None:
        """Admit one API call for ``app_key``; None if allowed, else "minute" or "day".

        Refused calls do not consume quota, so a client that backs off recovers after 60 s.
        """
        now = time.monotonic()
        with self._lock:
            window = self._windows[app_key]
            while window and now - window[0] >= 60.0:
                window.popleft()
            refused = None
            if self._daily[(app_key, today)] >= self._rate_per_day:
                refused = "day"
            elif len(window) >= self._rate_per_min:
                refused = "minute"
            if refused:
                self._counters.rate_limited += 1
                return refused
            window.append(now)
            self._daily[(app_key, today)] += 1
            return None

    def note_rate_limited(self) -> None:
        with self._lock:
            self._counters.rate_limited += 1

    # ------------------------------------------------------------------ faults

    def add_fault(self, fault: Fault) -> None:
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}; use one of {FAULT_MODES}")
        if fault.endpoints is not None:
            unknown = set(fault.endpoints) - set(ENDPOINTS)
            if unknown:
                raise ValueError(f"unknown endpoints {sorted(unknown)}; use {ENDPOINTS}")
        if fault.remaining is not None and fault.remaining <= 0:
            raise ValueError("count must be positive (or None for every call)")
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first active fault matching ``endpoint``, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(endpoint):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
            return None

    # ------------------------------------------------------------------ stats

    def record_call(self, endpoint: str) -> None:
        with self._lock:
            counters = self._counters
            counters.calls[endpoint] = counters.calls.get(endpoint, 0) + 1
            now = time.monotonic()
            counters.recent.append(now)
            while now - counters.recent[0] >= 60.0:
                counters.recent.popleft()
            counters.max_in_60s = max(counters.max_in_60s, len(counters.recent))

    def record_connection(self) -> None:
        with self._lock:
            self._counters.connections += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counters = self._counters
            calls = dict(counters.calls)
            return {
                "calls": calls,
                "total_calls": sum(calls.values()),
                "customerdetails_calls": calls.get("customerdetails", 0),
                "connections_opened": counters.connections,
                "rate_limited": counters.rate_limited,
                "max_calls_in_60s": counters.max_in_60s,
                "faults": [f.as_dict() for f in self._faults],
            }

    def reset(self) -> None:
        """Forget faults, statistics and rate counters; issued sessions survive."""
        with self._lock:
            self._faults.clear()
            self._windows.clear()
            self._daily.clear()
            self._counters = _Counters()
