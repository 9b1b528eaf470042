"""Every validation rule: a clear 400 in the envelope, and never a call upstream."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db

OPT = {
    "stock_code": "NIFTY",
    "exchange_code": "NFO",
    "product_type": "options",
    "expiry_date": "2030-01-29",
    "right": "call",
    "strike_price": "24000",
}
HIST = {"stock_code": "RELIND", "from_date": "2025-01-01", "to_date": "2025-01-31"}
CHAIN = {"stock_code": "NIFTY", "expiry_date": "2030-01-29", "right": "call"}

CASES = [
    # quotes / depth
    ("quotes", {}, "stock_code"),
    ("quotes", {"stock_code": ""}, "stock_code"),
    ("quotes", {"stock_code": "REL;DROP"}, "stock_code"),
    ("quotes", {"stock_code": "X" * 31}, "stock_code"),
    ("quotes", {"stock_code": 42}, "stock_code"),
    ("quotes", {"stock_code": "RELIND", "exchange_code": "NYSE"}, "exchange_code"),
    ("quotes", {"stock_code": "RELIND", "product_type": "margin"}, "product_type"),
    ("quotes", {"stock_code": "RELIND", "right": "call"}, "right"),
    ("quotes", {"stock_code": "RELIND", "expiry_date": "2030-01-29"}, "expiry_date"),
    ("quotes", {"stock_code": "RELIND", "product_type": "options"}, "exchange_code"),
    ("quotes", {**OPT, "product_type": "cash"}, "product_type"),
    ("quotes", {**OPT, "expiry_date": ""}, "expiry_date"),
    ("quotes", {**OPT, "expiry_date": "29/13/2030"}, "expiry_date"),
    ("quotes", {**OPT, "expiry_date": "tomorrow"}, "expiry_date"),
    ("quotes", {**OPT, "right": "sideways"}, "right"),
    ("quotes", {**OPT, "right": "others"}, "right"),
    ("quotes", {**OPT, "strike_price": ""}, "strike_price"),
    ("quotes", {**OPT, "strike_price": "abc"}, "strike_price"),
    ("quotes", {**OPT, "strike_price": "-5"}, "strike_price"),
    ("quotes", {**OPT, "strike_price": "NaN"}, "strike_price"),
    ("quotes", {**OPT, "strike_price": True}, "strike_price"),
    ("quotes", {"stock_code": "RELIND", "stockcode": "TCS"}, "stockcode"),
    ("depth", {"stock_code": "RELIND", "exchange_code": "LSE"}, "exchange_code"),
    # historical
    ("historical", {**HIST, "interval": "2minute"}, "interval"),
    ("historical", {**HIST, "interval": ""}, "interval"),
    ("historical", {"stock_code": "RELIND", "to_date": "2025-01-31"}, "from_date"),
    ("historical", {"stock_code": "RELIND", "from_date": "2025-01-01"}, "to_date"),
    ("historical", {**HIST, "from_date": "2025-02-30"}, "from_date"),
    ("historical", {**HIST, "from_date": "01/2025"}, "from_date"),
    ("historical", {**HIST, "from_date": "2025-02-01", "to_date": "2025-01-01"}, "to_date"),
    ("historical", {**HIST, "exchange_code": "XYZ"}, "exchange_code"),
    ("historical", {**HIST, "exchange_code": "NFO"}, "product_type"),
    ("historical", {**HIST, "exchange_code": "NFO", "product_type": "futures"}, "expiry_date"),
    (
        "historical",
        {**HIST, **{k: v for k, v in OPT.items() if k != "strike_price"}},
        "strike_price",
    ),
    ("historical", {**HIST, "product_type": "mtf"}, "product_type"),
    # option chain
    ("option-chain", {"stock_code": "NIFTY"}, "non_field_errors"),
    ("option-chain", {"stock_code": "NIFTY", "expiry_date": "2030-01-29"}, "non_field_errors"),
    ("option-chain", {"stock_code": "NIFTY", "right": "put"}, "non_field_errors"),
    ("option-chain", {"stock_code": "NIFTY", "strike_price": "24000"}, "non_field_errors"),
    ("option-chain", {**CHAIN, "exchange_code": "NSE"}, "exchange_code"),
    ("option-chain", {**CHAIN, "product_type": "cash"}, "product_type"),
    ("option-chain", {**CHAIN, "right": "up"}, "right"),
    ("option-chain", {"stock_code": "NIFTY", "product_type": "futures"}, "expiry_date"),
    ("option-chain", {**CHAIN, "stock_code": ""}, "stock_code"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES)
def test_invalid_input_is_400_with_field_and_no_upstream_call(
    api, live_session, sim, path, body, field
):
    calls_before = sim.stats()["total_calls"]

    response = api.post(f"/breeze/{path}", body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    payload = response.json()
    assert set(payload) == {"error", "message", "details", "code"}
    assert payload["code"] == "invalid_request"
    assert payload["error"] == payload["message"]
    assert field in payload["details"]
    assert sim.stats()["total_calls"] == calls_before


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        ("{not json", "application/json", HTTPStatus.BAD_REQUEST, "malformed_request"),
        ("[1, 2]", "application/json", HTTPStatus.BAD_REQUEST, "invalid_request"),
        ('"RELIND"', "application/json", HTTPStatus.BAD_REQUEST, "invalid_request"),
        (
            "stock_code=RELIND",
            "application/x-www-form-urlencoded",
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        ("", "application/json", HTTPStatus.BAD_REQUEST, "invalid_request"),
    ],
)
def test_malformed_bodies_are_4xx_envelopes(api, live_session, content, content_type, status, code):
    response = api.generic("POST", "/breeze/quotes", content, content_type=content_type)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code


def test_wrong_method_and_unknown_path_use_the_envelope(api):
    wrong = api.get("/breeze/quotes", HTTP_ACCEPT="application/json")
    missing = api.get("/breeze/nothing-here")

    assert wrong.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert wrong.json()["code"] == "method_not_allowed"
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert missing.json()["code"] == "not_found"


def test_oversized_body_is_refused(api, live_session):
    huge = '{"stock_code": "RELIND", "pad": "' + "x" * 200_000 + '"}'

    response = api.generic("POST", "/breeze/quotes", huge, content_type="application/json")

    assert response.status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    assert "code" in response.json()
