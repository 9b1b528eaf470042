"""The shared Redis under memory pressure: cached answers fill it, the counters that protect the
fleet survive and keep counting.

A dedicated redis-server (maxmemory 8 MB, ``noeviction``, as the README requires) is started
for the module. The proxy's own answer path (``breeze.gateway.flight.finish``) then writes
large answers until Redis is near its limit: past the high-water mark the proxy stops caching
answers, so nothing is ever evicted and the lockout, quota, budget and breaker counters still
count exactly.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.core import checks
from django.core.cache import caches

from breeze import store
from breeze.gateway import breaker, budget, flight
from breeze.gateway.answers import MarketAnswer
from breeze.operations import Contract, QuoteQuery

MAXMEMORY = 8 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def small_redis() -> Iterator[tuple[str, redis.Redis]]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def on_small_redis(small_redis, settings):
    url, client = small_redis
    client.flushall()
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "pressure",
        }
    }
    store.forget_memory_reading()
    yield client
    store.forget_memory_reading()


def _fill_with_answers(client: redis.Redis, rows_bytes: int = 64 * 1024) -> int:
    """Store distinct answers through the proxy's own path until it declines (or 10x the
    memory was offered); returns how many were offered."""
    row = b"x" * rows_bytes
    offered = 0
    for n in range(10 * MAXMEMORY // rows_bytes):
        query = QuoteQuery(Contract(f"CODE{n}"))
        answer = MarketAnswer(row, as_of=time.time(), expires_at=time.time() + 3600, session_id=1)
        flight.finish(flight.answer_key(query), flight=f"f{n}", answer=answer)
        offered += 1
        store.forget_memory_reading()
    return offered


def test_counters_survive_a_cache_filled_to_its_limit(on_small_redis, settings, db):
    from access import lockout

    client = on_small_redis
    settings.BREEZE_ADMIN_LOCKOUT_PER_IP = 5
    settings.BREEZE_RATE_PER_MIN = 1000
    # Given counters that protect the fleet, counted before the cache fills
    lockout.admin_key_failure_record(source_ip="203.0.113.5")
    lockout.admin_key_failure_record(source_ip="203.0.113.5")
    quota_key = "quota:pressure-test:1"
    assert store.count(quota_key, 600) == 1
    budget.acquire(wait_s=0)

    # When cached answers are written far past Redis's memory limit
    offered = _fill_with_answers(client)

    # Then Redis evicted nothing, stayed below its limit, and the proxy stopped caching answers
    info = client.info()
    stored = len(client.keys("pressure:*answer:*"))
    assert info["evicted_keys"] == 0
    assert info["used_memory"] < MAXMEMORY
    assert 0 < stored < offered
    # ... and every counter still counts, exactly
    assert store.count(quota_key, 600) == 2
    lockout.admin_key_failure_record(source_ip="203.0.113.5")
    lockout.admin_key_failure_record(source_ip="203.0.113.5")
    lockout.admin_key_failure_record(source_ip="203.0.113.5")  # the fifth: the limit
    with pytest.raises(lockout.AdminLockedOut):
        lockout.admin_key_failure_record(source_ip="203.0.113.5")
    assert budget.usage()["minute"]["used"] == 1
    budget.acquire(wait_s=0)
    assert budget.usage()["minute"]["used"] == 2
    breaker.record_failure(breaker.Pass(), breaker.errors.UpstreamUnavailable())
    assert int(caches["default"].get(breaker.FAILURES_KEY)) == 1


def test_system_check_warns_about_an_evicting_redis(on_small_redis):
    client = on_small_redis
    assert not [m for m in checks.run_checks() if m.id == "market.W002"]

    client.config_set("maxmemory-policy", "volatile-lru")
    try:
        store.forget_memory_reading()
        warnings = [m for m in checks.run_checks() if m.id == "market.W002"]
    finally:
        client.config_set("maxmemory-policy", "noeviction")

    assert len(warnings) == 1
    assert "volatile-lru" in warnings[0].msg
