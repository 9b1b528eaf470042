"""The stream benchmark's load generator: hundreds of lean Socket.IO clients in one process.

A python-socketio client costs threads and a JSON parse per event; a thousand of them, each
receiving fifty events a second, do not fit on two cores next to the servers they measure. This
speaks just enough of the three protocols, on one asyncio (uvloop when installed) event loop:

* WebSocket (RFC 6455) over a raw ``asyncio.Protocol``: the HTTP upgrade, masked client frames,
  unmasked server frames parsed straight out of the receive buffer, several per read;
* Engine.IO v4: open ``0{...}``, ping ``2`` answered with pong ``3``, every packet its own
  websocket message;
* Socket.IO v5, default namespace: connect ``40`` (the server answers ``40{"sid"}``), events
  ``42["name",data]``, an event with an acknowledgement ``42<id>[...]`` answered ``43<id>[...]``.

A ``tick`` or ``depth`` event is not JSON-decoded: its ``id`` (the first key), ``seq`` and the
trailing ``"snapshot":true`` are found in the bytes. Each client checks its sequence numbers per
feed (a gap is an update it never got) and notes when ``status`` events arrived and the first
tick after each. While a segment is measured, every live event's (feed, seq, arrival time) is
kept; at the end of the segment each is matched with the leader's receive time of that tick,
read from the fleet's own Redis channel (``<prefix>:stream:ticks``: every tick message carries
``f`` feed, ``s`` seq, ``r`` the leader's ``time.time()`` at receipt and the tick's epoch
second), and with the simulator's send time (the orchestrator's probe hands over when each round
of an epoch second arrived; a feed's ticks within that second are its rounds in ``seq`` order);
the latencies are returned as histograms. Clocks: every process here reads the same machine's
``time.time()``.

Driven by ``python -m bench.stream`` over stdin/stdout, one JSON object a line: it writes a
command, the process writes one reply line. Diagnostics go to stderr.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import sys
import time
from array import array
from collections import Counter
from typing import Any, cast

BIN_S = 0.0005  # histogram resolution: half a millisecond
MAX_BIN = 40_000  # 20 s; anything later counts in the last bin
CONNECT_CONCURRENCY = 25  # handshakes in flight per process
SLOW_BUFFER = 4096  # the slow client's receive buffer (bytes; Linux doubles it)
# The slow client stalls its socket this long, then reads everything waiting for this long: it
# answers the server's pings late but within Engine.IO's ping interval + timeout (45 s).
SLOW_STALL_S, SLOW_DRAIN_S = 25.0, 8.0
SLOW_ALIASES = 3  # the slow client asks for every instrument under 3 ids: 3 packets a tick

_TICK = b'42["tick",{"id":"'
_DEPTH = b'42["depth",{"id":"'
_BATCH = b'42["ticks",['  # batch: true, one event a round: [["tick",{"id":"…",…}],…]
_ITEM_ID = b'",{"id":"'  # after an item's event name ("tick" or "depth")
_SNAPSHOT_END = b'"snapshot":true}]'


def _say(message: str) -> None:
    print(f"[stream_client {os.getpid()}] {message}", file=sys.stderr, flush=True)


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (RFC 6455 §5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    if not size:
        return head + mask
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
    return head + mask + masked


class Client:
    """One Socket.IO connection and what it saw."""

    def __init__(self, proc: Proc, index: int, url: str, subs: list[list[str]], slow: bool) -> None:
        self.proc = proc
        self.index = index
        host, _, port = url.split("://", 1)[1].partition(":")
        self.host, self.port = host, int(port.rstrip("/"))
        self.subs = subs  # [ids without depth, ids with depth]
        self.slow = slow
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.state = "new"  # new, open, connected, subscribed, closed, failed
        self.error = ""
        self.acks: dict[int, Any] = {}
        self.expected = 0  # feeds (quotes + depth) subscribed
        self.last = [-1] * proc.keys  # last live seq per feed key
        self.seen = bytearray(proc.keys)
        self.seen_count = 0
        self.gaps = 0
        self.disorder = 0
        self.events = 0
        self.live_events = 0
        self.statuses: list[list[Any]] = []  # [time, status, first live tick after or None]
        self.await_tick = False
        self.closed_at: float | None = None
        self.connected_at: float | None = None
        self.opened = asyncio.get_running_loop().create_future()
        self.subscribed = asyncio.get_running_loop().create_future()

    # --- connection ------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_BUFFER)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (self.host, self.port)), 10)
            await loop.create_connection(lambda: _Protocol(self), sock=sock)
            await asyncio.wait_for(self.opened, 20)
            self.send(b"40")
            await asyncio.wait_for(self.subscribed, 60)
        except Exception as exc:
            self.state = "failed"
            self.error = f"{type(exc).__name__}: {exc}"[:200]
            if self.transport is not None:
                self.transport.abort()
            else:
                sock.close()

    def handshake(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(payload))

    def emit(self, ack: int, event: str, data: Any) -> None:
        body = json.dumps([event, data], separators=(",", ":")).encode()
        self.send(b"42" + str(ack).encode() + body)

    def lost(self) -> None:
        self.closed_at = time.time()
        if self.state not in ("failed",):
            self.state = "closed"
        for future in (self.opened, self.subscribed):
            if not future.done():
                future.set_exception(ConnectionError(self.error or "connection closed"))

    # --- frames ----------------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.error = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self.state = "failed"
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1] & 0x7F
            start = pos + 2
            if second == 126:
                if size - pos < 4:
                    break
                second = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif second == 127:
                if size - pos < 10:
                    break
                second = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + second
            if end > size:
                break
            opcode = first & 0x0F
            if opcode == 1 or opcode == 0:
                self.message(bytes(buffer[start:end]), now)
            elif opcode == 8:
                self.error = self.error or "server closed the websocket"
                assert self.transport is not None
                self.transport.close()
            elif opcode == 9:
                self.send_frame_pong(bytes(buffer[start:end]))
            pos = end
        if pos:
            del buffer[:pos]

    def send_frame_pong(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(payload, opcode=10))

    # --- packets ---------------------------------------------------------------------------

    def message(self, payload: bytes, now: float) -> None:
        self.events += 1
        if payload.startswith(_TICK):
            if not payload.endswith(_SNAPSHOT_END):
                self.tick(payload, 17, 0, now)
        elif payload.startswith(_DEPTH):
            if not payload.endswith(_SNAPSHOT_END):
                self.tick(payload, 18, 1, now)
        elif payload.startswith(_BATCH):
            self.batch(payload, now)
        elif payload == b"2":
            self.send(b"3")
        elif payload.startswith(b"42"):
            self.event(payload, now)
        elif payload.startswith(b"43"):
            bracket = payload.index(b"[")
            self.acks[int(payload[2:bracket])] = json.loads(payload[bracket:])[0]
            if len(self.acks) == 2 and not self.subscribed.done():
                self.expected = sum(
                    len(ack.get("subscribed", [])) * (2 if n == 1 else 1)
                    for n, ack in self.acks.items()
                )
                self.state = "subscribed"
                self.subscribed.set_result(None)
        elif payload.startswith(b"40"):
            self.state = "connected"
            self.connected_at = now
            self.emit(0, "subscribe", self.proc.subscription(self.subs[0], depth=False))
            self.emit(1, "subscribe", self.proc.subscription(self.subs[1], depth=True))
        elif payload.startswith(b"0"):
            self.state = "open"
            if not self.opened.done():
                self.opened.set_result(None)
        elif payload.startswith(b"44"):
            self.error = payload[2:300].decode(errors="replace")
            self.state = "failed"

    def batch(self, payload: bytes, now: float) -> None:
        """Every item of a ``ticks`` event (live ticks only: snapshots come on their own)."""
        at = payload.find(_ITEM_ID, len(_BATCH))
        while at >= 0:
            depth = 0 if payload[at - 4 : at] == b"tick" else 1
            at += len(_ITEM_ID)
            self.tick(payload, at, depth, now)
            at = payload.find(_ITEM_ID, at)

    def tick(self, payload: bytes, start: int, depth: int, now: float) -> None:
        """One live tick (or depth) event whose id starts at ``start``."""
        end = payload.index(b'"', start)
        key = self.proc.key_of[payload[start:end]] + depth
        at = payload.index(b'"seq":', end) + 6
        seq = int(payload[at : payload.index(b",", at)])
        self.live_events += 1
        if self.await_tick:
            self.statuses[-1][2] = now
            self.await_tick = False
        last = self.last[key]
        if last < 0:
            self.seen[key] = 1
            self.seen_count += 1
        elif seq != last + 1:
            if seq > last:
                self.gaps += seq - last - 1
            else:
                self.disorder += 1
        if seq > last:
            self.last[key] = seq
        proc = self.proc
        if proc.recording and not self.slow:
            proc.rec_key.append(key)
            proc.rec_seq.append(seq)
            proc.rec_t.append(now)

    def event(self, payload: bytes, now: float) -> None:
        try:
            name, data = json.loads(payload[2:])[:2]
        except ValueError:
            return
        if name == "status" and isinstance(data, dict):
            self.statuses.append([now, data.get("status"), None])
            self.await_tick = True


class _Protocol(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.slow: _SlowReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.client.handshake(transport)
        if self.client.slow:
            self.slow = _SlowReader(transport)

    def data_received(self, data: bytes) -> None:
        self.client.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost()


class _SlowReader:
    """The deliberately slow client: it stalls its socket for SLOW_STALL_S, then reads all
    that waits for SLOW_DRAIN_S, and again (the server's kernel buffer, a few MB on loopback,
    fills first; then the server's own queue for it, and the hub conflates)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.task = asyncio.get_running_loop().create_task(self.cycle())

    async def cycle(self) -> None:
        await asyncio.sleep(SLOW_DRAIN_S)  # the handshake and the subscription first
        while not self.transport.is_closing():
            self.transport.pause_reading()
            await asyncio.sleep(SLOW_STALL_S)
            if self.transport.is_closing():
                return
            self.transport.resume_reading()
            await asyncio.sleep(SLOW_DRAIN_S)


class Proc:
    """This process: its clients, the leader's receive times, the records of a segment."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.instruments: dict[str, dict[str, Any]] = config["instruments"]
        ids = list(self.instruments)
        # An instrument may be asked for under several ids (the slow client's ``<id>~<n>``):
        # each id is a stream of its own (its own packets), with keys of its own.
        self.keys = 2 * len(ids) * SLOW_ALIASES
        self.key_of = {
            (i if alias == 0 else f"{i}~{alias}").encode(): 2 * (n + alias * len(ids))
            for n, i in enumerate(ids)
            for alias in range(SLOW_ALIASES)
        }
        self.feed_key: dict[str, int] = {}
        for n, ident in enumerate(ids):
            quotes, depth = config["feeds"][ident]
            self.feed_key[quotes] = 2 * n
            if depth:
                self.feed_key[depth] = 2 * n + 1
        self.clients: list[Client] = []
        self.slow: list[Client] = []
        self.recording = False
        self.rec_key = array("i")
        self.rec_seq = array("q")
        self.rec_t = array("d")
        # key << 32 | seq -> (the leader's receipt r, ours from the channel, the tick's epoch)
        self.received: dict[int, tuple[float, float, int]] = {}
        self.unknown_feeds: Counter[str] = Counter()
        self.segment_started = time.time()
        self.cpu_started = time.process_time()

    def subscription(self, ids: list[str], *, depth: bool) -> dict[str, Any]:
        return {
            "instruments": [{**self.instruments[i.split("~")[0]], "id": i} for i in ids],
            "depth": depth,
            "batch": self.config.get("batch", False),
        }

    # --- the fleet's tick channel ------------------------------------------------------------

    async def listen_bus(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.config["redis_url"])
        channel = f"{self.config['prefix']}:stream:ticks"
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    now = time.time()
                    tick = json.loads(message["data"])
                    key = self.feed_key.get(tick["f"])
                    if key is None:
                        self.unknown_feeds[tick["f"]] += 1
                        continue
                    epoch = int(tick["t"]["epoch"])
                    self.received[(key << 32) | int(tick["s"])] = (float(tick["r"]), now, epoch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _say(f"tick channel failed ({exc!r}); listening again")
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    # --- commands ---------------------------------------------------------------------------

    async def connect(self, specs: list[dict[str, Any]], rate: float) -> dict[str, Any]:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        started = time.time()

        async def one(client: Client, delay: float) -> None:
            await asyncio.sleep(delay)
            async with gate:
                await client.run()

        fresh = [
            Client(self, len(self.clients) + n, s["url"], s["subs"], bool(s.get("slow")))
            for n, s in enumerate(specs)
        ]
        for client in fresh:
            (self.slow if client.slow else self.clients).append(client)
        await asyncio.gather(*(one(c, n / rate) for n, c in enumerate(fresh)))
        failed = [c for c in fresh if c.state != "subscribed"]
        return {
            "connected": len(fresh) - len(failed),
            "failed": len(failed),
            "errors": Counter(c.error for c in failed).most_common(3),
            "seconds": round(time.time() - started, 2),
        }

    def ready(self) -> dict[str, Any]:
        live = [c for c in self.clients if c.state == "subscribed"]
        return {
            "clients": len(self.clients),
            "subscribed": len(live),
            "ready": sum(1 for c in live if c.expected and c.seen_count >= c.expected),
            "feeds_expected": sum(c.expected for c in live),
            "feeds_seen": sum(c.seen_count for c in live),
        }

    def segment(self) -> dict[str, Any]:
        self.recording = True
        self.rec_key, self.rec_seq, self.rec_t = array("i"), array("q"), array("d")
        for client in self.clients + self.slow:
            client.gaps = client.disorder = client.live_events = 0
        self.segment_started = time.time()
        self.cpu_started = time.process_time()
        return {"ok": True}

    def emissions(self, rounds: dict[int, list[float]]) -> dict[int, float]:
        """key << 32 | seq -> when the simulator sent that tick: the ticks of one feed within one
        epoch second, in ``seq`` order, belong to that second's rounds in order, whose send
        times the bench's probe took (``rounds``: epoch -> send times)."""
        by_second: dict[tuple[int, int], list[int]] = {}
        for keyseq, (_, _, epoch) in self.received.items():
            by_second.setdefault((keyseq >> 32, epoch), []).append(keyseq)
        sent: dict[int, float] = {}
        for (_, epoch), keyseqs in by_second.items():
            times = rounds.get(epoch)
            if not times:
                continue
            for rank, keyseq in enumerate(sorted(keyseqs)):
                if rank < len(times):
                    sent[keyseq] = times[rank]
        return sent

    def report(self, rounds: dict[str, list[float]] | None) -> dict[str, Any]:
        """The segment so far: latency histograms and per-client sequence checks."""
        self.recording = False
        lat_r: Counter[int] = Counter()
        lat_e: Counter[int] = Counter()
        bus_to_client: Counter[int] = Counter()
        unmatched = unsent = 0
        received = self.received
        sent = self.emissions({int(k): v for k, v in (rounds or {}).items()})
        for key, seq, at in zip(self.rec_key, self.rec_seq, self.rec_t, strict=True):
            keyseq = (key << 32) | seq
            found = received.get(keyseq)
            if found is None:
                unmatched += 1
                continue
            r, bus, _ = found
            lat_r[min(MAX_BIN, max(0, int((at - r) / BIN_S)))] += 1
            bus_to_client[min(MAX_BIN, max(0, int((at - bus) / BIN_S)))] += 1
            emitted = sent.get(keyseq)
            if emitted is None:
                unsent += 1
            else:
                lat_e[min(MAX_BIN, max(0, int((at - min(emitted, r)) / BIN_S)))] += 1
        live = [c for c in self.clients if c.state == "subscribed"]
        wall = time.time() - self.segment_started
        result = {
            "records": len(self.rec_t),
            "unmatched": unmatched,
            "unsent": unsent,
            "lat_r": dict(lat_r),
            "lat_e": dict(lat_e),
            "bus_to_client": dict(bus_to_client),
            "clients": len(live),
            "gaps": sum(c.gaps for c in live),
            "clients_with_gaps": sum(1 for c in live if c.gaps),
            "disorder": sum(c.disorder for c in live),
            "live_events": sum(c.live_events for c in live),
            "wall_s": wall,
            "cpu_s": time.process_time() - self.cpu_started,
            "unknown_feeds": dict(self.unknown_feeds.most_common(3)),
            "slow": [
                {
                    "state": c.state,
                    "live_events": c.live_events,
                    "gaps": c.gaps,
                    "disorder": c.disorder,
                    "last_seq": max(c.last),
                    "error": c.error,
                }
                for c in self.slow
            ],
        }
        self.rec_key, self.rec_seq, self.rec_t = array("i"), array("q"), array("d")
        return result

    def statuses(self, since: float) -> dict[str, Any]:
        """Per client: the statuses told after ``since`` (with the first live tick after each)
        and whether (when) its connection closed."""
        return {
            "clients": [
                {
                    "url": f"http://{c.host}:{c.port}",
                    "statuses": [s for s in c.statuses if s[0] >= since],
                    "closed_at": c.closed_at,
                    "state": c.state,
                }
                for c in self.clients
            ]
        }

    async def close(self) -> dict[str, Any]:
        for client in self.clients + self.slow:
            if client.transport is not None:
                client.transport.abort()
        await asyncio.sleep(0.1)
        return {"ok": True}


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    proc = Proc(config)
    loop = asyncio.get_running_loop()
    bus = asyncio.create_task(proc.listen_bus())
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    reply({"ok": True, "pid": os.getpid()})
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        name = command["cmd"]
        try:
            if name == "connect":
                reply(await proc.connect(command["clients"], command["rate"]))
            elif name == "ready":
                reply(proc.ready())
            elif name == "segment":
                reply(proc.segment())
            elif name == "report":
                reply(proc.report(command.get("rounds")))
            elif name == "slow":
                reply({"slow": [{"state": c.state, "gaps": c.gaps, "live_events": c.live_events}
                                for c in proc.slow]})  # fmt: skip
            elif name == "statuses":
                reply(proc.statuses(command["since"]))
            elif name == "quit":
                reply(await proc.close())
                break
            else:
                reply({"error": f"unknown command {name!r}"})
        except Exception as exc:  # the orchestrator reports it with this process's log
            _say(f"{name} failed: {exc!r}")
            reply({"error": f"{type(exc).__name__}: {exc}"})
    bus.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bus


def run() -> None:
    random.seed(os.getpid())
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


if __name__ == "__main__":
    run()
