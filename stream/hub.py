"""One instance's clients: who listens to which feed under which name, and delivery of every
tick that reaches this instance to exactly those clients.

A tick message is decoded once per instance, shaped once per way of asking for it (the name a
seed client sent, the id a native client chose) and encoded once into a Socket.IO packet that
every such client is handed as is: fan-out costs a queue append per client, not a JSON
encoding per client.

A client that reads slower than ticks arrive must not delay anyone else or grow without bound.
Each client's Engine.IO queue is watched; past ``BREEZE_STREAM_CLIENT_BUFFER`` packets the
client is *conflated*: only the latest packet per feed and name is kept for it (older ones are
dropped, counted, and show up as gaps in ``seq``) and handed over once its queue has drained.
Nothing is ever awaited per client on the delivery path.

A native client may ask for *batches* (``subscribe {..., batch: true}``): every tick and depth
event that reaches this instance within ``BATCH_WINDOW_S`` then goes to it as one ``ticks``
event, ``[[event, data], ...]`` in arrival order. A websocket frame costs the server far more
than the few bytes of a tick, so a client watching fifty instruments costs one frame a round
instead of fifty; the items are the very strings other clients receive, joined, never encoded
again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from breeze import telemetry
from stream import shapes
from stream.shapes import Described

logger = logging.getLogger("stream")

COMPAT, NATIVE = "compat", "native"
DRAIN_EVERY_S = 0.02
BATCH_WINDOW_S = 0.01  # how long a batching client's ticks wait for the rest of their round


@dataclass(frozen=True)
class Interest:
    """One way a client listens to one feed."""

    protocol: str  # compat (watchlist_update) or native (tick / depth)
    ident: str  # the name the client used (compat) or its id (native)
    described: Described
    # What sets one packet of a feed apart from another (the feed fixes ``described``): hashing
    # the dataclass, described and all, for every client of every tick cost a tenth of the CPU.
    variant: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", f"{self.protocol}\0{self.ident}")


@dataclass
class Client:
    sid: str
    eio_sid: str
    key_id: str  # the client key's id ("admin", "anon:<ip>"): limits are counted per key
    principal: Any = None
    account: Any = None
    source_ip: str | None = None
    origin: str | None = None
    interests: dict[str, set[Interest]] = field(default_factory=lambda: defaultdict(set))
    # (feed, ident) → the latest packet (a batching client: the latest item) held back
    pending: dict[tuple[str, str], Any] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)  # feed → when it was subscribed
    handle: Any = None  # the transport's handle on this client's socket
    batch: bool = False  # native ticks as one ``ticks`` event per turn (module docstring)
    conflated: int = 0
    connected_at: float = field(default_factory=time.monotonic)

    @property
    def authenticated(self) -> bool:
        return self.principal is not None

    def subscriptions(self) -> int:
        return sum(len(found) for found in self.interests.values())


def encode_event(event: str, data: Any) -> str:
    """A Socket.IO EVENT packet for the default namespace, as python-socketio encodes it."""
    return "2" + json.dumps([event, data], separators=(",", ":"), allow_nan=False)


def encode_batch(items: Iterable[str]) -> str:
    """One ``ticks`` event from encoded ``[event, data]`` items (each an event packet without
    its leading ``2``)."""
    return '2["ticks",[' + ",".join(items) + "]]"


class Transport(Protocol):
    """How packets reach one client's socket (Engine.IO's queue in production; a fake in
    tests). ``prepare`` makes the object queued from encoded text, once per tick and name, so
    that every client asking the same way is handed the very same object."""

    def handle(self, eio_sid: str) -> Any: ...

    def prepare(self, text: str) -> Any: ...

    def put(self, handle: Any, prepared: Any) -> None: ...

    def waiting(self, handle: Any) -> int: ...


class Hub:
    """The registry and the delivery of one instance."""

    def __init__(self, transport: Transport, on_change: Callable[[], None]) -> None:
        self.transport = transport
        self._on_change = on_change
        self.clients: dict[str, Client] = {}
        self.rooms: dict[str, dict[str, set[Interest]]] = defaultdict(dict)  # feed → sid → …
        self._congested: set[str] = set()
        self.fence = 0
        self.ticks_in = 0
        self.packets_out = 0
        self.conflated = 0
        self.stale_fence_drops = 0
        self.last_tick_at: dict[str, float] = {}  # feed → wall time of its last tick here
        self._delivered_at: dict[str, float] = {}  # feed → monotonic time of its last delivery
        self._batches: dict[str, list[str]] = {}  # sid → items for this turn's ``ticks`` event
        self._flush_scheduled = False

    # --- registry --------------------------------------------------------------------------

    def add_client(self, client: Client) -> None:
        client.handle = self.transport.handle(client.eio_sid)
        self.clients[client.sid] = client
        telemetry.STREAM_CLIENTS.set(len(self.clients))
        self._on_change()

    def remove_client(self, sid: str) -> Client | None:
        client = self.clients.pop(sid, None)
        if client is None:
            return None
        for feed in list(client.interests):
            self._leave_room(feed, sid)
        self._congested.discard(sid)
        self._batches.pop(sid, None)
        telemetry.STREAM_CLIENTS.set(len(self.clients))
        self._on_change()
        return client

    def subscribe(self, client: Client, feed: str, interest: Interest) -> None:
        client.since.setdefault(feed, time.monotonic())
        client.interests[feed].add(interest)
        self.rooms[feed].setdefault(client.sid, set()).add(interest)
        self._on_change()

    def unsubscribe(self, client: Client, predicate: Callable[[Interest], bool]) -> list[str]:
        """Drop the client's interests that match; the feeds it no longer listens to."""
        left = []
        for feed in list(client.interests):
            kept = {i for i in client.interests[feed] if not predicate(i)}
            if kept:
                client.interests[feed] = kept
                self.rooms[feed][client.sid] = set(kept)
            else:
                del client.interests[feed]
                self._leave_room(feed, client.sid)
                left.append(feed)
        for key in [k for k in client.pending if k[0] in left]:
            del client.pending[key]
        for feed in left:
            client.since.pop(feed, None)
        self._on_change()
        return left

    def _leave_room(self, feed: str, sid: str) -> None:
        room = self.rooms.get(feed)
        if room is not None:
            room.pop(sid, None)
            if not room:
                del self.rooms[feed]

    def listeners(self) -> dict[str, int]:
        """Clients per feed (what this instance reports to the leader)."""
        return {feed: len(sids) for feed, sids in self.rooms.items() if sids}

    def per_key(self) -> tuple[dict[str, int], dict[str, int]]:
        """(connections, subscriptions) per client key on this instance."""
        connections: dict[str, int] = defaultdict(int)
        subscriptions: dict[str, int] = defaultdict(int)
        for client in self.clients.values():
            connections[client.key_id] += 1
            subscriptions[client.key_id] += client.subscriptions()
        return dict(connections), dict(subscriptions)

    # --- delivery --------------------------------------------------------------------------

    def deliver(self, raw: bytes) -> None:
        """One tick message from the bus to every local client listening to its feed: shaped
        and encoded once per way of asking, then the same packet queued for each client."""
        message = json.loads(raw)
        fence = message.get("x", 0)
        if fence < self.fence:
            self.stale_fence_drops += 1  # a deposed leader's late tick
            return
        self.fence = fence
        feed = message["f"]
        self.ticks_in += 1
        now = time.time()
        self.last_tick_at[feed] = now
        telemetry.STREAM_TICKS_IN.inc()
        room = self.rooms.get(feed)
        if not room:
            return
        self._delivered_at[feed] = time.monotonic()
        telemetry.STREAM_TICK_LAG.observe(max(0.0, now - message.get("r", now)))
        depth = message.get("d", False)
        texts: dict[str, str] = {}  # variant → encoded event
        items: dict[str, str] = {}  # variant → the event as a batch item
        prepared: dict[str, Any] = {}  # variant → what the transport queues
        put, waiting, prepare = self.transport.put, self.transport.waiting, self.transport.prepare
        buffer = settings.BREEZE_STREAM_CLIENT_BUFFER
        clients, batches = self.clients, self._batches
        sent = batched = 0
        for sid, interests in room.items():
            client = clients.get(sid)
            if client is None:
                continue
            congested = bool(client.pending) or waiting(client.handle) >= buffer
            for interest in interests:
                variant = interest.variant
                if client.batch:
                    item = items.get(variant)
                    if item is None:
                        text = texts.get(variant) or packet_for(message, interest, depth)
                        texts[variant] = text
                        item = items[variant] = text[1:]
                    if congested:
                        self._conflate(client, (feed, interest.ident), item)
                    else:
                        found = batches.get(sid)
                        if found is None:
                            batches[sid] = [item]
                        else:
                            found.append(item)
                        batched += 1
                    continue
                packet = prepared.get(variant)
                if packet is None:
                    text = texts.get(variant) or packet_for(message, interest, depth)
                    texts[variant] = text
                    packet = prepared[variant] = prepare(text)
                if congested:
                    self._conflate(client, (feed, interest.ident), packet)
                else:
                    put(client.handle, packet)
                    sent += 1
        self.packets_out += sent
        telemetry.STREAM_TICKS_OUT.inc(sent + batched)
        if batches:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Flush ``BATCH_WINDOW_S`` after the first tick waiting for it (outside a loop, as in
        unit tests, at once). A round of ticks reaches an instance over a few milliseconds, and
        every flush wakes every batching client's writer: one flush per round, not one per
        loop turn, is what keeps fan-out cheap."""
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_later(BATCH_WINDOW_S, self.flush)

    def flush(self) -> None:
        """One ``ticks`` event per batching client for what this turn delivered to it."""
        self._flush_scheduled = False
        batches, self._batches = self._batches, {}
        put, prepare = self.transport.put, self.transport.prepare
        for sid, items in batches.items():
            client = self.clients.get(sid)
            if client is not None:
                put(client.handle, prepare(encode_batch(items)))
                self.packets_out += 1

    def set_batch(self, client: Client, batch: bool) -> None:
        """Switch how ``client`` receives ticks; what conflation held back is in the old form
        and is dropped (the next tick of each feed follows within a round)."""
        if client.batch != batch:
            client.batch = batch
            client.pending.clear()

    def got_live_tick(self, client: Client, feed: str) -> bool:
        """Whether a live tick of ``feed`` reached ``client`` since it subscribed (then a
        snapshot taken before would be older than what it has)."""
        return self._delivered_at.get(feed, float("-inf")) >= client.since.get(feed, float("inf"))

    def send_now(self, client: Client, text: str) -> None:
        """A packet for one client outside the tick flow (acks, snapshots, status)."""
        self.transport.put(client.handle, self.transport.prepare(text))
        self.packets_out += 1

    def broadcast(self, packet_for: Callable[[Client], str | None]) -> int:
        count = 0
        for client in list(self.clients.values()):
            packet = packet_for(client)
            if packet is not None:
                self.send_now(client, packet)
                count += 1
        return count

    def _conflate(self, client: Client, key: tuple[str, str], packet: Any) -> None:
        if key in client.pending:
            client.conflated += 1
            self.conflated += 1
        client.pending[key] = packet
        self._congested.add(client.sid)

    def drain(self) -> None:
        """Hand conflated clients their latest packets once their queue has room again."""
        low_water = settings.BREEZE_STREAM_CLIENT_BUFFER // 2
        for sid in list(self._congested):
            client = self.clients.get(sid)
            if client is None:
                self._congested.discard(sid)
                continue
            if self.transport.waiting(client.handle) > low_water:
                continue
            pending, client.pending = client.pending, {}
            if client.batch:  # items, not packets: one ``ticks`` event holds them all
                if pending:
                    self.send_now(client, encode_batch(pending.values()))
            else:
                for packet in pending.values():
                    self.transport.put(client.handle, packet)
                    self.packets_out += 1
            self._congested.discard(sid)

    async def drain_forever(self) -> None:
        while True:
            await asyncio.sleep(DRAIN_EVERY_S)
            if self._congested:
                self.drain()


def packet_for(message: dict[str, Any], interest: Interest, depth: bool) -> str:
    """The encoded event ``interest`` receives for ``message``."""
    if interest.protocol == COMPAT:
        return encode_event(
            "watchlist_update", shapes.watchlist_update(message, interest.described, interest.ident)
        )
    shape = shapes.native_depth if depth else shapes.native_tick
    return encode_event(
        "depth" if depth else "tick", shape(message, interest.described, interest.ident)
    )
