"""Injected faults, observed through plain ``requests`` with timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.client import sdk_body, v1_headers, v2_headers

BODY = sdk_body({"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"})


@pytest.fixture(autouse=True)
def _no_faults(sim: SimulatorServer) -> Iterator[None]:
    sim.clear_faults()
    yield
    sim.clear_faults()


def quotes(sim: SimulatorServer, token: str, timeout: float = 5.0) -> requests.Response:
    headers = v1_headers(
        BODY, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )
    return requests.get(sim.api_url + "quotes", data=BODY, headers=headers, timeout=timeout)


def test_latency_fault(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("latency", latency_ms=300, count=1)
    started = time.perf_counter()
    assert quotes(sim, token).json()["Status"] == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    quotes(sim, token)
    assert time.perf_counter() - started < 0.3  # count=1: used up


def test_global_latency(sim: SimulatorServer, token: str) -> None:
    sim.configure(latency_ms=200)
    try:
        started = time.perf_counter()
        quotes(sim, token)
        assert time.perf_counter() - started >= 0.2
    finally:
        sim.configure(latency_ms=0)


def test_http_error_fault(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("http_error", status=502, count=1)
    response = quotes(sim, token)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text


def test_non_json_fault(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("non_json", count=1)
    response = quotes(sim, token)
    assert response.status_code == 200
    assert "Service Unavailable" in response.text
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_hang_fault_times_out(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("hang", count=1)
    with pytest.raises(requests.ReadTimeout):
        quotes(sim, token, timeout=0.3)
    assert quotes(sim, token).json()["Status"] == 200


def test_drop_fault(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("drop", count=1)
    with pytest.raises(requests.ConnectionError):
        quotes(sim, token)
    assert quotes(sim, token).json()["Status"] == 200


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "rate_limit",
            {
                "Success": None,
                "Status": 5,
                "Error": "Limit exceed: API call per minute:Try after some time",
            },
        ),
        ("expired", {"Success": None, "Status": 500, "Error": "Resource not available."}),
        (
            "breeze_error",
            {
                "Success": None,
                "Status": 500,
                "Error": "Error while calling service, Please contact admin (T2:154)",
            },
        ),
    ],
)
def test_envelope_faults(sim: SimulatorServer, token: str, mode: str, expected: dict) -> None:
    sim.set_fault(mode, count=1)
    assert quotes(sim, token).json() == expected
    assert quotes(sim, token).json()["Status"] == 200


def test_fault_limited_to_endpoints_and_count(sim: SimulatorServer, token: str) -> None:
    sim.set_fault("breeze_error", endpoints=["historicalcharts_v2"], count=2)
    assert quotes(sim, token).json()["Status"] == 200
    url = sim.api_v2_url + "historicalcharts"
    params = {
        "interval": "1day",
        "from_date": "2025-02-03T00:00:00.000Z",
        "to_date": "2025-02-03T00:00:00.000Z",
        "stock_code": "RELIND",
        "exch_code": "NSE",
    }
    headers = v2_headers(api_key=DEFAULT_API_KEY, session_token=token)
    statuses = [
        requests.get(url, params=params, headers=headers, timeout=5).json()["Status"]
        for _ in range(3)
    ]
    assert statuses == [500, 500, 200]
    assert sim.stats()["faults"] == []


def test_fault_validation(sim: SimulatorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        sim.set_fault("explode")
    with pytest.raises(ValueError, match="unknown endpoints"):
        sim.set_fault("hang", endpoints=["funds"])


def test_control_api_over_http(sim: SimulatorServer, token: str) -> None:
    control = sim.url + "/__sim__/"
    answer = requests.post(
        control + "faults",
        json={"mode": "http_error", "status": 500, "endpoints": ["quotes"], "count": 1},
        timeout=5,
    ).json()
    assert answer["faults"][0]["mode"] == "http_error"
    assert requests.get(control + "stats", timeout=5).json()["faults"][0]["count"] == 1
    assert quotes(sim, token).status_code == 500
    requests.post(control + "faults", json={"mode": "hang"}, timeout=5)
    assert requests.delete(control + "faults", timeout=5).json() == {"ok": True}
    assert quotes(sim, token).status_code == 200
    issued = requests.post(control + "sessions", json={"token": "11112222"}, timeout=5).json()
    assert issued == {"api_session": "11112222"}
    bad = requests.post(control + "faults", json={"mode": "nope"}, timeout=5)
    assert bad.status_code == 400
