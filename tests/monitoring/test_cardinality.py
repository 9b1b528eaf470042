"""Label values are bounded by construction: whatever paths, symbols, methods and keys callers
send, the route label only takes URL pattern names, the method label a fixed set, the status
label a fixed set, the key label the keys' names (capped per process)."""

from __future__ import annotations

import secrets

from django.urls import URLPattern, URLResolver, get_resolver

from breeze import telemetry
from monitoring import routes


def _pattern_names(patterns, inside_admin=False) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _pattern_names(
                pattern.url_patterns, inside_admin or pattern.app_name == "admin"
            )
        elif isinstance(pattern, URLPattern) and pattern.name and not inside_admin:
            names.add(pattern.name)
    return names


def test_labels_stay_bounded_whatever_callers_send(api, live_session, make_key, scrape):
    _, raw = make_key("frontend")
    junk = [secrets.token_hex(6) for _ in range(120)]
    before = scrape()  # other tests of this process have counted other keys' names
    earlier_keys = before.label_values("breeze_client_requests_total", "key")
    earlier_keys |= before.label_values("breeze_client_refusals_total", "key")

    for index, word in enumerate(junk):
        api.get(f"/{word}/{index}")  # unmatched paths
        api.get(f"/breeze/{word}")
        api.post("/breeze/quotes", {"stock_code": word.upper()[:8]}, format="json")
        api.generic("BREW" if index % 2 else "PURGE", f"/breeze/quotes?{word}=1")
        api.post(
            "/breeze/quotes",
            {"stock_code": "RELIND"},
            format="json",
            HTTP_X_PROXY_KEY=f"bzp_{word}" if index % 3 else word,
        )
    api.post("/breeze/quotes", {"stock_code": "RELIND"}, format="json", HTTP_X_PROXY_KEY=raw)
    api.get("/static/admin/css/base.css")
    api.get("/admin/login/")
    metrics = scrape()

    allowed_routes = _pattern_names(get_resolver().url_patterns) | {
        routes.UNMATCHED,
        routes.ADMIN,
        routes.STATIC,
    }
    seen_routes = metrics.label_values("breeze_http_requests_total", "route")
    assert seen_routes <= allowed_routes
    assert {"quotes", "unmatched", "admin"} <= seen_routes
    assert metrics.label_values("breeze_http_requests_total", "method") <= set(
        telemetry.METHODS
    ) | {"other"}
    statuses = metrics.label_values("breeze_http_requests_total", "status")
    assert all((s.isdigit() and int(s) in telemetry.STATUSES) or s.endswith("xx") for s in statuses)
    keys = metrics.label_values("breeze_client_requests_total", "key")
    keys |= metrics.label_values("breeze_client_refusals_total", "key")
    assert keys - earlier_keys <= {"frontend", "anonymous", "admin-key", "unknown", "none", "other"}
    for name, samples in metrics.samples.items():
        for labels, _ in samples:
            for value in labels.values():
                assert not any(word in value for word in junk), (name, labels)
                assert "/" not in value, (name, labels)
    # Every series of the request counter is one of routes x methods x statuses.
    series = len(metrics.samples["breeze_http_requests_total"])
    assert series <= len(allowed_routes) * (len(telemetry.METHODS) + 1) * (
        len(telemetry.STATUSES) + 5
    )


def test_distinct_key_names_are_capped_per_process():
    bounded = telemetry._Bounded(3)

    names = [bounded(f"key-{index}") for index in range(10)]

    assert names[:3] == ["key-0", "key-1", "key-2"]
    assert set(names[3:]) == {"other"}
    assert bounded("key-1") == "key-1"


def test_route_names_cover_both_prefixes(rf):
    request = rf.post("/api/breeze/quotes")

    assert routes.route_name(request) == "quotes"
    assert routes.route_name(rf.post("/breeze/quotes")) == "quotes"
    assert routes.route_name(rf.get("/metrics")) == "metrics"
    assert routes.route_name(rf.get("/static/x.css")) == "static"
    assert routes.route_name(rf.get("/x/y/z")) == "unmatched"
