"""Authentication, checksum and envelope behaviour of the simulator (plain HTTP, no SDK)."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.client import customer_details, login, sdk_body, v1_headers, v2_headers
from breeze_sim.protocol import checksum

QUOTE = {"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"}


def get_quotes(sim: SimulatorServer, token: str, body: str, **overrides: str) -> dict:
    headers = v1_headers(
        body, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )
    headers.update(overrides)
    response = requests.get(
        sim.api_url + "quotes", data=body.encode("utf-8"), headers=headers, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def test_checksum_matches_documented_vector() -> None:
    body = '{"stock_code":"RELIND","exchange_code":"NSE","product_type":"cash"}'
    value = checksum("2026-11-29T03:13:04.000Z", body, "SECRET")
    assert value.startswith("token 65efaa91")
    assert value.endswith("2c61a2")


def test_customerdetails_success_and_token_shape(sim: SimulatorServer) -> None:
    api_session = sim.issue_session()
    assert api_session.isdigit()
    assert len(api_session) == 8
    answer = customer_details(sim.api_url, api_session, DEFAULT_API_KEY)
    assert answer["Status"] == 200
    assert answer["Error"] is None
    success = answer["Success"]
    user, key = base64.b64decode(success["session_token"]).decode().split(":")
    assert user == success["idirect_userid"] == "SIM0001"
    assert key
    # the same api_session exchanged again yields the same session key (not single-use)
    again = customer_details(sim.api_url, api_session, DEFAULT_API_KEY)
    assert again["Success"]["session_token"] == success["session_token"]


@pytest.mark.parametrize(
    ("api_key", "api_session", "error"),
    [
        ("wrong-key", None, "Public Key does not exist."),
        (DEFAULT_API_KEY, "not-issued", "Invalid session."),
    ],
)
def test_customerdetails_errors(
    sim: SimulatorServer, api_key: str, api_session: str | None, error: str
) -> None:
    answer = customer_details(sim.api_url, api_session or sim.issue_session(), api_key)
    assert answer == {"Success": None, "Status": 500, "Error": error}


def test_customerdetails_non_json_body(sim: SimulatorServer) -> None:
    response = requests.get(sim.api_url + "customerdetails", data=b"not json", timeout=10)
    assert response.json() == {
        "Success": None,
        "Status": 500,
        "Error": "Invalid request body: expected a JSON object.",
    }


def test_single_use_sessions() -> None:
    with SimulatorServer(single_use_sessions=True) as sim:
        api_session = sim.issue_session("55554444")
        first = customer_details(sim.api_url, api_session, DEFAULT_API_KEY)
        assert first["Status"] == 200
        second = customer_details(sim.api_url, api_session, DEFAULT_API_KEY)
        assert second == {"Success": None, "Status": 500, "Error": "Request Object is Null"}


def test_expire_sessions_expires_tokens_and_keys() -> None:
    with SimulatorServer() as sim:
        api_session = sim.issue_session()
        token = login(sim.api_url, api_session, DEFAULT_API_KEY)
        assert get_quotes(sim, token, sdk_body(QUOTE))["Status"] == 200
        sim.expire_sessions()
        expired = {"Success": None, "Status": 500, "Error": "Resource not available."}
        assert get_quotes(sim, token, sdk_body(QUOTE)) == expired
        assert customer_details(sim.api_url, api_session, DEFAULT_API_KEY) == expired
        fresh = sim.issue_session()  # next morning's login works again
        assert customer_details(sim.api_url, fresh, DEFAULT_API_KEY)["Status"] == 200


def test_checksum_covers_raw_bytes_not_reserialised_json(sim: SimulatorServer, token: str) -> None:
    spaced = json.dumps(QUOTE, indent=2)  # valid JSON, different bytes from the SDK's form
    assert get_quotes(sim, token, spaced)["Status"] == 200
    # signed over the compact form but sending the spaced form must fail
    headers = v1_headers(
        sdk_body(QUOTE), api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )
    response = requests.get(sim.api_url + "quotes", data=spaced, headers=headers, timeout=10)
    assert response.json() == {"Success": None, "Status": 500, "Error": "Invalid checksum."}


def test_v1_validation_order(sim: SimulatorServer, token: str) -> None:
    body = sdk_body(QUOTE)
    assert get_quotes(sim, token, body, **{"X-AppKey": "other"})["Error"] == (
        "Public Key does not exist."
    )
    assert get_quotes(sim, token, body, **{"X-Checksum": "token 00"})["Error"] == (
        "Invalid checksum."
    )
    bogus = base64.b64encode(b"SIM0001:99999999").decode()
    assert get_quotes(sim, bogus, body)["Error"] == "Invalid session."
    assert get_quotes(sim, "%%%not-base64", body)["Error"] == "Invalid session."
    assert get_quotes(sim, token, "[1, 2]") == {
        "Success": None,
        "Status": 500,
        "Error": "Invalid request body: expected a JSON object.",
    }


def test_v2_auth(sim: SimulatorServer, token: str) -> None:
    params = {
        "interval": "1day",
        "from_date": "2025-02-03T00:00:00.000Z",
        "to_date": "2025-02-07T00:00:00.000Z",
        "stock_code": "TCS",
        "exch_code": "NSE",
        "product_type": "cash",
    }
    url = sim.api_v2_url + "historicalcharts"
    good = requests.get(
        url,
        params=params,
        timeout=10,
        headers=v2_headers(api_key=DEFAULT_API_KEY, session_token=token),
    )
    assert good.text.startswith('{"Error": null, "Status": 200, "Success": [')
    assert len(good.json()["Success"]) == 5
    bad_key = requests.get(
        url, params=params, timeout=10, headers=v2_headers(api_key="x", session_token=token)
    )
    assert bad_key.json()["Error"] == "Public Key does not exist."
    bad_session = requests.get(
        url,
        params=params,
        timeout=10,
        headers=v2_headers(api_key=DEFAULT_API_KEY, session_token="x"),
    )
    assert bad_session.json()["Error"] == "Invalid session."


def test_unknown_route_and_wrong_method(sim: SimulatorServer) -> None:
    assert requests.get(sim.api_url + "funds", timeout=10).status_code == 404
    response = requests.post(sim.api_url + "customerdetails", data="{}", timeout=10)
    assert response.status_code == 405
