"""Shared pieces of the robustness suite: client keys (when the ``access`` app exists), real
gunicorn proxies on Redis db 14 and the test PostgreSQL (``tests.multiprocess.conftest``), and
small measuring helpers.

Every test here runs fast by default; ``--run-slow`` runs the long versions
(``scripts/robustness.sh``).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.multiprocess.conftest import ADMIN_KEY, ProxyInstance, proxy_env, shared_redis

__all__ = ["ADMIN_KEY", "shared_redis"]

KEY_QUOTA = "1000000000"
ENVELOPE_FIELDS = {"error", "message", "details", "code"}


def access_installed() -> bool:
    """Whether the client-key app (``access``, header ``X-Proxy-Key``) is part of the project."""
    from django.apps import apps

    return apps.is_installed("access")


def create_client_key(name: str) -> str | None:
    """A valid client key with every scope, or None while ``access`` does not exist.

    Uses the documented command (``manage.py client_keys create``), which prints the key alone
    on its last stdout line. Needs database access (a db/transactional_db test).
    """
    if not access_installed():
        return None
    from django.core.management import call_command

    from access.models import SCOPES  # every scope there is (instruments came later)

    out = io.StringIO()
    call_command(
        "client_keys", "create", "--name", name, "--scopes", ",".join(SCOPES),
        "--quota", KEY_QUOTA, stdout=out,
    )  # fmt: skip
    lines = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
    assert lines, "client_keys create printed nothing"
    return lines[-1]


def key_headers(key: str | None) -> dict[str, str]:
    return {"X-Proxy-Key": key} if key else {}


def is_envelope(body: object) -> bool:
    """The documented error envelope: error == message, a string code, a details member."""
    return (
        isinstance(body, dict)
        and body.keys() >= ENVELOPE_FIELDS
        and isinstance(body["code"], str)
        and bool(body["code"])
        and isinstance(body["message"], str)
        and body["error"] == body["message"]
    )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of ``values``; 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@pytest.fixture(scope="module")
def start_proxy(
    sim, django_db_setup, django_db_blocker, shared_redis, tmp_path_factory
) -> Iterator[Callable[..., ProxyInstance]]:
    """Start gunicorn proxies (production ``gunicorn.conf.py``) with extra environment; every
    one started is stopped when the module ends."""
    started: list[ProxyInstance] = []
    logs: Path = tmp_path_factory.mktemp("robust-proxies")

    def start(name: str, **overrides: str) -> ProxyInstance:
        overrides = {"LOG_LEVEL": "WARNING", **overrides}
        env = proxy_env(sim.url, f"robust-{uuid.uuid4().hex[:8]}", **overrides)
        instance = ProxyInstance(name, env, logs)
        with django_db_blocker.unblock():
            instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()
