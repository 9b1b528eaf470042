"""Fair use of Breeze's budget: a key is charged per upstream call its requests cause (batch
items included), never more than its share of the day or the minute, and the other keys are
served meanwhile. Answers say what they cost (X-Upstream-Calls)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from bench.workload import option_quotes
from tests.access.conftest import KEY_HEADER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keys_required")]


def _batch(api, raw: str, bodies: list[dict]) -> dict:
    response = api.post(
        "/breeze/quotes/batch", {"instruments": bodies}, format="json", **{KEY_HEADER: raw}
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return response


def test_batch_heavy_key_never_spends_more_than_its_daily_share(api, live_session, sim, make_key):
    # Given a batch-heavy key whose share of the day is 30 Breeze calls, and another key
    heavy, heavy_raw = make_key("batch-heavy", quota=10_000)
    heavy.calls_per_day = 30
    heavy.save()
    _, other_raw = make_key("dashboard")
    options = option_quotes()
    calls_before = sim.stats()["total_calls"]

    # When the heavy key sends four batches of 20 distinct instruments (80 upstream calls asked)
    answers = [_batch(api, heavy_raw, options[n * 20 : (n + 1) * 20]) for n in range(4)]
    heavy_calls = sim.stats()["total_calls"] - calls_before
    items = [item for answer in answers for item in answer.json()["results"]]

    # Then it was charged per upstream call and stopped at its share...
    assert heavy_calls == 30
    assert sum(int(a["X-Upstream-Calls"]) for a in answers) == 30
    assert [item["status"] for item in items].count(HTTPStatus.OK) == 30
    refused = [item for item in items if item["status"] == HTTPStatus.TOO_MANY_REQUESTS]
    assert len(refused) == 50
    assert {item["error"]["code"] for item in refused} == {"client_budget_exhausted"}
    # ... while another key is still served from the same fleet
    other = api.post(
        "/breeze/quotes", {"stock_code": "TCS"}, format="json", **{KEY_HEADER: other_raw}
    )
    assert other.status_code == HTTPStatus.OK
    assert other["X-Upstream-Calls"] == "1"
    # ... and cached answers cost the heavy key nothing, so it can still read them
    again = _batch(api, heavy_raw, options[:20])
    assert {item["status"] for item in again.json()["results"][:20]} == {HTTPStatus.OK}
    assert again["X-Upstream-Calls"] == "0"


def test_a_key_may_take_only_its_share_of_the_minute(api, live_session, sim, make_key, settings):
    settings.BREEZE_KEY_CALLS_PER_MINUTE = 5
    _, greedy = make_key("greedy", quota=10_000)
    _, polite = make_key("polite")
    options = option_quotes()

    items = _batch(api, greedy, options[:12]).json()["results"]
    polite_answer = api.post("/breeze/quotes", options[20], format="json", **{KEY_HEADER: polite})

    assert [item["status"] for item in items].count(HTTPStatus.OK) == 5
    assert polite_answer.status_code == HTTPStatus.OK


def test_single_quote_says_what_it_cost(api, live_session, make_key):
    _, raw = make_key()
    first = api.post("/breeze/quotes", {"stock_code": "INFTEC"}, format="json", **{KEY_HEADER: raw})
    second = api.post(
        "/breeze/quotes", {"stock_code": "INFTEC"}, format="json", **{KEY_HEADER: raw}
    )

    assert (first["X-Upstream-Calls"], second["X-Upstream-Calls"]) == ("1", "0")
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")


def test_keyless_callers_are_limited_per_address_the_same_way(api, live_session, settings, sim):
    settings.BREEZE_REQUIRE_CLIENT_KEY = False
    settings.BREEZE_OPEN_CALLS_PER_DAY = 3
    options = option_quotes()

    answers = [
        api.post("/breeze/quotes", body, format="json", REMOTE_ADDR="192.0.2.7")
        for body in options[:5]
    ]
    elsewhere = api.post("/breeze/quotes", options[6], format="json", REMOTE_ADDR="192.0.2.8")

    assert [a.status_code for a in answers] == [200] * 3 + [429] * 2
    assert answers[-1].json()["code"] == "client_budget_exhausted"
    assert elsewhere.status_code == HTTPStatus.OK
