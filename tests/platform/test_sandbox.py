"""The README's first command, run as a new user would: ``bash scripts/sandbox.sh`` starts the
simulator, the proxy and the stream on the embedded defaults, and what it prints works."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import socketio

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sandbox(tmp_path):
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PORT": str(port),
        "SIM_PORT": str(_free_port()),
        "STREAM_PORT": str(_free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
    }
    out = (tmp_path / "sandbox.out").open("w+")
    process = subprocess.Popen(
        ["bash", "scripts/sandbox.sh"], cwd=REPO, env=env, stdout=out,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a first run installs the requirements
        while "is running at" not in (tmp_path / "sandbox.out").read_text():
            assert process.poll() is None, (tmp_path / "sandbox.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "the sandbox did not come up"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        out.close()


def test_the_sandbox_serves_quotes_by_symbol_and_the_seed_watchlist(sandbox):
    quote = requests.post(f"{sandbox}/breeze/quotes", json={"symbol": "RELIANCE"}, timeout=10)
    assert quote.status_code == 200, quote.text
    assert quote.json()["Success"][0]["stock_code"] == "RELIND"

    updates: dict[str, float] = {}
    client = socketio.Client(reconnection=False)
    client.on("watchlist_update", lambda tick: updates.setdefault(tick["stock_code"], tick["ltp"]))
    client.connect(sandbox, transports=["polling", "websocket"])
    try:
        client.emit("subscribe_to_watchlist", {"stocks": ["NIFTY", "RELIANCE"], "proxy_key": ""})
        deadline = time.monotonic() + 15
        while set(updates) != {"NIFTY", "RELIANCE"} and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.disconnect()
    assert set(updates) == {"NIFTY", "RELIANCE"}

    metrics = requests.get(f"{sandbox}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert 'route="quotes",status="200"' in metrics.text
