"""The fleet's figures across two real instances (separate gunicorn servers, each with two
workers in prometheus-client's multiprocess mode) on the real Redis: either instance's
``GET /breeze/metrics`` shows the sum of both and both instances live, with fixed memory in
Redis (per-minute hashes that expire); each instance's ``/metrics`` sums its own workers."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus

import pytest
import redis
import requests

from tests.monitoring.conftest import Scrape
from tests.multiprocess.conftest import ADMIN_KEY, ProxyInstance, proxy_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(180)]

REDIS_DB = 11  # not 12-15 (other suites use and flush those)


@pytest.fixture(scope="module")
def metrics_redis():
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is required (.ci/run starts it)")
    return client


def _forget(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def pair(sim, django_db_setup, django_db_blocker, metrics_redis, tmp_path_factory):
    prefix = f"metrics-{uuid.uuid4().hex[:8]}"
    env = proxy_env(
        sim.url,
        prefix,
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CONN_MAX_AGE="0",
        BREEZE_TIMEOUT_S="2",
        BREEZE_QUOTE_TTL_S="60",
        BREEZE_METRICS_FLUSH_S="0.5",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
    )
    logs = tmp_path_factory.mktemp("metrics-instances")
    instances = [ProxyInstance("metrics-a", env, logs), ProxyInstance("metrics-b", env, logs)]
    with django_db_blocker.unblock():
        for instance in instances:
            instance.start()
    yield instances, prefix
    for instance in instances:
        instance.stop()
    _forget(metrics_redis, prefix)


def _fleet(instance: ProxyInstance) -> dict:
    response = requests.get(
        f"{instance.url}/breeze/metrics", headers={"X-Proxy-Admin-Key": ADMIN_KEY}, timeout=10
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def _scrape(instance: ProxyInstance) -> Scrape:
    response = requests.get(f"{instance.url}/metrics", timeout=10)
    assert response.status_code == HTTPStatus.OK, response.text
    return Scrape(response.text)


def _until(read, ready, timeout_s: float = 20.0):
    """``read()`` again until ``ready`` holds for what it returns (or the time is up): the
    roll-up and each worker's exposition catch up on their own flush."""
    deadline = time.monotonic() + timeout_s
    found = read()
    while not ready(found) and time.monotonic() < deadline:
        time.sleep(0.2)
        found = read()
    return found


def _wait_for(instance: ProxyInstance, ready) -> dict:
    return _until(lambda: _fleet(instance), ready)


def _scrape_until(instance: ProxyInstance, ready) -> Scrape:
    return _until(lambda: _scrape(instance), ready)


def test_either_instance_shows_the_fleet_sum_and_both_instances(
    pair, sim, transactional_db, metrics_redis
):
    (a, b), prefix = pair
    assert a.activate(sim.issue_session()).status_code == HTTPStatus.OK
    for _ in range(6):
        assert a.quote().status_code == HTTPStatus.OK
    for _ in range(4):
        assert b.quote().status_code == HTTPStatus.OK
    for _ in range(2):
        assert requests.get(f"{b.url}/no/such/path", timeout=5).status_code == 404

    def complete(body: dict) -> bool:
        endpoints = body["windows"]["5m"]["endpoints"]
        return (
            endpoints.get("quotes", {}).get("count") == 10
            and endpoints.get("unmatched", {}).get("count") == 2
            and body["instances"]["count"] == 2
            and all(i["processes"] == 2 for i in body["instances"]["live"])
        )

    from_a = _wait_for(a, complete)
    from_b = _wait_for(b, complete)

    for body in (from_a, from_b):
        last5 = body["windows"]["5m"]
        assert last5["endpoints"]["quotes"]["count"] == 10
        assert last5["endpoints"]["unmatched"]["4xx"] == 2
        assert last5["cache"]["misses"] == 1  # one upstream call for the whole fleet
        assert last5["cache"]["hits"] == 9
        assert last5["upstream"]["operations"]["quote"]["calls"] == 1
        assert last5["endpoints"]["quotes"]["p50_ms"] is not None
        assert body["instances"]["count"] == 2
        for instance in body["instances"]["live"]:
            assert instance["processes"] == 2
            assert instance["rss_bytes"] > 20 * 1024 * 1024
        assert body["session"]["active"] is True
        assert body["budget"]["day"]["used"] >= 1
    assert from_a["instance"] != from_b["instance"]
    assert {i["id"] for i in from_a["instances"]["live"]} == {
        from_a["instance"],
        from_b["instance"],
    }

    # Each instance's Prometheus exposition sums its own two workers (multiprocess mode). A
    # worker hands its figures to prometheus-client on its own flush, not with the roll-up.
    scraped_a = _scrape_until(a, lambda s: s.value(
        "breeze_http_requests_total", route="quotes", status="200") == 6)  # fmt: skip
    scraped_b = _scrape_until(b, lambda s: s.value(
        "breeze_http_requests_total", route="unmatched", status="404") == 2)  # fmt: skip
    assert scraped_a.value("breeze_http_requests_total", route="quotes", status="200") == 6
    assert scraped_b.value("breeze_http_requests_total", route="quotes", status="200") == 4
    assert scraped_b.value("breeze_http_requests_total", route="unmatched", status="404") == 2
    assert "pid" not in str(scraped_a.samples.get("breeze_http_requests_total"))
    assert scraped_a.value("breeze_session_active") == 1
    assert scraped_a.value("breeze_fleet_instances") == 2
    assert scraped_a.value("breeze_process_resident_memory_bytes") > 20 * 1024 * 1024

    # Fixed memory in Redis: one hash per minute, each expiring within two hours.
    minute_keys = list(metrics_redis.scan_iter(f"{prefix}:*metrics:minute:*"))
    assert 1 <= len(minute_keys) <= 3
    for key in minute_keys:
        assert 0 < metrics_redis.ttl(key) <= 2 * 3600
        assert metrics_redis.hlen(key) < 400
    processes = list(metrics_redis.scan_iter(f"{prefix}:*metrics:processes"))
    assert len(processes) == 1
    assert metrics_redis.hlen(processes[0]) == 4  # 2 instances x 2 workers
    assert 0 < metrics_redis.ttl(processes[0]) <= 2 * 3600
