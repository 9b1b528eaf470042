"""One connection to Breeze's live feed ("rate refresh", BREEZE_API.md §6), with asyncio.

The SDK's own ``ws_connect`` runs a blocking socket.io client on threads of its own, rejoins
nothing after a reconnect, joins ``4.1!False`` for an unknown code and hands ticks over already
rendered in the machine's time zone. This speaks the same wire protocol the SDK speaks (the
connect ``auth`` pair, ``join``/``leave`` with token strings, ``stock`` events, Engine.IO v4
over websocket at ``/socket.io/``; §6 verified it against a python-socketio server) on the
caller's event loop, decodes each tick once (:mod:`breeze.gateway.ticks`), and leaves policy to
its owner: it never reconnects by itself, so whoever holds it decides when, with which
session, and rejoins what it needs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import socketio
from socketio import exceptions as sio_exceptions

from breeze.gateway.ticks import decode

logger = logging.getLogger("breeze.gateway.livestream")

USER_AGENT = "python-socketio[client]/socket"  # what the SDK sends
CONNECT_TIMEOUT_S = 10.0
JOIN_BATCH = 200  # tokens per join/leave message


class FeedError(Exception):
    """The feed could not be reached or was lost."""


class FeedRefused(FeedError):
    """Breeze refused the session's credentials (expired, replaced or wrong)."""


TickHandler = Callable[[dict[str, Any], float], None]
LostHandler = Callable[[str], None]


class LiveFeed:
    """A single connection. ``on_tick(tick, received_at)`` is called on the event loop for every
    decoded tick in arrival order; ``on_lost(reason)`` once when an established connection ends
    without :meth:`close`.

    The connection itself lives on an event loop of its own, in a thread of its own: the
    caller's loop also serves every client of the instance, and python-socketio's client
    spends several loop turns on each message it reads (``wait_for`` around every receive, a
    task per event), so on a busy shared loop it reads fewer ticks than Breeze sends, falls
    behind, and python-engineio drops the connection when its pong is late. Ticks are handed
    to the caller's loop in batches (one ``call_soon_threadsafe`` per batch), in order."""

    def __init__(self, url: str, *, on_tick: TickHandler, on_lost: LostHandler) -> None:
        self.url = url.rstrip("/")
        self._on_tick = on_tick
        self._on_lost = on_lost
        self._closing = False
        self._refusal: str | None = None
        self.malformed = 0
        self._client = socketio.AsyncClient(
            reconnection=False, logger=False, engineio_logger=False, handle_sigint=False
        )
        self._client.on("stock", self._stock)
        self._client.on("connect_error", self._connect_error)
        self._client.on("disconnect", self._disconnected)
        self._owner: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch: list[tuple[dict[str, Any], float]] = []
        self._batch_lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(
        self, user_id: str, session_key: str, *, timeout_s: float = CONNECT_TIMEOUT_S
    ) -> None:
        """Open the connection with the session's pair (customerdetails' decoded token).
        Raises :class:`FeedRefused` when Breeze refuses the pair, :class:`FeedError` otherwise."""
        self._refusal = None
        self._owner = asyncio.get_running_loop()
        self._start_loop()
        try:
            await self._on_feed_loop(
                asyncio.wait_for(
                    self._client.connect(
                        self.url,
                        headers={"User-Agent": USER_AGENT},
                        auth={"user": user_id, "token": session_key},
                        transports=["websocket"],
                        socketio_path="socket.io",
                        wait_timeout=timeout_s,
                    ),
                    timeout_s + 1,
                )
            )
        except (sio_exceptions.ConnectionError, TimeoutError, OSError, ValueError) as exc:
            await self._drop()
            self._stop_loop()
            if self._refusal is not None:
                raise FeedRefused(self._refusal) from exc
            raise FeedError(_reason(exc)) from exc

    async def join(self, feeds: Iterable[str]) -> None:
        await self._send("join", list(feeds))

    async def leave(self, feeds: Iterable[str]) -> None:
        await self._send("leave", list(feeds))

    async def close(self) -> None:
        """End the connection on purpose (``on_lost`` is not called)."""
        self._closing = True
        await self._drop()
        self._stop_loop()

    async def _send(self, event: str, feeds: list[str]) -> None:
        for start in range(0, len(feeds), JOIN_BATCH):
            batch = feeds[start : start + JOIN_BATCH]
            try:
                await self._on_feed_loop(self._client.emit(event, batch))
            except (sio_exceptions.SocketIOError, RuntimeError) as exc:
                raise FeedError(f"could not {event}: {_reason(exc)}") from exc

    async def _drop(self) -> None:
        try:
            await asyncio.wait_for(self._on_feed_loop(self._client.disconnect()), 5)
        except Exception:  # already gone is what we want
            logger.debug("livestream: disconnect failed", exc_info=True)

    # --- the feed's own loop -------------------------------------------------------------------

    def _start_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(
                target=_run_loop, args=(self._loop,), name="breeze-livefeed", daemon=True
            ).start()

    def _stop_loop(self, delay_s: float = 0.0) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.call_later, delay_s, loop.stop)

    async def _on_feed_loop(self, coro: Any) -> Any:
        """Run ``coro`` on the feed's loop and wait for it on the caller's."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError("the feed is closed")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def _hand_over(self) -> None:
        """On the caller's loop: every tick read since the last hand-over, in order."""
        with self._batch_lock:
            batch, self._batch = self._batch, []
        for tick, received_at in batch:
            self._on_tick(tick, received_at)

    # --- socket.io handlers (plain functions: they run in arrival order) ---------------------

    def _stock(self, data: Any = None, *_extra: Any) -> None:
        received_at = time.time()
        tick = decode(data)
        if tick is None:
            self.malformed += 1
            if self.malformed <= 5 or self.malformed % 1000 == 0:
                logger.warning(
                    "livestream: a tick with no known layout was skipped",
                    extra={"malformed": self.malformed, "shape": _shape(data)},
                )
            return
        with self._batch_lock:
            self._batch.append((tick, received_at))
            first = len(self._batch) == 1
        if first and self._owner is not None:
            self._owner.call_soon_threadsafe(self._hand_over)

    def _connect_error(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else data
        self._refusal = str(message or "connection refused")[:200]

    def _disconnected(self, reason: Any = None) -> None:
        if not self._closing and self._owner is not None:
            self._owner.call_soon_threadsafe(self._hand_over)  # the last ticks first
            self._owner.call_soon_threadsafe(self._on_lost, str(reason or "transport closed"))
            self._stop_loop(delay_s=1.0)  # once the client has finished its own cleanup


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _shape(data: Any) -> str:
    """What a skipped tick looked like, without its values."""
    if isinstance(data, list):
        if not data:
            return "list[0]"
        head = data[0] if isinstance(data[0], str) else type(data[0]).__name__
        return f"list[{len(data)}] {head[:40]}"
    return type(data).__name__
