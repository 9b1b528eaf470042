"""The unmodified breeze_connect SDK, driven over real HTTP against the simulator.

The SDK runs in a subprocess (see sim_sdk_driver.py); this module checks what it returned.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from breeze_sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer
from breeze_sim.endpoints import expiry_label
from breeze_sim.market_time import fmt_dd_mon_yyyy
from breeze_sim.universe import universe_for

DRIVER = Path(__file__).with_name("sim_sdk_driver.py")


@pytest.fixture(scope="module")
def results(sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    universe = universe_for(sim.now().date())
    option = universe.chain("NIFTY")[len(universe.strikes)]  # an at-the-money-ish strike
    settings = {
        "api_url": sim.api_url,
        "v2_url": sim.api_v2_url,
        "zip_url": sim.security_master_url,
        "control_url": sim.url + "/__sim__/",
        "api_key": DEFAULT_API_KEY,
        "api_secret": DEFAULT_API_SECRET,
        "api_session": sim.issue_session("12345678"),
        "future": {"expiry": expiry_label(universe.futures[0].expiry)},
        "option": {
            "expiry": expiry_label(option.expiry),
            "strike": f"{option.strike:.0f}",
            "expiry_dmy": fmt_dd_mon_yyyy(option.expiry),
        },
    }
    cwd = tmp_path_factory.mktemp("sdk")  # the SDK creates ./logs in its CWD
    proc = subprocess.run(
        [sys.executable, str(DRIVER), json.dumps(settings)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["settings"] = settings
    return data


def ok(results: dict[str, Any], name: str) -> Any:
    entry = results[name]
    assert "ok" in entry, entry
    return entry["ok"]


def err(results: dict[str, Any], name: str) -> str:
    entry = results[name]
    assert "error" in entry, entry
    return entry["error"]


def test_generate_session_parses_token_and_security_master(results: dict[str, Any]) -> None:
    session = ok(results, "session")
    assert session["user_id"] == "SIM0001"
    assert session["session_key"].isdigit()
    assert len(session["session_key"]) == 8
    assert session["relind"] == "2885"
    assert session["nifty"] == "NIFTY 50"
    assert session["bse_relind"] == "500325"
    expiry = results["settings"]["option"]["expiry_dmy"]
    strike = results["settings"]["option"]["strike"]
    assert f"OPT-NIFTY-{expiry}-{strike}-CE" in session["nfo_keys"]
    assert any(k.startswith("FUT-NIFTY-") for k in session["nfo_keys"])
    assert {"NIFTY", "CNXBAN", "RELIND", "INFTEC"} <= set(session["nfo_codes"])
    assert session["bse_sensex"] == "SENSEX"
    assert any(k.startswith("FUT-BSESEN-") for k in session["bfo_keys"])
    assert any(k.startswith("OPT-BSESEN-") for k in session["bfo_keys"])
    assert any(k.startswith("FUT-GOLD-") for k in session["mcx_keys"])
    assert session["names"]["isec_stock_code"] == "RELIND"
    assert session["names"]["isec_token_level1"] == "4.1!2885"
    assert session["bse_names"]["isec_token"] == "500325"


def test_generate_session_failures_map_to_sdk_messages(results: dict[str, Any]) -> None:
    assert err(results, "bad_token") == (
        "Unexpected error: Could not authenticate credentials. Please check session key."
    )
    assert err(results, "bad_app_key") == (
        "Unexpected error: Could not authenticate credentials. Please check api key."
    )
    assert err(results, "session_non_json") == "Invalid JSON format in API response"
    assert ok(results, "expired")["relogin"] == "Unexpected error: Session key is expired."


def test_customer_details_drops_session_token(results: dict[str, Any]) -> None:
    answer = ok(results, "customer_details")
    assert answer["Status"] == 200
    assert answer["Success"]["idirect_userid"] == "SIM0001"
    assert "session_token" not in answer["Success"]
    assert set(answer["Success"]["exg_trade_date"]) == {"NSE", "BSE", "FNO", "NDX"}


def test_cash_quote_has_nse_then_bse_rows(results: dict[str, Any]) -> None:
    answer = ok(results, "quotes_cash")
    assert answer["Status"] == 200
    assert answer["Error"] is None
    nse, bse = answer["Success"]
    assert (nse["exchange_code"], bse["exchange_code"]) == ("NSE", "BSE")
    for row in (nse, bse):
        assert row["stock_code"] == "RELIND"
        assert isinstance(row["ltp"], float)
        assert 900 < row["ltp"] < 2100
        assert isinstance(row["best_bid_quantity"], str)
        assert isinstance(row["total_quantity_traded"], str)
        assert row["low"] <= row["ltp"] <= row["high"]
        assert row["lower_circuit"] < row["ltp"] < row["upper_circuit"]
        datetime.strptime(row["ltt"], "%d-%b-%Y %H:%M:%S")
    assert nse["expiry_date"] is None
    assert nse["strike_price"] == 0.0


def test_index_quote_second_row_is_na(results: dict[str, Any]) -> None:
    nse, na = ok(results, "quotes_index")["Success"]
    assert nse["exchange_code"] == "NSE"
    assert 18000 < nse["ltp"] < 31000
    assert na["exchange_code"] == "NA"
    assert na["ltt"] == "NA"
    assert na["ltp"] == 0.0


def test_fno_quotes(results: dict[str, Any]) -> None:
    (future,) = ok(results, "quotes_future")["Success"]
    assert future["product_type"] == "Future"
    assert future["right"] == "*"
    assert future["strike_price"] == 0.0
    datetime.strptime(future["expiry_date"], "%d-%b-%Y")
    assert isinstance(future["spot_price"], str)
    assert float(future["spot_price"]) > 0
    (option,) = ok(results, "quotes_option")["Success"]
    assert option["right"] == "Call"
    assert option["expiry_date"] == (results["settings"]["option"]["expiry_dmy"])
    assert option["strike_price"] == float(results["settings"]["option"]["strike"])
    assert ok(results, "quotes_unknown") == {"Success": [], "Status": 200, "Error": None}


def test_option_chain(results: dict[str, Any]) -> None:
    rows = ok(results, "chain")["Success"]
    assert len(rows) == 41
    assert {r["right"] for r in rows} == {"Call"}
    strikes = [r["strike_price"] for r in rows]
    assert strikes == sorted(strikes)
    assert all(b - a == 50 for a, b in itertools.pairwise(strikes))
    for row in rows:
        assert isinstance(row["open_interest"], float)
        assert isinstance(row["chnge_oi"], float)
        assert isinstance(row["ltq"], str)
        assert isinstance(row["total_buy_qty"], str)
    (single,) = ok(results, "chain_strike")["Success"]
    assert single["right"] == "Put"


def test_history_v1_cash_strings_and_market_hours(results: dict[str, Any]) -> None:
    rows = ok(results, "v1_cash")["Success"]
    assert len(rows) == 375
    assert rows[0]["datetime"] == "2025-02-03 09:15:00"
    assert rows[-1]["datetime"] == "2025-02-03 15:29:00"
    assert [r["count"] for r in rows[:3]] == [1, 2, 3]
    row = rows[0]
    for field in ("open", "high", "low", "close", "volume"):
        assert isinstance(row[field], str)
    for field in ("product_type", "expiry_date", "right", "strike_price", "open_interest"):
        assert row[field] is None
    assert all(float(r["low"]) <= min(float(r["open"]), float(r["close"])) for r in rows)
    assert all(float(r["high"]) >= max(float(r["open"]), float(r["close"])) for r in rows)
    days = ok(results, "v1_day")["Success"]
    assert [d["datetime"] for d in days][:2] == ["2025-01-27 00:00:00", "2025-01-28 00:00:00"]
    assert len(days) == 6  # Mon..Fri + the next Monday; the weekend has no candles


def test_history_v1_derivatives(results: dict[str, Any]) -> None:
    rows = ok(results, "v1_option")["Success"]
    assert len(rows) == 75
    assert rows[0]["product_type"] == "Options"
    assert rows[0]["right"] == "Call"
    assert rows[0]["strike_price"] == "23200"
    assert rows[0]["expiry_date"] == "27-FEB-25"
    assert int(rows[0]["open_interest"]) > 0
    fut = ok(results, "v1_future")["Success"]
    assert [r["datetime"][11:] for r in fut][-2:] == ["14:45:00", "15:15:00"]
    assert fut[0]["right"] == "Others"
    assert fut[0]["product_type"] == "Futures"
    assert ok(results, "v1_unknown") == {
        "Success": None,
        "Status": 500,
        "Error": "Historical Data Fail",
    }


def test_history_v2_numbers_sorted_keys_and_cap(results: dict[str, Any]) -> None:
    rows = ok(results, "v2_cash")["Success"]
    assert len(rows) == 375
    assert list(rows[0]) == sorted(rows[0])
    assert set(rows[0]) == {
        "close",
        "datetime",
        "exchange_code",
        "high",
        "low",
        "open",
        "stock_code",
        "volume",
    }
    assert isinstance(rows[0]["close"], float)
    assert isinstance(rows[0]["volume"], int)
    seconds = ok(results, "v2_second")["Success"]
    assert len(seconds) == 1000
    assert seconds[-1]["datetime"] == "2025-02-03 15:29:59"
    assert seconds[0]["datetime"] == "2025-02-03 15:13:20"
    stamps = [r["datetime"] for r in seconds]
    assert stamps == sorted(stamps)


def test_history_v2_option_and_index(results: dict[str, Any]) -> None:
    rows = ok(results, "v2_option")["Success"]
    row = rows[0]
    assert row["expiry_date"] == "27-FEB-2025"
    assert row["right"] == "Call"
    assert row["strike_price"] == 23200.0
    assert isinstance(row["open_interest"], int)
    assert row["product_type"] == "Options"
    index = ok(results, "v2_index")["Success"]
    assert len(index) == 75
    assert all(r["volume"] == 0 for r in index)


def test_history_v2_empty_cases(results: dict[str, Any]) -> None:
    empty = {"Error": None, "Status": 200, "Success": []}
    assert ok(results, "v2_unknown") == empty
    assert ok(results, "v2_pre2019_second") == empty
    assert ok(results, "v2_premarket_z") == empty  # 07:09Z read as 07:09 IST: before the open


def test_wrong_secret_gives_checksum_error(results: dict[str, Any]) -> None:
    assert ok(results, "wrong_secret") == {
        "Success": None,
        "Status": 500,
        "Error": "Invalid checksum.",
    }


def test_non_json_body_raises_in_sdk(results: dict[str, Any]) -> None:
    assert err(results, "non_json") == (
        "Error in get_quotes(): Expecting value: line 1 column 1 (char 0)"
    )


def test_expired_session_on_market_call(results: dict[str, Any]) -> None:
    assert ok(results, "expired")["quote"] == {
        "Success": None,
        "Status": 500,
        "Error": "Resource not available.",
    }


def test_security_master_not_counted(results: dict[str, Any]) -> None:
    stats = results["stats"]
    assert stats["calls"]["customerdetails"] == 7
    assert stats["rate_limited"] == 0
