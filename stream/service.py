"""The stream in one process: its clients (:mod:`stream.hub`), its share of the fleet's state
(:mod:`stream.bus`), and, while it leads, the fleet's upstream feed (:mod:`stream.upstream`).

Every instance runs the same four loops:

* **listen**: ticks and news from the bus, delivered to this instance's clients;
* **report**: what this instance's clients listen to, every two seconds and just after a
  change (the leader joins the union of every instance's report);
* **lead**: take the leader's lock when it is free, renew it while holding it (every third of
  its TTL), and run the upstream feed only while the lock is ours; losing it stops the feed
  at once, and another instance takes over within the TTL plus one try;
* **drain**: hand conflated clients their latest packets once they catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from engineio import packet as eio_packet

from breeze import telemetry
from stream import lookups
from stream.bus import Bus, bus_from_settings, union
from stream.hub import COMPAT, NATIVE, Client, Hub, encode_event
from stream.upstream import Upstream

logger = logging.getLogger("stream")

REPORT_EVERY_S = 2.0
REPORT_DEBOUNCE_S = 0.05
REAP_EVERY_S = 2.0

_running: Stream | None = None  # this process's stream, for health and metrics


def running() -> Stream | None:
    return _running


class Stream:
    def __init__(
        self,
        sio: Any,
        bus: Bus | None = None,
        *,
        upstream_factory: Callable[[Bus, int], Upstream] = Upstream,
    ) -> None:
        self.sio = sio
        self.bus = bus or bus_from_settings()
        self.instance = f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.hub = Hub(EngineIOTransport(sio), on_change=self._changed)
        self._upstream_factory = upstream_factory
        self.upstream: Upstream | None = None
        self._upstream_task: asyncio.Task[None] | None = None
        self.fence: int | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._dirty = asyncio.Event()
        self.others: dict[str, dict[str, int]] = {}  # the other instances' last reports
        self.feed_status: dict[str, Any] = {"status": "idle"}
        self.started_at = time.time()

    # --- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        global _running
        loops = (self._listen, self._report, self._lead, self.hub.drain_forever, self._reap)
        self._tasks = [asyncio.create_task(loop(), name=loop.__name__) for loop in loops]
        _running = self
        logger.info("stream: started", extra={"instance": self.instance})

    async def stop(self) -> None:
        global _running
        await self._stop_leading()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.bus.withdraw(self.instance)
        with contextlib.suppress(Exception):
            await self.bus.close()
        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(None, lookups.close_connections)
        with contextlib.suppress(Exception):  # the thread Django's ASGI handler runs views on
            await sync_to_async(connections.close_all, thread_sensitive=True)()
        if _running is self:
            _running = None

    # --- Engine.IO plumbing ----------------------------------------------------------------

    def send(self, client: Client, event: str, data: Any) -> None:
        self.hub.send_now(client, encode_event(event, data))

    # --- loops -----------------------------------------------------------------------------

    async def _listen(self) -> None:
        async for kind, raw in self.bus.listen():
            try:
                if kind == "tick":
                    self.hub.deliver(raw)
                else:
                    self._news(json.loads(raw))
            except Exception:
                logger.exception("stream: could not deliver a message")

    def _news(self, news: dict[str, Any]) -> None:
        if "subs" in news:
            if self.upstream is not None:
                self.upstream.poke()
            return
        if "status" not in news:
            return
        self.feed_status = news
        status = news["status"]
        native = encode_event("status", news)
        expired = None
        if status == "session_expired":
            expired = encode_event(
                "watchlist_error",
                {"error": news.get("message") or "The Breeze session expired.",
                 "code": "session_expired"},
            )  # fmt: skip

        def packet_for(client: Client) -> str | None:
            seed_only = _speaks(client, COMPAT) and not _speaks(client, NATIVE)
            return expired if seed_only else native

        self.hub.broadcast(packet_for)

    def _changed(self) -> None:
        self._dirty.set()

    async def _report(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), REPORT_EVERY_S)
            changed = self._dirty.is_set()
            if changed:
                await asyncio.sleep(REPORT_DEBOUNCE_S)  # one report for a burst of changes
                self._dirty.clear()
            try:
                await self.bus.report(self.instance, self.report_fields())
                reports = await self.bus.reports()
                self.others = {i: r for i, r in reports.items() if i != self.instance}
                if changed:
                    await self.bus.publish_control({"subs": self.instance})
            except Exception:
                logger.exception("stream: could not report this instance's listeners")
                await asyncio.sleep(1)

    def report_fields(self) -> dict[str, int]:
        connections, subscriptions = self.hub.per_key()
        fields = {f"f:{feed}": n for feed, n in self.hub.listeners().items()}
        fields.update({f"c:{key}": n for key, n in connections.items()})
        fields.update({f"s:{key}": n for key, n in subscriptions.items()})
        fields["clients"] = len(self.hub.clients)
        return fields

    async def _lead(self) -> None:
        ttl = settings.BREEZE_STREAM_LEADER_TTL_S
        while True:
            try:
                if self.fence is None:
                    fence = await self.bus.acquire(self.instance, ttl)
                    if fence:
                        await self._start_leading(fence)
                elif not await self.bus.renew(self.instance, self.fence, ttl):
                    logger.warning("stream: lost the leader's lock", extra={"fence": self.fence})
                    await self._stop_leading(release=False)
            except Exception:
                logger.exception("stream: the leader's lock could not be checked")
                if self.fence is not None:  # cannot prove we still hold it: stop the feed
                    await self._stop_leading(release=False)
            await asyncio.sleep(ttl / 3)

    async def _start_leading(self, fence: int) -> None:
        self.fence = fence
        upstream = self._upstream_factory(self.bus, fence)
        await upstream.resume_sequences()
        self.upstream = upstream
        self._upstream_task = asyncio.create_task(upstream.run(), name="upstream")
        telemetry.STREAM_LEADER.set(1)
        logger.info("stream: this instance leads the feed", extra={"fence": fence})

    async def _stop_leading(self, *, release: bool = True) -> None:
        task, self._upstream_task = self._upstream_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if release and self.fence is not None:
            with contextlib.suppress(Exception):
                await self.bus.release(self.instance, self.fence)
        self.fence, self.upstream = None, None
        telemetry.STREAM_LEADER.set(0)

    async def _reap(self) -> None:
        """Close connections that never showed a key within the grace period."""
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            deadline = time.monotonic() - settings.BREEZE_STREAM_AUTH_GRACE_S
            for client in list(self.hub.clients.values()):
                if not client.authenticated and client.connected_at < deadline:
                    self.send(client, "watchlist_error", {
                        "error": "No client key: send proxy_key with subscribe_to_watchlist, "
                        "or connect with auth {key}.", "code": "client_key_required"})  # fmt: skip
                    await self.sio.disconnect(client.sid)

    # --- fleet-wide counts for the per-key limits --------------------------------------------

    def key_totals(self, key_id: str) -> tuple[int, int]:
        """(connections, subscriptions) of ``key_id`` on every instance, this one counted live
        and the others as of their last report."""
        connections, subscriptions = self.hub.per_key()
        others_c = union(self.others, f"c:{key_id}")
        others_s = union(self.others, f"s:{key_id}")
        return (
            connections.get(key_id, 0) + sum(others_c.values()),
            subscriptions.get(key_id, 0) + sum(others_s.values()),
        )

    async def summary(self) -> dict[str, Any]:
        """The fleet's stream as the bus knows it (health and the metrics API read this)."""
        reports = await self.bus.reports()
        status = await self.bus.status()
        return {
            "instance": self.instance,
            "leader": await self.bus.leader(),
            "leading": self.fence is not None,
            "feed": status.get("state", "idle"),
            "feed_since": status.get("since"),
            "tokens": len(union(reports, "f:")),
            "clients": sum(r.get("clients", 0) for r in reports.values()),
            "instances": {i: {"clients": r.get("clients", 0)} for i, r in reports.items()},
            "local": {
                "clients": len(self.hub.clients),
                "feeds": len(self.hub.rooms),
                "ticks_in": self.hub.ticks_in,
                "packets_out": self.hub.packets_out,
                "conflated": self.hub.conflated,
            },
        }


def _speaks(client: Client, protocol: str) -> bool:
    return any(i.protocol == protocol for found in client.interests.values() for i in found)


class EngineIOTransport:
    """Packets straight onto each client's Engine.IO queue (what ``AsyncServer.emit`` does for
    a local client, without encoding the event again per client). The socket's writer task
    sends them; its queue length says how far behind the client is."""

    def __init__(self, sio: Any) -> None:
        self.sio = sio

    def handle(self, eio_sid: str) -> Any:
        return self.sio.eio.sockets.get(eio_sid)

    def prepare(self, text: str) -> Any:
        return eio_packet.Packet(eio_packet.MESSAGE, data=text)

    def put(self, handle: Any, prepared: Any) -> None:
        if handle is not None and not handle.closed:
            handle.queue.put_nowait(prepared)

    def waiting(self, handle: Any) -> int:
        return handle.queue.qsize() if handle is not None else 0
