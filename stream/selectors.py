"""The stream's state for readers outside the stream's event loop: ``/breeze/health``, the
metrics API and the staff dashboard (all synchronous, possibly in another process).

With Redis the fleet's state is read from the keys the stream keeps there (``stream.bus``):
the leader, the feed's status and every live instance's report. Without Redis (the embedded
default) the stream runs in this very process, and its own account is read directly.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from django.conf import settings

from stream.bus import INSTANCE_TTL_S, union


@functools.lru_cache(maxsize=1)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def stream_status() -> dict[str, Any]:
    """{"leader", "feed", "feed_since", "tokens", "clients", "instances"}; ``feed`` is
    live, connecting, reconnecting, stale, session_expired, idle, or down (no instance runs)."""
    if settings.REDIS_URL:
        return _from_redis(_redis(settings.REDIS_URL), f"{settings.SHARED_STATE_NAMESPACE}:stream")
    return _from_process()


def _from_redis(client: Any, ns: str) -> dict[str, Any]:
    cutoff = time.time() - INSTANCE_TTL_S
    instances = [i.decode() for i in client.zrangebyscore(f"{ns}:instances", cutoff, "+inf")]
    with client.pipeline(transaction=False) as pipe:
        pipe.get(f"{ns}:leader")
        pipe.get(f"{ns}:status")
        for instance in instances:
            pipe.hgetall(f"{ns}:instance:{instance}")
        leader, status, *fields = pipe.execute()
    reports = {
        i: {k.decode(): int(v) for k, v in f.items()}
        for i, f in zip(instances, fields, strict=True)
        if f
    }
    return _summary(
        leader.decode().split("|")[0] if leader else None,
        json.loads(status) if status else {},
        reports,
    )


def _from_process() -> dict[str, Any]:
    from stream.service import running

    stream = running()
    if stream is None:
        return _summary(None, {}, {})
    reports = {stream.instance: stream.report_fields()}
    upstream = stream.upstream
    status = upstream.status() if upstream is not None else {}
    return _summary(stream.instance if upstream is not None else None, status, reports)


def _summary(
    leader: str | None, status: dict[str, Any], reports: dict[str, dict[str, int]]
) -> dict:
    feed = status.get("state") or ("down" if not reports else "idle")
    if leader is None and reports:
        feed = "electing"
    return {
        "running": bool(reports),
        "leader": leader,
        "feed": feed if reports else "down",
        "feed_since": status.get("since"),
        "tokens": len(union(reports, "f:")),
        "clients": sum(r.get("clients", 0) for r in reports.values()),
        "instances": {i: {"clients": r.get("clients", 0)} for i, r in reports.items()},
        "ticks_in": status.get("ticks_in", 0),
        "last_tick_at": status.get("last_tick_at"),
    }
