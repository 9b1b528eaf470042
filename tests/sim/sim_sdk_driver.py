"""Runs the unmodified breeze_connect SDK against a simulator; prints one JSON line of results.

Executed in a subprocess by test_sim_sdk.py because importing the SDK has process-wide side
effects (a top-level ``config`` module, ./logs in the CWD, IPv6 disabled for urllib3).
Usage: python sim_sdk_driver.py '<json settings>'
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
import urllib.request
from typing import Any


def _control(url: str, method: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload or {}).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> None:
    cfg_in = json.loads(sys.argv[1])
    sdk_dir = importlib.util.find_spec("breeze_connect").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("config", os.path.join(sdk_dir, "config.py"))
    cfg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cfg)
    cfg.API_URL = cfg_in["api_url"]
    cfg.BREEZE_NEW_URL = cfg_in["v2_url"]
    cfg.SECURITY_MASTER_URL = cfg_in["zip_url"]
    sys.modules["config"] = cfg
    from breeze_connect import BreezeConnect  # import downloads the zip from the simulator

    key, secret, good = cfg_in["api_key"], cfg_in["api_secret"], cfg_in["api_session"]
    control = cfg_in["control_url"]
    out: dict[str, Any] = {}

    def run(name: str, fn: Any) -> None:
        try:
            out[name] = {"ok": fn()}
        except Exception as exc:
            out[name] = {
                "error": str(exc),
                "type": type(exc).__name__,
                "trace": traceback.format_exc(limit=2),
            }

    breeze = BreezeConnect(api_key=key)

    def session() -> dict[str, Any]:
        breeze.generate_session(api_secret=secret, session_token=good)
        nfo = breeze.stock_script_dict_list[4]
        bfo = breeze.stock_script_dict_list[5]
        nifty = ("FUT-NIFTY-", f"OPT-NIFTY-{cfg_in['option']['expiry_dmy']}-")
        return {
            "user_id": breeze.user_id,
            "session_key": breeze.session_key,
            "relind": breeze.stock_script_dict_list[1].get("RELIND"),
            "nifty": breeze.stock_script_dict_list[1].get("NIFTY"),
            "bse_relind": breeze.stock_script_dict_list[0].get("RELIND"),
            "bse_sensex": breeze.stock_script_dict_list[0].get("BSESEN"),
            "nfo_keys": sorted(k for k in nfo if k.startswith(nifty)),
            "nfo_codes": sorted({k.split("-")[1] for k in nfo}),
            "bfo_keys": sorted(bfo)[:50],
            "mcx_keys": sorted(breeze.stock_script_dict_list[3]),
            "names": breeze.get_names("NSE", "RELIANCE"),
            "bse_names": breeze.get_names("BSE", "RELIANCE"),
        }

    run("session", session)
    run("bad_token", lambda: BreezeConnect(api_key=key).generate_session(secret, "00000001"))
    run("bad_app_key", lambda: BreezeConnect(api_key="nope").generate_session(secret, good))
    run("customer_details", lambda: breeze.get_customer_details(api_session=good))

    fut, opt = cfg_in["future"], cfg_in["option"]
    run(
        "quotes_cash",
        lambda: breeze.get_quotes(stock_code="RELIND", exchange_code="NSE", product_type="cash"),
    )
    run(
        "quotes_index",
        lambda: breeze.get_quotes(stock_code="NIFTY", exchange_code="NSE", product_type="cash"),
    )
    run(
        "quotes_future",
        lambda: breeze.get_quotes(
            stock_code="NIFTY",
            exchange_code="NFO",
            expiry_date=fut["expiry"],
            product_type="futures",
            right="others",
            strike_price="0",
        ),
    )
    run(
        "quotes_option",
        lambda: breeze.get_quotes(
            stock_code="NIFTY",
            exchange_code="NFO",
            expiry_date=opt["expiry"],
            product_type="options",
            right="call",
            strike_price=opt["strike"],
        ),
    )
    run(
        "quotes_unknown",
        lambda: breeze.get_quotes(stock_code="NOSUCH", exchange_code="NSE", product_type="cash"),
    )
    run(
        "chain",
        lambda: breeze.get_option_chain_quotes(
            stock_code="NIFTY",
            exchange_code="NFO",
            product_type="options",
            expiry_date=opt["expiry"],
            right="call",
        ),
    )
    run(
        "chain_strike",
        lambda: breeze.get_option_chain_quotes(
            stock_code="NIFTY",
            exchange_code="NFO",
            product_type="options",
            expiry_date=opt["expiry"],
            right="put",
            strike_price=opt["strike"],
        ),
    )

    day = {"from_date": "2025-02-03T09:00:00.000Z", "to_date": "2025-02-03T16:00:00.000Z"}
    option_hist = {
        "stock_code": "NIFTY",
        "exchange_code": "NFO",
        "product_type": "options",
        "expiry_date": "2025-02-27T06:00:00.000Z",
        "right": "call",
        "strike_price": "23200",
    }
    run(
        "v1_cash",
        lambda: breeze.get_historical_data(
            interval="1minute", stock_code="RELIND", exchange_code="NSE", product_type="cash", **day
        ),
    )
    run(
        "v1_day",
        lambda: breeze.get_historical_data(
            interval="1day",
            from_date="2025-01-27T00:00:00.000Z",
            to_date="2025-02-03T00:00:00.000Z",
            stock_code="RELIND",
            exchange_code="NSE",
            product_type="cash",
        ),
    )
    run("v1_option", lambda: breeze.get_historical_data(interval="5minute", **day, **option_hist))
    run(
        "v1_future",
        lambda: breeze.get_historical_data(
            interval="30minute",
            stock_code="NIFTY",
            exchange_code="NFO",
            product_type="futures",
            expiry_date="2025-02-25T06:00:00.000Z",
            right="others",
            strike_price="0",
            **day,
        ),
    )
    run(
        "v1_unknown",
        lambda: breeze.get_historical_data(
            interval="1minute",
            stock_code="RELIANCE",
            exchange_code="NSE",
            product_type="cash",
            **day,
        ),
    )
    run(
        "v2_cash",
        lambda: breeze.get_historical_data_v2(
            interval="1minute", stock_code="RELIND", exchange_code="NSE", product_type="cash", **day
        ),
    )
    run(
        "v2_second",
        lambda: breeze.get_historical_data_v2(
            interval="1second", stock_code="RELIND", exchange_code="NSE", product_type="cash", **day
        ),
    )
    run(
        "v2_option",
        lambda: breeze.get_historical_data_v2(
            interval="1minute", **day, **{**option_hist, "exchange_code": "NFO"}
        ),
    )
    run(
        "v2_index",
        lambda: breeze.get_historical_data_v2(
            interval="5minute", stock_code="NIFTY", exchange_code="NSE", product_type="cash", **day
        ),
    )
    run(
        "v2_unknown",
        lambda: breeze.get_historical_data_v2(
            interval="1minute",
            stock_code="RELIANCE",
            exchange_code="NSE",
            product_type="cash",
            **day,
        ),
    )
    run(
        "v2_pre2019_second",
        lambda: breeze.get_historical_data_v2(
            interval="1second",
            from_date="2018-06-01T09:15:00.000Z",
            to_date="2018-06-01T10:00:00.000Z",
            stock_code="RELIND",
            exchange_code="NSE",
            product_type="cash",
        ),
    )
    run(
        "v2_premarket_z",
        lambda: breeze.get_historical_data_v2(
            interval="1minute",
            from_date="2025-02-03T07:09:00.000Z",
            to_date="2025-02-03T07:15:00.000Z",
            stock_code="RELIND",
            exchange_code="NSE",
            product_type="cash",
        ),
    )

    wrong = BreezeConnect(api_key=key)

    def wrong_secret() -> Any:
        wrong.generate_session(api_secret="not-the-secret", session_token=good)
        return wrong.get_quotes(stock_code="RELIND", exchange_code="NSE", product_type="cash")

    run("wrong_secret", wrong_secret)

    def non_json() -> Any:
        _control(
            control + "faults", "POST", {"mode": "non_json", "endpoints": ["quotes"], "count": 1}
        )
        return breeze.get_quotes(stock_code="RELIND", exchange_code="NSE", product_type="cash")

    run("non_json", non_json)

    def session_non_json() -> Any:
        _control(
            control + "faults",
            "POST",
            {"mode": "non_json", "endpoints": ["customerdetails"], "count": 1},
        )
        return BreezeConnect(api_key=key).generate_session(secret, good)

    run("session_non_json", session_non_json)

    def expired() -> Any:
        _control(control + "expire", "POST")
        quote = breeze.get_quotes(stock_code="RELIND", exchange_code="NSE", product_type="cash")
        try:
            BreezeConnect(api_key=key).generate_session(secret, good)
            relogin = None
        except Exception as exc:
            relogin = str(exc)
        return {"quote": quote, "relogin": relogin}

    run("expired", expired)
    out["stats"] = _control(control + "stats", "GET")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
