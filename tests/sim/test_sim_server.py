"""Transport behaviour: keep-alive, stats, rate limits, shutdown, the zip and the CLI."""

from __future__ import annotations

import csv
import io
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import pytest
import requests

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim import state as state_module
from breeze_sim.client import login, sdk_body, v1_headers
from breeze_sim.state import SimState

BODY = sdk_body({"stock_code": "RELIND", "exchange_code": "NSE", "product_type": "cash"})
ROOT = Path(__file__).resolve().parents[2]


def signed(token: str) -> dict[str, str]:
    return v1_headers(
        BODY, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, session_token=token
    )


def test_keep_alive_reuses_one_connection() -> None:
    with SimulatorServer() as sim:
        token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
        sim.reset()
        with requests.Session() as session:
            for _ in range(20):
                answer = session.get(
                    sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=5
                )
                assert answer.json()["Status"] == 200
        stats = sim.stats()
        assert stats["connections_opened"] == 1
        assert stats["calls"]["quotes"] == 20
        assert stats["total_calls"] == 20
        assert stats["max_calls_in_60s"] == 20


def test_rate_limit_per_minute_and_per_day() -> None:
    with SimulatorServer(rate_per_min=5, rate_per_day=8) as sim:
        token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)  # call 1
        with requests.Session() as session:
            answers = [
                session.get(
                    sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=5
                ).json()
                for _ in range(6)
            ]
        assert [a["Status"] for a in answers] == [200, 200, 200, 200, 5, 5]
        assert answers[-1] == {
            "Success": None,
            "Status": 5,
            "Error": "Limit exceed: API call per minute:Try after some time",
        }
        other_key = requests.get(
            sim.api_url + "quotes",
            data=BODY,
            timeout=5,
            headers={**signed(token), "X-AppKey": "another-app"},
        ).json()
        assert other_key["Error"] == "Public Key does not exist."  # separate quota per AppKey
        stats = sim.stats()
        assert stats["rate_limited"] == 2
        assert stats["customerdetails_calls"] == 1
        sim.configure(rate_per_min=100)
        statuses = [
            requests.get(sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=5).json()
            for _ in range(4)
        ]
        assert [s["Status"] for s in statuses] == [200, 200, 200, 5]
        assert statuses[-1]["Error"] == "Limit exceed: API call per day: "
        sim.reset()  # clears rate counters too
        assert (
            requests.get(
                sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=5
            ).json()["Status"]
            == 200
        )


def test_concurrent_clients() -> None:
    with SimulatorServer() as sim:
        token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
        results: list[int] = []

        def worker() -> None:
            for _ in range(5):
                answer = requests.get(
                    sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=10
                )
                results.append(answer.json()["Status"])

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 40
        assert sim.stats()["calls"]["quotes"] == 40


def test_stop_is_prompt_with_a_hanging_request() -> None:
    sim = SimulatorServer().start()
    token = login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
    sim.set_fault("hang")
    errors: list[BaseException] = []

    def client() -> None:
        try:
            requests.get(sim.api_url + "quotes", data=BODY, headers=signed(token), timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.3)
    started = time.perf_counter()
    sim.stop()
    assert time.perf_counter() - started < 1.0
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert errors
    sim.stop()  # idempotent


def test_security_master_zip_layout(sim: SimulatorServer) -> None:
    before = sim.stats()["total_calls"]
    response = requests.get(sim.security_master_url, timeout=10)
    assert response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert {
        "NSEScripMaster.txt",
        "BSEScripMaster.txt",
        "FONSEScripMaster.txt",
        "FOBSEScripMaster.txt",
        "CDNSEScripMaster.txt",
        "MCXScripMaster.txt",
    } <= set(archive.namelist())
    lines = archive.read("NSEScripMaster.txt").decode().splitlines()
    assert lines[0].startswith('"Token", "ShortName", "Series", "CompanyName"')
    assert lines[0].endswith('"ExchangeCode"')
    assert lines[1].startswith('"2885","RELIND","EQ","RELIANCE INDUSTRIES",')
    assert lines[1].endswith('"RELIANCE"')
    assert any(line.startswith('"NIFTY 50","NIFTY","0","NIFTY 50"') for line in lines)
    assert any(line.startswith('"NIFTY BANK","CNXBAN"') for line in lines)
    fo = list(csv.reader(io.StringIO(archive.read("FONSEScripMaster.txt").decode())))
    assert fo[0][27:31] == ["LotSize", "TickSize", "CompanyName", "ExchangeCode"]
    rows = fo[1:]
    assert {r[1] for r in rows} == {"FUTIDX", "OPTIDX", "FUTSTK", "OPTSTK"}
    assert all(re.fullmatch(r"\d{2}-[A-Z][a-z]{2}-\d{4}", r[4]) for r in rows)
    assert {r[6] for r in rows} == {"XX", "CE", "PE"}
    assert sim.stats()["total_calls"] == before  # the zip is not an API call


def test_cli_prints_url_and_exits_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "breeze_sim",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--demo-session",
            "12345678",
            "--rate-per-min",
            "50",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"breeze_sim listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        url = match.group(1)
        assert int(match.group(2)) > 0
        token = login(url + "/breezeapi/api/v1/", "12345678", DEFAULT_API_KEY)
        assert token
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        stderr = proc.stderr.read() if proc.stderr else ""
        assert "customerdetails" in stderr  # one log line per request
        assert "12345678" not in stderr  # never log secrets or session tokens
    finally:
        if proc.poll() is None:
            proc.kill()


def test_rolling_window_stats_and_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"t": 1000.0}
    monkeypatch.setattr(state_module.time, "monotonic", lambda: clock["t"])
    state = SimState(
        api_key="k",
        api_secret="s",
        rate_per_min=3,
        rate_per_day=100,
        latency_ms=0,
        single_use_sessions=False,
    )
    today = date(2026, 11, 30)
    for offset in (0, 10, 70, 75, 80):
        clock["t"] = 1000.0 + offset
        state.record_call("quotes")
    assert state.stats()["max_calls_in_60s"] == 3
    clock["t"] = 2000.0
    assert [state.rate_check("k", today) for _ in range(4)] == [None, None, None, "minute"]
    clock["t"] = 2059.9
    assert state.rate_check("k", today) == "minute"
    clock["t"] = 2060.0  # the first call left the 60 s window
    assert state.rate_check("k", today) is None
