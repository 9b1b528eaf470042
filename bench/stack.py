"""Setup shared by the benchmarks (``python -m bench``, ``python -m bench.history``).

Where results and logs go, the Redis db and database the benchmarks use, the preflight and
setup steps (flush, migrate, client key), a proxy instance's environment and start, the scan of
the proxies' logs and the small pieces of the tables (PASS/FAIL, the commit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.processes import (
    GUNICORN_CONF,
    PYTHON,
    ROOT,
    BenchError,
    Child,
    Fleet,
    base_env,
    install_signal_handlers,
    run_checked,
    start_gunicorn,
    wait_http_ok,
)

RESULTS_DIR = ROOT / "bench" / "results"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
DB_ENV = {"DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings"}
HIGH = "1000000000"  # a limit the miss phases never reach

_t0 = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr, so stdout carries nothing but the table."""
    print(f"[bench {time.monotonic() - _t0:6.1f}s] {message}", file=sys.stderr, flush=True)


def elapsed_s() -> float:
    return time.monotonic() - _t0


# ----------------------------------------------------------------------------- preflight


def preflight() -> None:
    """Redis and PostgreSQL must answer before anything is started; say which one does not."""
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        raise BenchError(f"Redis at {REDIS_URL} does not answer ({exc}); start it first") from exc
    try:
        psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://"), connect_timeout=3
                        ).close()  # fmt: skip
    except Exception as exc:
        raise BenchError(f"PostgreSQL at {DATABASE_URL} does not answer ({exc})") from exc


def flush_redis() -> None:
    """The bench's own Redis db (never db 0) starts empty: no budget or cache from before."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    if client.connection_pool.connection_kwargs.get("db", 0) == 0:
        raise BenchError("refusing to flush Redis db 0; point BENCH_REDIS_URL at a dedicated db")
    client.flushdb()


def gunicorn_shape(env: dict[str, str]) -> tuple[int, int]:
    """(workers, threads) the production config yields in the proxy's environment (it depends
    on REDIS_URL), evaluated in a child so the bench's own environment stays untouched."""
    conf = str(ROOT / GUNICORN_CONF)
    code = f"import runpy; c = runpy.run_path({conf!r}); print(c['workers'], c['threads'])"
    out = run_checked([PYTHON, "-c", code], env, timeout_s=30).split()
    return int(out[-2]), int(out[-1])


def manage(args: list[str], env: dict[str, str], timeout_s: float = 120) -> str:
    return run_checked([PYTHON, "manage.py", *args], env, timeout_s=timeout_s)


def client_key_for(run_id: str, env: dict[str, str]) -> str | None:
    """A client key when the project has the ``client_keys`` command, else None."""
    commands = manage(["help", "--commands"], env)
    if "client_keys" not in commands.split():
        return None
    out = manage(
        ["client_keys", "create", "--name", f"bench-{run_id}",
         "--scopes", "quotes,depth,historical,batch,option_chain", "--quota", "100000000"],
        env,
    )  # fmt: skip
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise BenchError("manage.py client_keys create printed no key")
    return lines[-1]


# ----------------------------------------------------------------------------- proxies


@dataclass
class Setup:
    fleet: Fleet
    run_id: str
    admin_key: str
    client_key: str | None
    db_env: dict[str, str]


def proxy_env(
    setup: Setup, *, sim_url: str, port: int, prefix: str, **extra: str
) -> dict[str, str]:
    env = base_env(
        **setup.db_env,
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        BREEZE_PROXY_ADMIN_KEY=setup.admin_key,
        BREEZE_SIM_URL=sim_url,
        HOST="127.0.0.1",
        PORT=str(port),
        **extra,
    )
    if setup.client_key:
        env["BREEZE_REQUIRE_CLIENT_KEY"] = "true"
    return env


def start_proxy(setup: Setup, name: str, env: dict[str, str]) -> tuple[Child, str, float]:
    """A proxy instance under the production config; (child, url, seconds to first 200)."""
    child = start_gunicorn(setup.fleet, name, "breeze_proxy.wsgi:application", env)
    url = f"http://127.0.0.1:{env['PORT']}"
    startup = wait_http_ok(child, f"{url}/", timeout_s=30, poll_s=0.01)
    return child, url, startup


# ----------------------------------------------------------------------------- logs


def scan_logs(names: list[str]) -> dict[str, Any]:
    """Count ERROR/CRITICAL JSON lines and 5xx access lines in the proxies' logs."""
    errors = fivexx = 0
    examples: list[str] = []
    for name in names:
        path = RESULTS_DIR / f"{name}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            bad_level = record.get("severity") in ("ERROR", "CRITICAL")
            bad_status = isinstance(record.get("status"), int) and record["status"] >= 500
            errors += bad_level
            fivexx += bad_status
            if (bad_level or bad_status) and len(examples) < 5:
                examples.append(f"{name}: {line[:400]}")
    for example in examples:
        say(f"proxy log: {example}")
    return {"errors": errors, "fivexx": fivexx, "examples": examples}


# ----------------------------------------------------------------------------- table


def ok(passed: bool) -> str:
    return "PASS" if passed else "**FAIL**"


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=5, check=False,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def database(name: str, *, drop: bool = False) -> dict[str, str]:
    """Create (or drop) a database of the run's own on the bench's PostgreSQL server: other
    runs and the test suite on the machine activate sessions of their own simulators in the
    shared one, and the candle store kept from an earlier run would answer this run's misses."""
    import psycopg

    server = DATABASE_URL.replace("postgres://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    return {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings"}


def publish(measure: Callable[[], str], name: str) -> int:
    """A benchmark's whole run: the table ``measure`` returns goes to stdout and, identical,
    to ``bench/results/<name>``; the exit status says how it ended (2: the bench failed, 130:
    interrupted; everything started is stopped either way)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    install_signal_handlers()
    try:
        table = measure()
    except BenchError as exc:
        say(f"FAILED: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    sys.stdout.write(table)
    sys.stdout.flush()
    (RESULTS_DIR / name).write_text(table)
    say(f"done in {elapsed_s():.0f} s; table also in bench/results/{name}")
    return 0


def sync_master(sim_url: str, db_env: dict[str, str]) -> dict[str, Any]:
    """Load the simulator's instrument master, as the daily job does in production: a proxy
    that finds none fetches it itself in the background, which no figure should include."""
    say("syncing the instrument master from the simulator")
    out = manage(
        ["instruments", "sync", "--url", f"{sim_url}/MotherAppMaster/SecurityMaster.zip"],
        base_env(**db_env),
    )
    return json.loads(out)
