"""``GET /breeze/metrics``: who may read it (the admin key, or a client key with the ``metrics``
scope) and what it says (here on the local-memory store of one process; the fleet case, two
real instances on Redis, is in test_two_instances.py)."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest

from access.models import SCOPES

IST_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+05:30$")


def _metrics(api, **headers):
    return api.get("/breeze/metrics", **headers)


# --- access -------------------------------------------------------------------------------------


def test_the_admin_key_reads_the_metrics(api, admin_key, keys_required):
    response = _metrics(api, HTTP_X_PROXY_ADMIN_KEY=admin_key)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"


def test_the_admin_key_in_the_client_key_header_reads_them_too(api, admin_key, keys_required):
    assert _metrics(api, HTTP_X_PROXY_KEY=admin_key).status_code == HTTPStatus.OK


def test_a_wrong_admin_key_is_refused(api, keys_required):
    response = _metrics(api, HTTP_X_PROXY_ADMIN_KEY="not-the-admin-key")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_a_client_key_needs_the_metrics_scope(api, make_key, keys_required):
    _, with_scope = make_key("grafana", scopes=("metrics",))
    _, without = make_key("frontend", scopes=("quotes", "depth"))

    allowed = _metrics(api, HTTP_X_PROXY_KEY=with_scope)
    refused = _metrics(api, HTTP_X_PROXY_KEY=without)

    assert allowed.status_code == HTTPStatus.OK
    assert "RateLimit-Limit" in allowed
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert refused.json()["code"] == "scope_denied"
    assert refused.json()["details"] == {"required_scope": "metrics"}


def test_no_key_is_refused_where_keys_are_required(api, keys_required):
    response = _metrics(api)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "client_key_required"


def test_metrics_is_a_scope_keys_only_get_when_given(make_key):
    assert "metrics" in SCOPES
    key, _ = make_key("old-frontend", scopes=("quotes", "depth", "historical"))

    key.refresh_from_db()
    assert "metrics" not in key.scope_list


# --- what it says -------------------------------------------------------------------------------


def test_the_figures_follow_the_requests(api, live_session, admin_key):
    for _ in range(4):
        assert (
            api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json").status_code == 200
        )
    api.post("/breeze/quotes", {"stock_code": ""}, format="json")  # 400
    api.get("/missing")  # 404

    body = _metrics(api, HTTP_X_PROXY_ADMIN_KEY=admin_key).json()

    assert IST_TIME.match(body["generated_at"])
    last5, last60 = body["windows"]["5m"], body["windows"]["60m"]
    quotes = last5["endpoints"]["quotes"]
    assert quotes["count"] == 5
    assert quotes["4xx"] == 1
    assert quotes["5xx"] == 0
    assert quotes["p50_ms"] is not None
    assert quotes["p50_ms"] <= quotes["p95_ms"] <= quotes["p99_ms"]
    assert quotes["per_minute"] > 0
    assert last5["endpoints"]["unmatched"]["4xx"] == 1
    assert last5["requests"]["count"] >= 6
    assert last5["requests"]["4xx_rate"] > 0
    assert last60["endpoints"]["quotes"]["count"] == 5
    assert last5["cache"]["misses"] == 1
    assert last5["cache"]["hits"] == 3
    assert last5["cache"]["hit_ratio"] == 0.75
    assert last5["upstream"]["operations"]["quote"]["calls"] == 1
    assert last5["upstream"]["errors"] == 0
    assert body["budget"]["minute"]["used"] >= 1
    assert body["budget"]["day"]["limit"] > 0
    assert body["breaker"] == {"state": "closed"}
    assert body["session"]["active"] is True
    assert IST_TIME.match(body["session"]["expires_at"])
    assert body["instances"]["count"] == 1
    instance = body["instances"]["live"][0]
    assert instance["rss_bytes"] > 10 * 1024 * 1024
    assert instance["cpu_percent"] >= 0
    assert "running" in body["stream"]
    assert len(body["timeline"]) == 60
    assert body["timeline"][-1]["requests"] >= 6
    assert set(body["market"]) == {"open", "seconds_to_open", "next_open"}


def test_the_stream_section_says_not_running_without_the_stream_app(monkeypatch):
    import builtins

    from monitoring import selectors

    real_import = builtins.__import__

    def no_stream(name, *args, **kwargs):
        if name.startswith("stream"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_stream)

    assert selectors.stream_state() == {"running": False}


@pytest.mark.parametrize("path", ["/breeze/metrics", "/api/breeze/metrics"])
def test_served_under_both_prefixes(api, admin_key, path):
    assert api.get(path, HTTP_X_PROXY_ADMIN_KEY=admin_key).status_code == HTTPStatus.OK
