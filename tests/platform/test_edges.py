"""Edge inputs through the whole Django stack (every middleware, the market front door, DRF):
each is refused with a 4xx in the envelope, never a 500, and never costs a call to Breeze.

Table-driven: calendar edges in every date form the proxy accepts, on every date field
(``from_date``/``to_date`` of /breeze/historical, ``expiry_date`` of quotes, depth, batch items
and option chains); JSON nested 1,000 and 100,000 levels deep, as arrays and as objects, on
every POST endpoint (batch and the admin API included).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from http import HTTPStatus

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

ENVELOPE = {"error", "message", "details", "code"}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LONG_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


# --- dates -----------------------------------------------------------------------------------


def every_form(year: int, month: int, day: int) -> list[str]:
    """The day written in every form ``market.validation.parse_date_or_datetime`` accepts."""
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    times = [
        "",
        "T09:15",
        " 09:15",
        "T00:00:00",
        " 23:59:59",
        "T09:15:00.5",
        "T09:15:00.000000",
        "T09:15:00.000Z",
        "T09:15:00Z",
        "T00:00:00+05:30",
        "T23:59:59-05:00",
        "T12:00:00+00:00",
        " 12:00+14:00",
    ]
    return [
        *(iso + suffix for suffix in times),
        f"{day:02d}-{MONTHS[month - 1]}-{year:04d}",
        f"{day}-{LONG_MONTHS[month - 1]}-{year:04d}",
        f"{day:02d}/{month:02d}/{year:04d}",
        f" {iso} ",  # surrounding space is accepted too
    ]


def _far_future() -> tuple[int, int, int]:
    return (date.today().year + 40, 6, 15)


# Every day here is outside both windows: history (2000-01-01 to tomorrow, IST) and expiries
# (2000-01-01 to five years ahead).
EDGE_DAYS = {
    "year 1": (1, 1, 1),
    "year 999": (999, 12, 31),
    "before 2000": (1999, 12, 30),  # in every form, -05:00 included, still 1999 in IST
    "far future": _far_future(),
    "year 9999": (9999, 12, 31),
}
EDGE_DATES = sorted(
    {text for day in EDGE_DAYS.values() for text in every_form(*day)}
    | {
        "0001-01-01T00:00:00+05:30",  # IST of year 1 is before datetime.min in UTC
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-05:00",  # IST of it is in year 10000
        "9999-12-31T23:59:59.999999-12:00",
        "1999-12-31T23:59:59",
        "31/12/1999",
    }
)
# Each case: the endpoint, the body with the date at ``{date}``, and where the error is named.
DATE_FIELDS = {
    "historical from_date": (
        "/breeze/historical",
        {"stock_code": "RELIND", "from_date": "{date}", "to_date": "2025-02-03"},
        "from_date",
    ),
    "historical to_date": (
        "/breeze/historical",
        {"stock_code": "RELIND", "from_date": "2025-02-03", "to_date": "{date}"},
        "to_date",
    ),
    "quote expiry_date": (
        "/breeze/quotes",
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "futures",
            "expiry_date": "{date}",
        },
        "expiry_date",
    ),
    "depth expiry_date": (
        "/api/breeze/depth",
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "options",
            "right": "call",
            "strike_price": "24000",
            "expiry_date": "{date}",
        },
        "expiry_date",
    ),
    "option-chain expiry_date": (
        "/breeze/option-chain",
        {"stock_code": "NIFTY", "expiry_date": "{date}", "right": "call"},
        "expiry_date",
    ),
}


def _with_date(body: dict, text: str) -> dict:
    return {key: (text if value == "{date}" else value) for key, value in body.items()}


def _assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == ENVELOPE, data
    assert data["code"] == code, data
    assert data["error"] == data["message"]
    return data


@pytest.fixture
def calls(sim, live_session):
    """Upstream calls so far (a live session is there, so nothing is refused for lack of one)."""
    return lambda: sim.stats()["total_calls"]


@pytest.mark.parametrize("field", sorted(DATE_FIELDS))
def test_calendar_edges_are_400_on_every_date_field(api, calls, field):
    path, body, name = DATE_FIELDS[field]
    before = calls()
    failures = []
    for text in EDGE_DATES:
        response = api.post(path, _with_date(body, text), format="json")
        try:
            data = _assert_refused(response, HTTPStatus.BAD_REQUEST, "invalid_request")
            assert name in json.dumps(data["details"]), data
        except AssertionError as exc:
            failures.append(f"{text!r}: {exc}")

    assert not failures, "\n".join(failures)
    assert calls() == before, "an edge date reached Breeze"


def test_calendar_edges_in_batch_items_fail_only_their_item(api, calls):
    items = [
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "futures",
            "expiry_date": text,
        }
        for text in EDGE_DATES[:50]
    ]
    before = calls()

    response = api.post("/breeze/quotes/batch", {"instruments": items}, format="json")

    assert response.status_code == HTTPStatus.OK, response.content[:500]
    results = response.json()["results"]
    assert [item["status"] for item in results] == [HTTPStatus.BAD_REQUEST] * len(items)
    assert {item["error"]["code"] for item in results} == {"invalid_request"}
    assert all(set(item["error"]) == ENVELOPE for item in results)
    assert calls() == before


def test_the_day_before_breeze_history_begins_is_400_not_502(api, calls):
    before = calls()

    response = api.post(
        "/breeze/historical",
        {"stock_code": "RELIND", "from_date": "1999-12-31", "to_date": "2000-01-05"},
        format="json",
    )

    data = _assert_refused(response, HTTPStatus.BAD_REQUEST, "invalid_request")
    assert "2000-01-01" in data["message"]
    assert calls() == before


def test_the_edges_of_the_windows_themselves_are_accepted(api, calls):
    """The table above is not refusing everything: the last day of each window passes
    validation (whatever Breeze then answers, it is not a 400 or a 500)."""
    tomorrow = date.today() + timedelta(days=1)
    history = api.post(
        "/breeze/historical",
        {"stock_code": "RELIND", "from_date": "2000-01-03", "to_date": tomorrow.isoformat()},
        format="json",
    )
    assert history.status_code not in (HTTPStatus.BAD_REQUEST, HTTPStatus.INTERNAL_SERVER_ERROR)
    assert history.status_code != HTTPStatus.BAD_GATEWAY, history.content[:300]


# --- deeply nested JSON ---------------------------------------------------------------------


def _post_endpoints() -> list[str]:
    """Every /breeze/ route that takes POST, read from the URL configuration."""
    found: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("breeze/"):
                callback = pattern.callback
                actions = getattr(callback, "actions", None) or {}
                view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
                takes_post = "post" in actions or (not actions and hasattr(view_class, "post"))
                if takes_post and "<" not in route:
                    found.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


POST_ENDPOINTS = _post_endpoints()


def test_the_post_endpoints_are_all_found():
    assert {
        "/breeze/quotes",
        "/breeze/quotes/batch",
        "/breeze/depth",
        "/breeze/historical",
        "/breeze/option-chain",
        "/breeze/admin/api-session",
    } <= set(POST_ENDPOINTS)


def _arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def _objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _inside_a_field(depth: int) -> str:
    return '{"stock_code": ' + _arrays(depth) + "}"


def _inside_batch(depth: int) -> str:
    return '{"instruments": [' + _objects(depth) + "]}"


def _unclosed(depth: int) -> str:
    return "[" * depth


NESTINGS = {
    "arrays x1000": _arrays(1000),
    "objects x1000": _objects(1000),
    "mixed x1000": '[{"a":' * 500 + "1" + "}]" * 500,
    "in a field x1000": _inside_a_field(1000),
    "in a batch item x1000": _inside_batch(1000),
    "unclosed x1000": _unclosed(1000),
    "arrays x100000": _arrays(100_000),
    "objects x100000": _objects(100_000),
    "in a field x100000": _inside_a_field(100_000),
    "unclosed x100000": _unclosed(100_000),
}


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_deep_json_is_400_malformed_on_every_post_endpoint(api, calls, settings, path):
    """With MAX_REQUEST_BYTES raised so that even 100,000 levels (200-600 KB) reach the parser:
    each is refused by the depth bound, never by the interpreter's recursion limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    before = calls()
    failures = []
    for name, body in NESTINGS.items():
        response = api.generic(
            "POST",
            path,
            body,
            content_type="application/json",
            HTTP_X_PROXY_ADMIN_KEY=settings.BREEZE_PROXY_ADMIN_KEY,
        )
        try:
            _assert_refused(response, HTTPStatus.BAD_REQUEST, "malformed_request")
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")

    assert not failures, "\n".join(failures)
    assert calls() == before


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_deep_json_over_the_size_limit_is_413_first(api, calls, settings, path):
    """At the default MAX_REQUEST_BYTES (64 KiB), 100,000 levels do not fit: 413, unparsed."""
    before = calls()
    for name in ("arrays x100000", "objects x100000"):
        response = api.generic(
            "POST",
            path,
            NESTINGS[name],
            content_type="application/json",
            HTTP_X_PROXY_ADMIN_KEY=settings.BREEZE_PROXY_ADMIN_KEY,
        )
        _assert_refused(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large")
    assert calls() == before
