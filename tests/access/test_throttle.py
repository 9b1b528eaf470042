"""Per-key quotas: 429 with Retry-After and RateLimit-* headers, one count for every worker."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from access.quota import RateLimited
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


def test_quota_is_shared_by_every_worker(make_key):
    # Given one key's quota of 3, counted by the gate in the shared store as each worker does
    from access import gate

    _, raw = make_key(quota=3)

    def ask():
        return gate.admit(raw, source_ip="198.51.100.1", origin=None, scope="quotes")

    # When four requests arrive (whichever worker takes them)
    spent = [ask().rate.remaining for _ in range(3)]

    # Then the fourth is refused until the window ends
    assert spent == [2, 1, 0]
    with pytest.raises(RateLimited) as refused:
        ask()
    assert refused.value.status_code == HTTPStatus.TOO_MANY_REQUESTS
