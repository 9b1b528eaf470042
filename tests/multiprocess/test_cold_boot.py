"""Instances booting at once on an empty database: none fails, none migrates (the migration job
does, once, before traffic moves), and each answers clearly until it has run."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from http import HTTPStatus

import psycopg
import pytest
import requests

from tests.multiprocess.conftest import REPO, ProxyInstance, proxy_env

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def empty_database():
    name = f"cold_boot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> int:
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return row[0] if row else 0


def test_three_instances_boot_at_once_on_an_empty_database(empty_database, sim, tmp_path):
    env = proxy_env(
        sim.url,
        f"cold-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=empty_database,
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
    )
    fleet = [ProxyInstance(f"cold-{n}", env, tmp_path) for n in range(3)]
    failures: list[BaseException] = []

    def boot(instance: ProxyInstance) -> None:
        try:
            instance.start()
        except BaseException as exc:  # counted, reported below
            failures.append(exc)

    threads = [threading.Thread(target=boot, args=(i,)) for i in fleet]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        assert _tables(empty_database) == 0  # nobody migrated at start
        for instance in fleet:
            health = requests.get(f"{instance.url}/breeze/health", timeout=10)
            assert health.status_code == HTTPStatus.SERVICE_UNAVAILABLE, health.text
            assert set(health.json()) >= {"error", "message", "details", "code"}

        job = subprocess.run(  # what deploy.sh's migration job runs, once
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert job.returncode == 0, job.stderr

        for instance in fleet:
            assert requests.get(f"{instance.url}/breeze/health", timeout=10).status_code in (
                HTTPStatus.OK,
                HTTPStatus.SERVICE_UNAVAILABLE,  # up, but no session activated yet
            )
            assert requests.get(f"{instance.url}/", timeout=10).status_code == HTTPStatus.OK
    finally:
        for instance in fleet:
            instance.stop()
