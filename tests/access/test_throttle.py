"""Per-key quotas: 429 with Retry-After and RateLimit-* headers, one count for every worker."""

from __future__ import annotations

from http import HTTPStatus
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from access.authentication import ClientPrincipal
from access.throttles import ClientKeyThrottle
from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]


def test_over_quota_is_429_with_retry_after_and_rate_limit_headers(api, live_session, make_key):
    _, raw = make_key(quota=3)
    answers = [
        api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw}) for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert set(refused.json()) == {"error", "message", "details", "code"}
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit-Limit"] == "3"
    assert refused["RateLimit-Reset"] == refused["Retry-After"]


def test_quota_is_per_key(api, live_session, make_key):
    _, first = make_key("first", quota=1)
    _, second = make_key("second", quota=1)

    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: first})
    response = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: second})

    assert response.status_code == HTTPStatus.OK


def _request(key_id: int, quota: int) -> SimpleNamespace:
    return SimpleNamespace(user=ClientPrincipal(key_id=key_id, name="k", quota=quota))


def test_quota_is_shared_by_throttles_of_different_workers():
    # Given two throttles, as two workers (or instances) would each have, on one shared cache
    worker_a, worker_b = ClientKeyThrottle(), ClientKeyThrottle()
    worker_a.timer = worker_b.timer = lambda: 1_000_030.0

    # When the key's quota of 3 is spent across both
    spent = [worker_a.allow_request(_request(7, 3), None) for _ in range(2)]
    spent.append(worker_b.allow_request(_request(7, 3), None))
    over = worker_a.allow_request(_request(7, 3), None)

    # Then the fourth request is refused, whichever worker sees it, until the window ends
    assert spent == [True, True, True]
    assert over is False
    assert worker_a.wait() == 50
    assert cache.get(worker_a.cache_key(7, 1_000_030 // 60)) == 4
    worker_b.timer = lambda: 1_000_080.0  # the next minute
    assert worker_b.allow_request(_request(7, 3), None) is True


def test_quota_holds_across_processes_on_redis():
    # Given the throttle state in Redis, as production runs with REDIS_URL
    redis_cache = pytest.importorskip("django_redis.cache").RedisCache(
        "redis://127.0.0.1:6379/14", {"KEY_PREFIX": "access-test", "OPTIONS": {}}
    )
    try:
        redis_cache.clear()
    except Exception:  # pragma: no cover - Redis is part of the test machine
        pytest.skip("no Redis at 127.0.0.1:6379")
    worker_a, worker_b = ClientKeyThrottle(), ClientKeyThrottle()
    for worker in (worker_a, worker_b):
        worker.cache = redis_cache
        worker.timer = lambda: 2_000_010.0

    # When each worker lets two requests through on a quota of 3
    results = [w.allow_request(_request(9, 3), None) for w in (worker_a, worker_b) * 2]

    # Then the count is one atomic counter: three pass, the fourth is refused
    assert results == [True, True, True, False]
    redis_cache.clear()
