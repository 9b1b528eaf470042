"""The Breeze live feed ("rate refresh", BREEZE_API.md §6): a socket.io server for the simulator.

A python-socketio ``AsyncServer`` (async_mode "asgi") wrapped in ``socketio.ASGIApp`` and served
by uvicorn (h11 + wsproto) on its own event loop in a daemon thread, on its own port. Path
``/socket.io/``, Engine.IO v4, websocket and polling transports.

* connect: ``auth={"user": <user_id>, "token": <session_key>}`` must name a live simulator
  session (the pair customerdetails handed out); anything else is refused with a CONNECT_ERROR,
  which makes the SDK's ``ws_connect()`` raise ``Failed to connect to live stream``.
* ``join`` / ``leave``: one token string or a list (``4.1!2885``, ``4.2!2885``, ``4.1!NIFTY 50``,
  ``1.1!500325``, ``4.1!<NFO token>``, ``8.1!<BFO token>``). A socket joins the socket.io room
  named by the token; unknown tokens (including the SDK's ``4.1!False``) are counted and ignored.
* ``stock``: every ``1 / tick_rate`` seconds, one tick array per joined feed, sent to its room
  (layouts in ``livestream_ticks``).
* A once-a-second watchdog disconnects sockets whose session has expired (midnight IST,
  ``sim.expire_sessions()``); reconnects with that session are refused.
* Faults: ``drop`` (abort every connection now: clients see a transport error and reconnect),
  ``reject_auth`` (refuse new connections until cleared), ``silent`` (keep connections, send no
  ticks until cleared), ``expire`` (expire every session and disconnect their sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Protocol

import socketio
import uvicorn
from socketio import exceptions as sio_exceptions

from .instruments import Instrument, Universe
from .livestream_ticks import TokenIndex, epoch_seconds, parse_token, tick_for, token_index
from .universe import universe_for


class _Sessions(Protocol):
    def check_session_key(self, user_id: str, session_key: str, today: Any) -> str: ...


class Simulator(Protocol):
    """What the live feed needs from its simulator (``server.SimulatorServer`` provides it; a
    protocol rather than an import keeps the modules free of an import cycle)."""

    state: _Sessions
    log_requests: bool

    def now(self) -> datetime: ...

    def expire_sessions(self) -> None: ...


log = logging.getLogger("breeze_sim.livestream")

STREAM_FAULTS = ("drop", "reject_auth", "silent", "expire")
PERSISTENT_FAULTS = ("reject_auth", "silent")
MAX_TICK_RATE = 50.0
MAX_UNKNOWN_KEYS = 1000  # distinct unknown tokens remembered (the rest count under "...")
WATCHDOG_SECONDS = 1.0

# sim wording (the upstream refusal texts are unknown)
REFUSED_INVALID = "Invalid session."
REFUSED_EXPIRED = "Session key is expired."
REFUSED_FAULT = "Connection refused (simulated fault reject_auth)."


def check_tick_rate(value: Any) -> float:
    """Ticks per second per feed: a number in [0, 50]; 0 pauses the feed."""
    rate = float(value)
    if not 0 <= rate <= MAX_TICK_RATE:
        raise ValueError(f"tick_rate must be between 0 and {MAX_TICK_RATE:g}, got {value!r}")
    return rate


class _Stats:
    def __init__(self) -> None:
        self.connections_total = 0
        self.connects_refused: Counter[str] = Counter()
        self.joins: Counter[str] = Counter()
        self.leaves: Counter[str] = Counter()
        self.unknown_joins: Counter[str] = Counter()
        self.ticks_sent = 0
        self.tick_rounds = 0
        self.disconnects: Counter[str] = Counter()  # by python-socketio's reason
        self.evicted = 0  # sockets disconnected because their session expired
        self.drops = 0  # drop faults acted out
        self.disconnect_events = 0  # the SDK's ws_disconnect() emits an event named "disconnect"


class LiveStreamServer:
    """The socket.io live feed of one ``SimulatorServer`` (usually managed by it)."""

    def __init__(
        self,
        sim: Simulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_rate: float = 1.0,
        jitter: bool = True,
        ping_interval: float = 25,
        ping_timeout: float = 20,
    ) -> None:
        self._sim = sim
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._tick_rate = check_tick_rate(tick_rate)
        self._jitter = bool(jitter)
        self._lock = threading.Lock()
        self._faults: set[str] = set()
        self._stats = _Stats()
        self._sessions: dict[str, tuple[str, str]] = {}  # sid -> (user_id, session_key)
        self._rooms: dict[str, set[str]] = {}  # token -> sids
        self._joined: dict[str, set[str]] = {}  # sid -> tokens
        self._feeds: dict[str, Instrument] = {}  # token -> instrument
        self._last: dict[str, float] = {}  # token -> last price sent (index trend)
        self._second = -1
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins="*",
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            logger=False,
            engineio_logger=False,
        )
        self.app = socketio.ASGIApp(self.sio, socketio_path="socket.io")
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("join", self._on_join)
        self.sio.on("leave", self._on_leave)

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> LiveStreamServer:
        """Bind, start serving in a daemon thread and return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("livestream already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"breeze-sim-stream-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("livestream did not start in time")
        if self._error is not None:
            error = self._error
            self.stop()
            raise RuntimeError(f"livestream failed to start: {error!r}") from error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection, stop uvicorn and the event loop, join the thread (~0.25 s)."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and not loop.is_closed() and thread.is_alive():
            with contextlib.suppress(Exception):
                future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
                future.result(timeout)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        with self._lock:
            self._sessions.clear()
            self._rooms.clear()
            self._joined.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(sock))
        except BaseException as exc:  # reported to start(); uvicorn raises SystemExit
            self._error = exc
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            with contextlib.suppress(OSError):
                sock.close()

    async def _main(self, sock: socket.socket) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            http="h11",
            ws="wsproto",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            ws_ping_interval=None,
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._uvicorn = server
        self._wake = asyncio.Event()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if serving.done():
            serving.result()  # raises what uvicorn raised
            raise RuntimeError("uvicorn stopped during startup")
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name="breeze-sim-ticks"),
            asyncio.create_task(self._watchdog(), name="breeze-sim-stream-watchdog"),
        ]
        self._ready.set()
        await serving

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._drop_all("stop")
        with contextlib.suppress(Exception):
            await self.sio.shutdown()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    def _say(self, message: str) -> None:
        """One line on stderr when the simulator logs requests (never a session key)."""
        if getattr(self._sim, "log_requests", False):
            sys.stderr.write(f"breeze_sim stream {message}\n")
            sys.stderr.flush()

    # ------------------------------------------------------------------ control (any thread)

    def fault(self, mode: str) -> None:
        """Inject a fault: drop | reject_auth | silent | expire (see the module docstring)."""
        if mode not in STREAM_FAULTS:
            raise ValueError(f"unknown stream fault {mode!r}; use one of {STREAM_FAULTS}")
        self._say(f"fault {mode}")
        if mode in PERSISTENT_FAULTS:
            with self._lock:
                self._faults.add(mode)
            return
        if mode == "drop":
            self._call(self._drop_all("drop"))
        else:  # expire
            self._sim.expire_sessions()
            self._call(self._evict_expired())

    def clear_faults(self, mode: str | None = None) -> None:
        """Clear one persistent fault, or all of them (expired sessions stay expired)."""
        if mode is not None and mode not in STREAM_FAULTS:
            raise ValueError(f"unknown stream fault {mode!r}; use one of {STREAM_FAULTS}")
        with self._lock:
            if mode is None:
                self._faults.clear()
            else:
                self._faults.discard(mode)

    def configure(self, *, tick_rate: float | None = None, jitter: bool | None = None) -> dict:
        """Change the tick rate (ticks per second per feed, 0 pauses) and/or jitter at run time."""
        rate = None if tick_rate is None else check_tick_rate(tick_rate)
        with self._lock:
            if rate is not None:
                self._tick_rate = rate
            if jitter is not None:
                self._jitter = bool(jitter)
            result = {"tick_rate": self._tick_rate, "jitter": self._jitter}
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)
        return result

    @property
    def tick_rate(self) -> float:
        return self._tick_rate

    @property
    def jitter(self) -> bool:
        return self._jitter

    def evict_expired(self) -> None:
        """Disconnect now every socket whose session is no longer valid (else within 1 s)."""
        self._call(self._evict_expired())

    def stats(self) -> dict[str, Any]:
        with self._lock:
            s = self._stats
            return {
                "enabled": True,
                "running": self.running,
                "url": self.url,
                "tick_rate": self._tick_rate,
                "jitter": self._jitter,
                "faults": sorted(self._faults),
                "connections": len(self._sessions),
                "connections_total": s.connections_total,
                "connects_refused": sum(s.connects_refused.values()),
                "connects_refused_by_reason": dict(s.connects_refused),
                "subscribers": {t: len(sids) for t, sids in self._rooms.items() if sids},
                "joins": dict(s.joins),
                "leaves": dict(s.leaves),
                "unknown_joins": dict(s.unknown_joins),
                "ticks_sent": s.ticks_sent,
                "tick_rounds": s.tick_rounds,
                "disconnects": dict(s.disconnects),
                "evicted": s.evicted,
                "drops": s.drops,
                "disconnect_events": s.disconnect_events,
            }

    def reset_stats(self) -> None:
        """Forget counters and clear faults; live connections and subscriptions are kept."""
        with self._lock:
            self._stats = _Stats()
            self._faults.clear()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 5.0) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not self.running:
            coro.close()
            return
        if threading.current_thread() is self._thread:
            loop.create_task(coro)
            return
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    # ------------------------------------------------------------------ socket.io handlers

    def _refusal(self, auth: Any) -> tuple[str, str] | None:
        with self._lock:
            rejecting = "reject_auth" in self._faults
        if rejecting:
            return "reject_auth", REFUSED_FAULT
        if not isinstance(auth, dict):
            return "invalid", REFUSED_INVALID
        user, key = auth.get("user"), auth.get("token")
        if not user or not key:
            return "invalid", REFUSED_INVALID
        outcome = self._sim.state.check_session_key(str(user), str(key), self._sim.now().date())
        if outcome == "ok":
            return None
        if outcome == "expired":
            return "expired", REFUSED_EXPIRED
        return "invalid", REFUSED_INVALID

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        refusal = self._refusal(auth)
        if refusal is not None:
            with self._lock:
                self._stats.connects_refused[refusal[0]] += 1
            self._say(f"connect refused ({refusal[0]}) {sid}")
            raise sio_exceptions.ConnectionRefusedError(refusal[1])
        with self._lock:
            self._sessions[sid] = (str(auth["user"]), str(auth["token"]))
            self._joined[sid] = set()
            self._stats.connections_total += 1
        self._say(f"connect {sid} user={auth['user']}")

    async def _on_disconnect(self, sid: str, *args: Any) -> None:
        if self.sio.manager.is_connected(sid, "/"):
            # Not a disconnection: the SDK's ws_disconnect() emits an *event* named
            # "disconnect" ("transport close") and leaves the socket open.
            with self._lock:
                self._stats.disconnect_events += 1
            return
        reason = str(args[0]) if args else "unknown"
        with self._lock:
            if self._sessions.pop(sid, None) is None:
                return  # already cleaned up (a fake "disconnect" raced the real one)
            for token in self._joined.pop(sid, set()):
                members = self._rooms.get(token)
                if members is not None:
                    members.discard(sid)
                    if not members:
                        del self._rooms[token]
            self._stats.disconnects[reason] += 1
        self._say(f"disconnect {sid} ({reason})")

    @staticmethod
    def _tokens(data: Any) -> list[Any]:
        if isinstance(data, list | tuple):
            return list(data)
        return [data]

    def _universe(self, now: datetime) -> Universe:
        universe = getattr(self._sim, "universe", None)  # honours the simulator's master size
        return universe(now) if universe is not None else universe_for(now.date())

    async def _token_index(self, now: datetime) -> TokenIndex:
        """Today's token index, built off the event loop (the full master takes seconds)."""
        size = getattr(self._sim, "master_size", None)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, token_index, now.date(), size)

    async def _on_join(self, sid: str, data: Any = None, *_extra: Any) -> None:
        try:
            index = await self._token_index(self._sim.now())
            for token in self._tokens(data):
                inst = index.resolve(token) if isinstance(token, str) else None
                if inst is None:
                    self._note_unknown(token)
                    self._say(f"join {sid} {token!r} ignored (unknown)")
                    continue
                await self.sio.enter_room(sid, token)
                with self._lock:
                    if sid not in self._sessions:
                        continue  # disconnected meanwhile
                    self._feeds[token] = inst
                    self._rooms.setdefault(token, set()).add(sid)
                    self._joined.setdefault(sid, set()).add(token)
                    self._stats.joins[token] += 1
                self._say(f"join {sid} {token}")
        except Exception:  # a bad payload must never take the server down
            log.exception("livestream: join failed for %s", sid)

    def _note_unknown(self, token: Any) -> None:
        label = token if isinstance(token, str) else repr(token)
        with self._lock:
            unknown = self._stats.unknown_joins
            if label not in unknown and len(unknown) >= MAX_UNKNOWN_KEYS:
                label = "..."
            unknown[label] += 1

    async def _on_leave(self, sid: str, data: Any = None, *_extra: Any) -> None:
        try:
            for token in self._tokens(data):
                if not isinstance(token, str):
                    continue
                await self.sio.leave_room(sid, token)
                with self._lock:
                    members = self._rooms.get(token)
                    if members is not None:
                        members.discard(sid)
                        if not members:
                            del self._rooms[token]
                    self._joined.get(sid, set()).discard(token)
                    if parse_token(token) is not None:
                        self._stats.leaves[token] += 1
                self._say(f"leave {sid} {token}")
        except Exception:
            log.exception("livestream: leave failed for %s", sid)

    # ------------------------------------------------------------------ ticks

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None

        async def pause(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), seconds)

        next_at = loop.time()
        while True:
            if wake.is_set():  # the rate or jitter changed: restart the schedule now
                wake.clear()
                next_at = loop.time()
            rate = self._tick_rate
            if rate <= 0:
                await pause(0.5)
                continue
            delay = next_at - loop.time()
            if delay > 0:
                await pause(delay)
                if wake.is_set():
                    continue
            now_t = loop.time()
            next_at += 1 / rate
            if next_at < now_t:  # fell behind (slow machine): skip rather than burst
                next_at = now_t + 1 / rate
            try:
                await self._tick_once()
            except Exception:
                log.exception("livestream: tick failed")

    async def _tick_once(self) -> None:
        with self._lock:
            if "silent" in self._faults:
                return
            feeds = [
                (token, self._feeds[token], len(sids))
                for token, sids in self._rooms.items()
                if sids and token in self._feeds
            ]
            jitter = self._jitter
        if not feeds:
            return
        now: datetime = self._sim.now()
        second = epoch_seconds(now)
        if second != self._second:
            self._second, self._seq = second, 0
        else:
            self._seq += 1
        universe = self._universe(now)
        sends = []
        delivered = 0
        for token, inst, members in feeds:
            try:
                payload = tick_for(
                    token,
                    inst,
                    now,
                    seq=self._seq,
                    jitter=jitter,
                    universe=universe,
                    previous_last=self._last.get(token),
                )
            except Exception:
                log.exception("livestream: cannot build a tick for %s", token)
                continue
            if inst.kind == "index":
                self._last[token] = payload[2]
            sends.append(self.sio.emit("stock", payload, room=token))
            delivered += members
        await asyncio.gather(*sends, return_exceptions=True)
        with self._lock:
            self._stats.ticks_sent += delivered
            self._stats.tick_rounds += 1

    # ------------------------------------------------------------------ faults and expiry

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            try:
                await self._evict_expired()
            except Exception:
                log.exception("livestream: session watchdog failed")

    async def _evict_expired(self) -> None:
        today = self._sim.now().date()
        with self._lock:
            sessions = list(self._sessions.items())
        check = self._sim.state.check_session_key
        for sid, (user, key) in sessions:
            if check(user, key, today) != "ok":
                with self._lock:
                    self._stats.evicted += 1
                await self.sio.disconnect(sid)

    async def _drop_all(self, reason: str) -> None:
        """Abort every connection at the transport: clients see a network error (and reconnect)."""
        if reason == "drop":
            with self._lock:
                self._stats.drops += 1
        eio = self.sio.eio
        for eio_socket in list(eio.sockets.values()):
            with contextlib.suppress(Exception):
                await eio_socket.close(wait=False, abort=True, reason=reason)
                eio_socket.queue.put_nowait(None)  # end a pending long-poll or websocket writer
        server = self._uvicorn
        if server is not None:
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
