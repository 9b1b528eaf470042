"""What the stream's instances share: the feed's leader, who listens to what, the last tick of
every feed, and the two channels ticks and news travel on.

With ``REDIS_URL`` it is Redis (every instance of the fleet sees the same state); without, the
embedded default, one process holds it all in memory. Both implement :class:`Bus`, and nothing
else in the stream knows which one it talks to.

Redis layout (under ``CACHE_KEY_PREFIX``):

* ``stream:leader`` ``"<instance>|<fence>"`` with a TTL, taken with ``SET NX`` by the instance
  that holds the upstream feed; ``stream:fence`` a counter raised at every takeover. Every tick
  a leader publishes carries its fence, and instances drop ticks from an older fence, so a
  leader that was paused past its TTL cannot interleave its ticks with its successor's.
* ``stream:instance:<id>`` a hash of what one instance's clients listen to (``f:<feed>`` →
  clients) and per client key (``c:<key>`` connections, ``s:<key>`` subscriptions), expiring
  unless the instance keeps reporting; ``stream:instances`` a sorted set of instance → last
  report. The leader joins the union of the live instances' feeds, so a crashed instance's
  subscriptions lapse by themselves instead of leaking reference counts.
* ``stream:feeds`` feed → what it is (symbol, Breeze code, contract), written by whoever
  resolved it, read by the leader to serve REST quotes from the stream.
* ``stream:last:<feed>`` the last tick message of a feed (snapshots on subscribe).
* ``stream:status`` the leader's account of the feed (state, since, feeds joined, session).
* channels ``stream:ticks`` (tick messages, JSON) and ``stream:control`` (status changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from django.conf import settings

logger = logging.getLogger("stream")

LAST_TICK_TTL_S = 12 * 3600
INSTANCE_TTL_S = 15.0

_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
return fence
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Bus:
    """The shared state of the stream (see the module's docstring)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    # leadership
    async def acquire(self, instance: str, ttl_s: float) -> int | None:
        raise NotImplementedError

    async def renew(self, instance: str, fence: int, ttl_s: float) -> bool:
        raise NotImplementedError

    async def release(self, instance: str, fence: int) -> None:
        raise NotImplementedError

    async def leader(self) -> str | None:
        raise NotImplementedError

    # who listens to what
    async def report(self, instance: str, fields: dict[str, int]) -> None:
        raise NotImplementedError

    async def withdraw(self, instance: str) -> None:
        raise NotImplementedError

    async def reports(self) -> dict[str, dict[str, int]]:
        raise NotImplementedError

    async def describe_feeds(self, described: dict[str, dict[str, Any]]) -> None:
        raise NotImplementedError

    async def feed_descriptions(self, feeds: Iterable[str]) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    # ticks and news
    async def publish_ticks(self, messages: list[tuple[str, bytes]]) -> None:
        raise NotImplementedError

    async def publish_control(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def listen(self) -> AsyncIterator[tuple[str, bytes]]:
        """("tick" | "control", message) as they are published, from every instance."""
        raise NotImplementedError

    async def last_ticks(self, feeds: Iterable[str]) -> dict[str, bytes]:
        raise NotImplementedError

    async def set_status(self, status: dict[str, Any]) -> None:
        raise NotImplementedError

    async def status(self) -> dict[str, Any]:
        raise NotImplementedError


def union(reports: dict[str, dict[str, int]], prefix: str) -> dict[str, int]:
    """Sum the fields named ``prefix...`` over every instance's report (without the prefix)."""
    total: dict[str, int] = defaultdict(int)
    for fields in reports.values():
        for name, count in fields.items():
            if name.startswith(prefix) and count > 0:
                total[name[len(prefix) :]] += count
    return dict(total)


class RedisBus(Bus):
    def __init__(self, url: str, namespace: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
        )
        self._ns = f"{namespace}:stream"
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def _k(self, name: str) -> str:
        return f"{self._ns}:{name}"

    async def close(self) -> None:
        await self._redis.aclose()

    async def acquire(self, instance: str, ttl_s: float) -> int | None:
        fence = await self._acquire(
            keys=[self._k("leader"), self._k("fence")], args=[instance, int(ttl_s * 1000)]
        )
        return int(fence) or None

    async def renew(self, instance: str, fence: int, ttl_s: float) -> bool:
        held = await self._renew(
            keys=[self._k("leader")], args=[f"{instance}|{fence}", int(ttl_s * 1000)]
        )
        return bool(held)

    async def release(self, instance: str, fence: int) -> None:
        await self._release(keys=[self._k("leader")], args=[f"{instance}|{fence}"])

    async def leader(self) -> str | None:
        value = await self._redis.get(self._k("leader"))
        return value.decode().split("|")[0] if value else None

    async def report(self, instance: str, fields: dict[str, int]) -> None:
        key = self._k(f"instance:{instance}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"seen": int(time.time()), **fields})
            pipe.expire(key, int(INSTANCE_TTL_S))
            pipe.zadd(self._k("instances"), {instance: time.time()})
            await pipe.execute()

    async def withdraw(self, instance: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._k(f"instance:{instance}"))
            pipe.zrem(self._k("instances"), instance)
            await pipe.execute()

    async def reports(self) -> dict[str, dict[str, int]]:
        cutoff = time.time() - INSTANCE_TTL_S
        await self._redis.zremrangebyscore(self._k("instances"), "-inf", cutoff)
        instances = [i.decode() for i in await self._redis.zrange(self._k("instances"), 0, -1)]
        if not instances:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for instance in instances:
                pipe.hgetall(self._k(f"instance:{instance}"))
            found = await pipe.execute()
        return {
            instance: {k.decode(): int(v) for k, v in fields.items()}
            for instance, fields in zip(instances, found, strict=True)
            if fields
        }

    async def describe_feeds(self, described: dict[str, dict[str, Any]]) -> None:
        if described:
            await self._redis.hset(
                self._k("feeds"),
                mapping={feed: json.dumps(meta) for feed, meta in described.items()},
            )

    async def feed_descriptions(self, feeds: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(feeds)
        if not wanted:
            return {}
        values = await self._redis.hmget(self._k("feeds"), wanted)
        return {feed: json.loads(v) for feed, v in zip(wanted, values, strict=True) if v}

    async def publish_ticks(self, messages: list[tuple[str, bytes]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for feed, message in messages:
                pipe.publish(self._k("ticks"), message)
                pipe.set(self._k(f"last:{feed}"), message, ex=LAST_TICK_TTL_S)
            await pipe.execute()

    async def publish_control(self, message: dict[str, Any]) -> None:
        await self._redis.publish(self._k("control"), json.dumps(message))

    async def listen(self) -> AsyncIterator[tuple[str, bytes]]:  # type: ignore[override]
        ticks, control = self._k("ticks"), self._k("control")
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(ticks, control)
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    channel = message["channel"].decode()
                    yield ("tick" if channel == ticks else "control"), message["data"]
            except (TimeoutError, OSError, ConnectionError) as exc:
                logger.warning("stream: lost the Redis channel; listening again", extra={
                    "error": type(exc).__name__})  # fmt: skip
                await asyncio.sleep(1)
            except Exception as exc:  # redis-py's own ConnectionError and friends
                if type(exc).__module__.startswith("redis"):
                    logger.warning("stream: Redis channel failed; listening again", extra={
                        "error": type(exc).__name__})  # fmt: skip
                    await asyncio.sleep(1)
                else:
                    raise
            finally:
                with contextlib.suppress(Exception):  # the connection is gone already
                    await pubsub.aclose()

    async def last_ticks(self, feeds: Iterable[str]) -> dict[str, bytes]:
        wanted = list(feeds)
        if not wanted:
            return {}
        values = await self._redis.mget([self._k(f"last:{feed}") for feed in wanted])
        return {feed: v for feed, v in zip(wanted, values, strict=True) if v}

    async def set_status(self, status: dict[str, Any]) -> None:
        await self._redis.set(self._k("status"), json.dumps(status), ex=24 * 3600)

    async def status(self) -> dict[str, Any]:
        value = await self._redis.get(self._k("status"))
        return json.loads(value) if value else {}


class LocalBus(Bus):
    """One process (the embedded default): the same contract in memory."""

    def __init__(self) -> None:
        self._leader: tuple[str, int, float] | None = None
        self._fence = 0
        self._reports: dict[str, tuple[float, dict[str, int]]] = {}
        self._feeds: dict[str, dict[str, Any]] = {}
        self._last: dict[str, bytes] = {}
        self._status: dict[str, Any] = {}
        self._listeners: list[asyncio.Queue[tuple[str, bytes]]] = []

    async def acquire(self, instance: str, ttl_s: float) -> int | None:
        now = time.monotonic()
        if self._leader is not None and self._leader[2] > now:
            return None
        self._fence += 1
        self._leader = (instance, self._fence, now + ttl_s)
        return self._fence

    async def renew(self, instance: str, fence: int, ttl_s: float) -> bool:
        now = time.monotonic()
        if self._leader is None or self._leader[:2] != (instance, fence) or self._leader[2] < now:
            return False
        self._leader = (instance, fence, now + ttl_s)
        return True

    async def release(self, instance: str, fence: int) -> None:
        if self._leader is not None and self._leader[:2] == (instance, fence):
            self._leader = None

    async def leader(self) -> str | None:
        if self._leader is None or self._leader[2] < time.monotonic():
            return None
        return self._leader[0]

    async def report(self, instance: str, fields: dict[str, int]) -> None:
        self._reports[instance] = (time.monotonic(), dict(fields))

    async def withdraw(self, instance: str) -> None:
        self._reports.pop(instance, None)

    async def reports(self) -> dict[str, dict[str, int]]:
        cutoff = time.monotonic() - INSTANCE_TTL_S
        return {i: fields for i, (seen, fields) in self._reports.items() if seen >= cutoff}

    async def describe_feeds(self, described: dict[str, dict[str, Any]]) -> None:
        self._feeds.update(described)

    async def feed_descriptions(self, feeds: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {feed: self._feeds[feed] for feed in feeds if feed in self._feeds}

    async def publish_ticks(self, messages: list[tuple[str, bytes]]) -> None:
        for feed, message in messages:
            self._last[feed] = message
            self._deliver(("tick", message))

    async def publish_control(self, message: dict[str, Any]) -> None:
        self._deliver(("control", json.dumps(message).encode()))

    def _deliver(self, item: tuple[str, bytes]) -> None:
        for queue in self._listeners:
            queue.put_nowait(item)

    async def listen(self) -> AsyncIterator[tuple[str, bytes]]:  # type: ignore[override]
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.remove(queue)

    async def last_ticks(self, feeds: Iterable[str]) -> dict[str, bytes]:
        return {feed: self._last[feed] for feed in feeds if feed in self._last}

    async def set_status(self, status: dict[str, Any]) -> None:
        self._status = dict(status)

    async def status(self) -> dict[str, Any]:
        return dict(self._status)


def bus_from_settings() -> Bus:
    if settings.REDIS_URL:
        return RedisBus(settings.REDIS_URL, settings.SHARED_STATE_NAMESPACE)
    return LocalBus()
