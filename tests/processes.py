"""What tests that start real processes (gunicorn, uvicorn, manage.py) hand them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests


def database_url() -> str:
    """The test run's PostgreSQL database as a ``DATABASE_URL`` for a child process."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}"
    )


def wait_until_serving(
    process: subprocess.Popen[bytes], url: str, *, timeout_s: float, log_path: Path
) -> None:
    """Until ``GET url/`` answers 200; a process that exits or never answers fails the test
    with where its log is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start; see {log_path}")
