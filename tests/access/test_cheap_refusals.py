"""Callers without a valid key cost next to nothing: a made-up key is refused from the store
(a negative entry) or, past a per-address and a fleet-wide limit of lookups, before any
database work; health is served from the store."""

from __future__ import annotations

import secrets
import time
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]


def _made_up_key() -> str:
    return "bzp_" + secrets.token_urlsafe(32)


def test_thousand_unknown_keys_from_one_address_cost_a_few_queries(api, live_session, settings):
    settings.BREEZE_KEY_LOOKUPS_PER_MINUTE = 30
    elapsed: list[float] = []
    with CaptureQueriesContext(connection) as queries:
        answers = []
        for _ in range(1000):
            started = time.perf_counter()
            answers.append(
                api.post(
                    "/breeze/quotes",
                    QUOTE,
                    format="json",
                    REMOTE_ADDR="198.51.100.66",
                    **{KEY_HEADER: _made_up_key()},
                )
            )
            elapsed.append(time.perf_counter() - started)

    key_queries = [q for q in queries.captured_queries if "access_clientkey" in q["sql"]]
    codes = [a.json()["code"] for a in answers]
    assert len(key_queries) == 30  # the first few, then none
    assert codes[:30] == ["client_key_invalid"] * 30
    assert set(codes[30:]) == {"client_key_lookups_limited"}
    assert all(a.status_code == HTTPStatus.TOO_MANY_REQUESTS for a in answers[30:])
    assert all(1 <= int(a["Retry-After"]) <= 60 for a in answers[30:])
    elapsed.sort()
    print(f"\n[unknown keys] 1000 requests, {len(key_queries)} key queries, "
          f"p50 {elapsed[500] * 1000:.2f} ms, p99 {elapsed[990] * 1000:.2f} ms")  # fmt: skip


def test_unknown_keys_spread_over_many_addresses_hit_the_fleet_limit(api, live_session, settings):
    settings.BREEZE_KEY_LOOKUPS_GLOBAL_PER_MINUTE = 50
    with CaptureQueriesContext(connection) as queries:
        answers = [
            api.post(
                "/breeze/quotes",
                QUOTE,
                format="json",
                REMOTE_ADDR=f"2001:db8::{n + 1:x}",
                **{KEY_HEADER: _made_up_key()},
            )
            for n in range(300)
        ]

    key_queries = [q for q in queries.captured_queries if "access_clientkey" in q["sql"]]
    assert len(key_queries) == 50
    assert {a.json()["code"] for a in answers[50:]} == {"client_key_lookups_limited"}


def test_a_repeated_unknown_key_is_refused_from_the_store(api, live_session):
    made_up = _made_up_key()
    with CaptureQueriesContext(connection) as queries:
        answers = [
            api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: made_up})
            for _ in range(200)
        ]

    assert {a.json()["code"] for a in answers} == {"client_key_invalid"}
    assert len([q for q in queries.captured_queries if "access_clientkey" in q["sql"]]) == 1


def test_a_real_key_still_works_while_an_address_floods_made_up_keys(
    api, live_session, make_key, settings
):
    settings.BREEZE_KEY_LOOKUPS_PER_MINUTE = 5
    _, raw = make_key()
    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})  # known from now on
    for _ in range(20):
        api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: _made_up_key()})

    response = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})

    assert response.status_code == HTTPStatus.OK


def test_health_is_served_from_the_store(api, live_session, django_assert_num_queries):
    api.get("/breeze/health")
    with django_assert_num_queries(0):
        bodies = [api.get("/breeze/health").json() for _ in range(50)]

    assert all(body["session_active"] for body in bodies)
