"""The live stream in one process: the real ASGI application (Socket.IO and Django) under a real
uvicorn on a free port, the simulator's live feed upstream, the embedded shared state (no
Redis), real python-socketio clients. The fleet (two processes on Redis) is in
tests/multiprocess."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio
import uvicorn

STREAM_SETTINGS = {
    "BREEZE_STREAM_LEADER_TTL_S": 1.5,
    "BREEZE_STREAM_STALE_S": 2.0,
    "BREEZE_STREAM_LEAVE_GRACE_S": 0.5,
    "BREEZE_STREAM_IDLE_GRACE_S": 1.0,
    "BREEZE_STREAM_AUTH_GRACE_S": 3.0,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamServer:
    """The ASGI application (``breeze_proxy.asgi``'s parts, built fresh) under uvicorn."""

    def __init__(self) -> None:
        from django.core.asgi import get_asgi_application

        from stream.server import build_server

        self.sio, self.stream = build_server()
        self.app = socketio.ASGIApp(
            self.sio,
            other_asgi_app=get_asgi_application(),
            on_startup=self.stream.start,
            on_shutdown=self.stream.stop,
        )
        self.port = _free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning",
            ws="websockets-sansio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StreamServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the ASGI server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def upstream(self) -> Any:
        return self.stream.upstream


class Listener:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url: str, **connect: Any) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._lock = threading.Lock()
        self.client.on("*", self._record)
        self.url = url
        self.connect_kwargs = connect

    def _record(self, event: str, data: Any = None) -> None:
        with self._lock:
            self.events[event].append(data)

    def connect(self, **kwargs: Any) -> Listener:
        options = {"transports": ["polling", "websocket"], "wait_timeout": 10}
        options.update(self.connect_kwargs)
        options.update(kwargs)
        self.client.connect(self.url, **options)
        return self

    def call(self, event: str, data: Any, timeout: float = 15) -> Any:
        return self.client.call(event, data, timeout=timeout)

    def of(self, event: str) -> list[Any]:
        with self._lock:
            return list(self.events[event])

    def wait_for(
        self, event: str, predicate: Callable[[list[Any]], bool], timeout: float = 10
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(event)
            if predicate(found):
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {event} as expected within {timeout}s; got {self.of(event)!r}")

    def close(self) -> None:
        """Disconnect, without waiting out a long-poll in flight (the server stops next)."""

        def disconnect() -> None:
            with contextlib.suppress(Exception):
                self.client.disconnect()

        closer = threading.Thread(target=disconnect, daemon=True)
        closer.start()
        closer.join(timeout=2)


@pytest.fixture
def stream_setup(transactional_db, sim, settings) -> Iterator[None]:
    """What the stream needs: the instrument master, a live session, short timings."""
    from instruments import resolver
    from instruments.services import instruments_sync
    from sessions_admin.services import breeze_session_activate

    for name, value in STREAM_SETTINGS.items():
        setattr(settings, name, value)
    instruments_sync(url=sim.security_master_url)
    resolver.forget()
    breeze_session_activate(api_session=sim.issue_session(), activated_by="test")
    sim.configure_stream(tick_rate=10)
    yield
    sim.configure_stream(tick_rate=10)
    with contextlib.suppress(Exception):
        sim.clear_stream_faults()


@pytest.fixture
def stream_server(stream_setup, monkeypatch) -> Iterator[StreamServer]:
    from django.db import connections

    # As breeze_proxy.asgi configures it: no connection outlives its request's thread.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    server = StreamServer().start()
    yield server
    server.stop()


@pytest.fixture
def listen(stream_server) -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(**connect: Any) -> Listener:
        listener = Listener(stream_server.url, **connect)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 10, what: str = "") -> float:
    """Seconds it took for ``predicate`` to hold (fails after ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def run(coro: Any) -> Any:
    return asyncio.run(coro)
