"""Fixtures: a real Breeze simulator over HTTP, the proxy pointed at it, and sessions.

The simulator runs in a thread of the test process on a free port; the proxy's settings are
pointed at it for the whole run, so every test exercises the unmodified breeze-connect SDK
over real HTTP.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test.utils import override_settings
from rest_framework.test import APIClient

from breeze_sim import SimulatorServer
from tests import leakcheck

ADMIN_KEY_HEADER = "HTTP_X_PROXY_ADMIN_KEY"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long load and fuzz tests")


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(leakcheck.RawLogCapture(level=logging.DEBUG))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any response or log line of the whole run contained a secret."""
    if getattr(session.config, "workerinput", None) is not None or not session.items:
        return
    leaks = leakcheck.find_leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(leakcheck.summary())
    if leaks:
        if reporter is not None:
            for leak in leaks:
                reporter.write_line(f"SECRET LEAK: {leak}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: pass --run-slow (README, long runs section)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(host="127.0.0.1", port=0, stream_port=0, tick_rate=10).start()
    issue = server.issue_session

    def issue_session(token: str | None = None) -> str:
        # Distinctive tokens, so the leak sweep cannot confuse one with a price or volume.
        token = token or f"tok{secrets.token_hex(8)}"
        leakcheck.remember_secret(token)
        return issue(token)

    server.issue_session = issue_session  # type: ignore[method-assign]
    from breeze.gateway import client as gateway

    exchange = gateway.session_exchange

    def remembering_exchange(*, api_session: str):
        credentials = exchange(api_session=api_session)
        leakcheck.remember_session(credentials.user_id, credentials.session_key)
        return credentials

    gateway.session_exchange = remembering_exchange
    overrides = override_settings(
        BREEZE_SIM_URL=server.url,
        BREEZE_API_URL=server.api_url,
        BREEZE_API_V2_URL=server.api_v2_url,
        BREEZE_SECURITY_MASTER_URL=server.security_master_url,
        BREEZE_LIVE_STREAM_URL=server.live_stream_url,
        BREEZE_TIMEOUT_S=2.0,
    )
    overrides.enable()
    try:
        yield server
    finally:
        overrides.disable()
        gateway.session_exchange = exchange
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with an empty cache and, when it uses the simulator, a clean one."""
    cache.clear()
    _reset_shared_guards()
    if "sim" in request.fixturenames:
        sim = request.getfixturevalue("sim")
        sim.reset()
    yield
    cache.clear()


def _reset_shared_guards() -> None:
    from breeze.gateway import breaker, budget
    from instruments import resolver

    breaker.reset()
    budget.reset()
    resolver.forget()


class ProxyClient(APIClient):
    """DRF's test client that also reads streamed answers (history is streamed): their body
    is collected once, and ``json()`` and ``body`` work as for any other answer."""

    def request(self, **kwargs: Any) -> Any:
        response = super().request(**kwargs)
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)
            response.streaming_content = [body]
            response.body = body
            response.json = lambda: json.loads(body)
        return response


@pytest.fixture
def api() -> APIClient:
    return ProxyClient()


@pytest.fixture
def admin_key(settings) -> str:
    return settings.BREEZE_PROXY_ADMIN_KEY


@pytest.fixture
def live_session(db, sim):
    """A session activated through the real service and the simulator."""
    from sessions_admin.services import breeze_session_activate

    token = sim.issue_session()
    return breeze_session_activate(api_session=token, activated_by="test")


@pytest.fixture
def master(db, sim):
    """The simulator's SecurityMaster, loaded through the real sync (download over HTTP)."""
    from instruments import resolver
    from instruments.services import instruments_sync

    result = instruments_sync(url=sim.security_master_url)
    resolver.forget()
    return result


@pytest.fixture
def make_key(db) -> Callable[..., tuple[Any, str]]:
    """Create a client key (every scope by default); the key is remembered by the sweep."""
    from access.models import SCOPES
    from access.services import client_key_create

    def make(
        name: str = "frontend",
        *,
        scopes: tuple[str, ...] = SCOPES,
        quota: int = 600,
        origins: tuple[str, ...] = (),
    ) -> tuple[Any, str]:
        key, raw = client_key_create(
            name=name, scopes=scopes, quota=quota, origins=origins, created_by="test"
        )
        leakcheck.remember_secret(raw)  # never in a response or a log line
        return key, raw

    return make


@pytest.fixture
def keys_required(settings) -> None:
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
