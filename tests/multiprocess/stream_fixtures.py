"""The pieces of the stream fleet tests (test_stream_fleet.py): ASGI instances under uvicorn on
the real Redis and PostgreSQL, a simulator of their own with a live feed, and Socket.IO clients
that note when each event arrived.

Each instance is a separate ``python -m uvicorn breeze_proxy.asgi:application`` process, as a
Cloud Run instance of the stream service runs it; the test process only talks to them over HTTP
and Socket.IO and reads the simulator's own counters, the ground truth for what reached
"Breeze".
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

import redis
import requests

from breeze_sim import SimulatorServer
from breeze_sim.state import USER_ID
from tests import leakcheck
from tests.multiprocess.conftest import REPO, ProxyInstance
from tests.processes import wait_until_serving
from tests.stream.conftest import Listener, wait_until

REDIS_DB = (
    10  # 11-15 are other suites' and the benchmark's, and some flush theirs: never flushed here
)
STREAM_ENV = {
    "BREEZE_STREAM_LEADER_TTL_S": "3",  # renewed every second; a dead leader's lock lapses in 3 s
    "BREEZE_STREAM_STALE_S": "3",
    "BREEZE_STREAM_LEAVE_GRACE_S": "1",
    "BREEZE_STREAM_IDLE_GRACE_S": "60",  # keep the feed open between tests
    "BREEZE_QUOTE_TTL_S": "2",
    "BREEZE_RATE_PER_MIN": "1000",
    "BREEZE_RATE_PER_DAY": "100000",
    "BREEZE_OPEN_CALLS_PER_MINUTE": "0",  # one test address calls for everyone here
}
TICK_RATE = 10  # ticks per second per joined feed


class StreamInstance(ProxyInstance):
    """One stream service instance: the ASGI application under uvicorn, one process."""

    def start(self) -> StreamInstance:
        env = {**self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        argv = [
            sys.executable, "-m", "uvicorn", "breeze_proxy.asgi:application",
            "--ws", "websockets-sansio", "--host", "127.0.0.1", "--port", str(self.port),
            "--timeout-graceful-shutdown", "3", "--log-level", "warning",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until_serving(self.process, self.url, timeout_s=40, log_path=self.log_path)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine or container dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/breeze/health", timeout=5).json()


class Fleet:
    """Two instances sharing one Redis namespace and one database."""

    def __init__(self, instances: list[StreamInstance], store: redis.Redis, prefix: str) -> None:
        self.instances = instances
        self.store = store
        self.prefix = prefix

    def leader(self) -> StreamInstance | None:
        """The instance holding the leader's lock (its name carries its pid)."""
        value = self.store.get(f"{self.prefix}:stream:leader")
        if not value:
            return None
        name = value.decode().split("|")[0]  # "<host>-<pid>-<hex>|<fence>"
        pid = int(name.rsplit("-", 2)[1])
        return next((i for i in self.instances if i.alive and i.pid == pid), None)

    def roles(self, timeout: float = 15) -> tuple[StreamInstance, StreamInstance]:
        """(leader, follower), once a live instance leads."""
        wait_until(lambda: self.leader() is not None, timeout=timeout, what="a leader")
        leader = self.leader()
        assert leader is not None
        return leader, self.other(leader)

    def other(self, instance: StreamInstance) -> StreamInstance:
        return next(i for i in self.instances if i is not instance)

    def forget(self) -> None:
        """Delete this run's keys (the db may be shared with other runs: only our prefix)."""
        for key in self.store.scan_iter(match=f"{self.prefix}:*", count=1000):
            self.store.delete(key)


class SimSessions:
    """The module's simulator's logins: tokens issued (remembered by the leak sweep), the
    session key each was exchanged for, and the keys its live feed checked (connects, and its
    watchdog's once-a-second check of every connected socket), with when."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.keys: dict[str, str] = {}  # api_session -> session key
        self.feed_checks: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        state = sim.state
        exchange, check = state.exchange, state.check_session_key

        def recording_exchange(api_session: str, today: Any) -> tuple[str, str | None]:
            outcome, key = exchange(api_session, today)
            if key is not None:
                leakcheck.remember_session(USER_ID, key)
                self.keys[api_session] = key
            return outcome, key

        def recording_check(user_id: str, session_key: str, today: Any) -> str:
            if threading.current_thread().name.startswith("breeze-sim-stream"):
                with self._lock:
                    self.feed_checks.append((time.monotonic(), session_key))
            return check(user_id, session_key, today)

        state.exchange = recording_exchange  # type: ignore[method-assign]
        state.check_session_key = recording_check  # type: ignore[method-assign]

    def issue(self) -> str:
        token = f"tok{secrets.token_hex(8)}"
        leakcheck.remember_secret(token)
        return self.sim.issue_session(token)

    def keys_seen_by_feed(self, since: float) -> set[str]:
        with self._lock:
            return {key for at, key in self.feed_checks if at >= since}


class FleetClient(Listener):
    """A python-socketio client of one instance that also notes when each event arrived."""

    def __init__(self, instance: StreamInstance, **connect: Any) -> None:
        super().__init__(instance.url, **connect)
        self.instance = instance
        self.arrived: dict[str, list[float]] = defaultdict(list)

    def _record(self, event: str, data: Any = None) -> None:
        with self._lock:
            self.events[event].append(data)
            self.arrived[event].append(time.monotonic())

    def connect(self, **kwargs: Any) -> FleetClient:
        kwargs.setdefault("transports", ["websocket"])
        super().connect(**kwargs)
        return self

    def live(self, event: str = "tick", since: float = 0.0) -> list[dict[str, Any]]:
        """Live (not snapshot) events that arrived after ``since`` (time.monotonic())."""
        with self._lock:
            pairs = list(zip(self.arrived[event], self.events[event], strict=True))
        return [data for at, data in pairs if at > since and not data.get("snapshot")]

    def first_live_after(self, since: float, event: str = "tick") -> float | None:
        with self._lock:
            pairs = list(zip(self.arrived[event], self.events[event], strict=True))
        return next((at for at, data in pairs if at > since and not data.get("snapshot")), None)

    def statuses(self, since: float = 0.0) -> list[tuple[float, str]]:
        with self._lock:
            pairs = list(zip(self.arrived["status"], self.events["status"], strict=True))
        return [(at, data["status"]) for at, data in pairs if at > since]

    def status_at(self, status: str, since: float = 0.0) -> float | None:
        return next((at for at, s in self.statuses(since) if s == status), None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            super().close()
