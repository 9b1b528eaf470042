"""Fixtures for the Breeze simulator tests (plain pytest: no Django needed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so `import breeze_sim` works however pytest was started
    sys.path.insert(0, str(ROOT))

from breeze_sim import DEFAULT_API_KEY, SimulatorServer  # noqa: E402
from breeze_sim.client import login  # noqa: E402


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    """One simulator per test module, on a free port, with the real clock."""
    server = SimulatorServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(sim: SimulatorServer) -> str:
    """A valid X-SessionToken obtained through customerdetails, like generate_session does."""
    return login(sim.api_url, sim.issue_session(), DEFAULT_API_KEY)
