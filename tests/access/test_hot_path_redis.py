"""The cached-quote front door on the real Redis: one round trip reads the client key, counts
its quota and reads the live session and the answer; nothing touches the database."""

from __future__ import annotations

from http import HTTPStatus

import pytest
import redis
from django.core.cache import cache

from breeze.store import exchange
from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]

REDIS_DB = 13


@pytest.fixture
def redis_cache(settings):
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": "hot-path-test",
        }
    }
    yield client
    client.flushdb()


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what the process sends to Redis (a pipeline is one send)."""
    sent: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(1)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_exchange_is_one_pipeline(redis_cache, round_trips):
    cache.set("present", {"a": 1}, 30)
    round_trips.clear()

    found, counts = exchange(
        gets=["present", "absent"], counters=[("counter", 60), ("counter", 60)]
    )

    assert found == {"present": {"a": 1}}
    assert counts == [1, 2]
    assert len(round_trips) == 1
    assert 0 < redis_cache.ttl(cache.make_key("counter")) <= 60


def test_cached_quote_is_one_round_trip_and_no_query(
    api, redis_cache, live_session, make_key, round_trips, django_assert_num_queries
):
    _, raw = make_key(quota=1000)
    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})  # fills the caches
    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})
    round_trips.clear()

    with django_assert_num_queries(0):
        response = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})

    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "hit"
    assert len(round_trips) == 1


def test_quota_counts_through_the_pipeline(api, redis_cache, live_session, make_key):
    _, raw = make_key(quota=3)

    answers = [
        api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw}) for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, HTTPStatus.TOO_MANY_REQUESTS]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]


def test_refused_for_scope_spends_no_quota(api, redis_cache, live_session, make_key):
    # Given a key that may read quotes but not depth, with a quota of two
    _, raw = make_key(scopes=("quotes",), quota=2)

    # When it asks for depth twice (refused) and then for quotes twice
    refused = [
        api.post("/breeze/depth", QUOTE, format="json", **{KEY_HEADER: raw}) for _ in range(2)
    ]
    served = [
        api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw}) for _ in range(2)
    ]

    # Then the refusals cost nothing: both quotes are served
    assert [r.status_code for r in refused] == [HTTPStatus.FORBIDDEN] * 2
    assert [r.status_code for r in served] == [HTTPStatus.OK] * 2
    assert [r["RateLimit-Remaining"] for r in served] == ["1", "0"]
