"""Each breeze-connect hazard of DESIGN.md, pinned: an SDK upgrade that breaks a
neutralisation fails here instead of hanging production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: records every outbound connection attempt and name lookup.
_GUARD = textwrap.dedent(
    """
    import ipaddress, json, os, socket, sys
    attempts = []
    def _loopback(host):
        if host in ("localhost", "", None):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False
    _connect = socket.socket.connect
    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(address, tuple) and not _loopback(host):
            attempts.append(f"connect {host}")
            raise OSError("blocked by test: non-loopback connect")
        return _connect(self, address)
    socket.socket.connect = connect
    _getaddrinfo = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host if isinstance(host, str) else None):
            attempts.append(f"resolve {host}")
            raise socket.gaierror("blocked by test: name lookup")
        return _getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
    """
)


def _run_isolated(body: str, tmp_path: Path, extra_env: dict[str, str] | None = None) -> dict:
    script = _GUARD + textwrap.dedent(body) + "\nprint('RESULT ' + json.dumps(result))\n"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BREEZE_PROXY_TESTING": "true",
        **(extra_env or {}),
    }
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = [row for row in completed.stdout.splitlines() if row.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


_START_AND_SERVE = """
import logging
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from breeze_proxy.wsgi import application
import breeze.gateway.client, market.services, sessions_admin.services  # noqa
from breeze.gateway.sdk import load_sdk
sdk = load_sdk()
from django.test import Client
client = Client()
root = client.get("/")
health = client.get("/breeze/health")
import urllib3.util.connection as c
result = {
    "attempts": attempts,
    "root": root.status_code,
    "health": health.status_code,
    "ipv6": c.HAS_IPV6,
    "pandas_loaded": "pandas" in sys.modules,
    "logs_dir": os.path.exists("logs"),
    "sdk_handlers": [type(h).__name__ for h in logging.getLogger("APILogger").handlers],
    "transport": type(sdk.module.requests).__name__,
}
try:
    sdk.module.urlopen("http://example.invalid/SecurityMaster.zip")
    result["download"] = "allowed"
except Exception as exc:
    result["download"] = type(exc).__name__
"""


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {
            "BREEZE_API_KEY": "real-looking-key",
            "BREEZE_API_SECRET": "real-looking-secret",
            "SECRET_KEY": "x" * 50,
            "SECURE_SSL_REDIRECT": "false",
        },
    ],
    ids=["embedded-default", "production-urls"],
)
def test_import_and_start_make_no_network_call_outside_loopback(tmp_path, environment):
    result = _run_isolated(_START_AND_SERVE, tmp_path, environment)

    assert result["attempts"] == []
    assert result["root"] == 200
    assert result["health"] == 200


def test_sdk_import_leaves_process_untouched(tmp_path):
    result = _run_isolated(_START_AND_SERVE, tmp_path)

    assert result["logs_dir"] is False, "the SDK created ./logs in the working directory"
    assert result["ipv6"] is True, "the SDK's IPv6 switch-off leaked into the process"
    assert result["pandas_loaded"] is False, "pandas was imported eagerly"
    assert result["sdk_handlers"] == [], "the SDK's DEBUG file handlers are still attached"
    assert result["transport"] == "PooledTransport"
    assert result["download"] == "SecurityMasterDisabled"


def test_sdk_reads_our_config_module_not_a_project_one():
    from breeze.gateway.sdk import load_sdk

    sdk = load_sdk()

    assert sys.modules["config"] is sdk.config
    assert sdk.module.config is sdk.config
    assert Path(sdk.config.__file__).parent.name == "breeze_connect"


def test_sdk_urls_follow_settings(settings, sim):
    from breeze.gateway.sdk import load_sdk

    sdk = load_sdk()

    assert sdk.config.API_URL == settings.BREEZE_API_URL == sim.api_url
    assert sim.api_v2_url == sdk.config.BREEZE_NEW_URL
