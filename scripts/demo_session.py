"""Sandbox helper: wait for the proxy and simulator, activate a demo session, print curl lines.

It does what a person does each morning: log in to "Breeze" (here the simulator issues the
token), then hand the token to the proxy through the admin API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except Exception:
            if time.monotonic() > deadline:
                sys.exit(f"timed out waiting for {url}")
            time.sleep(0.2)


def _post(url: str, body: dict, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proxy")
    parser.add_argument("--simulator", required=True)
    parser.add_argument("--wait-only", action="store_true", help="wait for the simulator, exit")
    args = parser.parse_args()

    _wait(f"{args.simulator}/__sim__/stats")
    if args.wait_only:
        return
    admin_key = os.environ["BREEZE_PROXY_ADMIN_KEY"]
    _wait(f"{args.proxy}/")
    token = _post(f"{args.simulator}/__sim__/sessions", {})["api_session"]
    result = _post(
        f"{args.proxy}/breeze/admin/api-session",
        {"api_session": token},
        {"X-Proxy-Admin-Key": admin_key},
    )
    expires = result["session"]["expires_at"]
    proxy = args.proxy
    print(
        f"""
Breeze Proxy is running at {proxy} against the Breeze simulator (demo session until {expires}).

  curl -s {proxy}/breeze/health
  curl -s -X POST {proxy}/breeze/quotes -H 'Content-Type: application/json' \\
       -d '{{"symbol": "RELIANCE"}}'
  curl -s -X POST {proxy}/breeze/depth -H 'Content-Type: application/json' \\
       -d '{{"stock_code": "TCS"}}'
  curl -s -X POST {proxy}/breeze/historical -H 'Content-Type: application/json' \\
       -d '{{"symbol": "INFY", "interval": "1day",
             "from_date": "2025-01-01", "to_date": "2025-03-31"}}'
  curl -s '{proxy}/breeze/instruments?q=reli'
  curl -s '{proxy}/breeze/expiries?symbol=NIFTY'
  curl -s -X POST {proxy}/breeze/admin/api-session -H "X-Proxy-Admin-Key: $(cat .run/admin-key)" \\
       -H 'Content-Type: application/json' -d '{{"api_session": "<today's token>"}}'

Live stream (Socket.IO at {proxy}/socket.io/), the seed frontend's watchlist:

  .venv/bin/python - <<'PY'
import socketio
sio = socketio.Client()
sio.on("watchlist_update", lambda t: print(t["stock_code"], t["ltp"], t["percent_change"]))
sio.on("watchlist_error", print)
sio.connect("{proxy}", transports=["polling", "websocket"])
sio.emit("subscribe_to_watchlist", {{"stocks": ["NIFTY", "RELIANCE", "TCS"], "proxy_key": ""}})
sio.sleep(10)
sio.disconnect()
PY

Browsable API: {proxy}/breeze/quotes   OpenAPI: {proxy}/api/docs/   Stop: Ctrl-C
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
