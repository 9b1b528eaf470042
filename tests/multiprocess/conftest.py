"""Real proxy processes (gunicorn, production config) on the real Redis and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests import leakcheck
from tests.processes import database_url, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 14
ADMIN_KEY = "multi-instance-admin-key-7f3a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proxy_env(sim_url: str, prefix: str, **overrides: str) -> dict[str, str]:
    """The environment of a real proxy process: production settings on the pytest PostgreSQL
    database, Redis db 14 under ``prefix``, the simulator and this suite's admin key;
    ``overrides`` adds or replaces names."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CACHE_KEY_PREFIX": prefix,
        "BREEZE_SIM_URL": sim_url,
        "BREEZE_PROXY_ADMIN_KEY": ADMIN_KEY,
        "SECURE_SSL_REDIRECT": "false",
        # Tests load the master themselves; a background sync would write while they empty
        # the tables (a deadlock with the flush).
        "BREEZE_INSTRUMENTS_AUTO_SYNC": "false",
        **overrides,
    }


class ProxyInstance:
    """One gunicorn-served proxy, as Cloud Run would run one instance."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.port = _free_port()
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        leakcheck.remember_log_file(self.log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyInstance:
        env = {**self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "breeze_proxy.wsgi:application",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_serving(self.process, self.url, timeout_s=30, log_path=self.log_path)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> ProxyInstance:
        self.stop()
        return self.start()

    def post(self, path: str, body: dict, **headers: str) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def quote(self, code: str = "RELIND") -> requests.Response:
        return self.post("/breeze/quotes", {"stock_code": code})

    def activate(self, token: str) -> requests.Response:
        return self.post(
            "/breeze/admin/api-session", {"api_session": token}, **{"X-Proxy-Admin-Key": ADMIN_KEY}
        )


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is required (.ci/run starts it)")
    yield client
    client.flushdb()


@pytest.fixture(scope="module")
def instances(sim, django_db_setup, django_db_blocker, shared_redis, tmp_path_factory):
    """Two proxy instances sharing one database and one Redis, on separate ports."""
    env = proxy_env(
        sim.url,
        f"multi-{uuid.uuid4().hex[:8]}",
        CONN_MAX_AGE="0",
        BREEZE_TIMEOUT_S="2",
        BREEZE_RATE_PER_MIN="6",
        # One test address calls for everyone here: no per-address share of the minute.
        BREEZE_OPEN_CALLS_PER_MINUTE="0",
        BREEZE_QUEUE_WAIT_S="0.5",
        BREEZE_BREAKER_FAILURES="3",
        BREEZE_BREAKER_RESET_S="30",
        BREEZE_QUOTE_TTL_S="30",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="8",
    )
    logs = tmp_path_factory.mktemp("instances")
    pair = [ProxyInstance("a", env, logs), ProxyInstance("b", env, logs)]
    with django_db_blocker.unblock():
        for instance in pair:
            instance.start()
    yield pair
    for instance in pair:
        instance.stop()


@pytest.fixture
def a_and_b(instances, shared_redis, sim, transactional_db):
    """Each test starts with empty shared state (Redis db flushed, tables truncated after)."""
    shared_redis.flushdb()
    sim.reset()
    return instances
