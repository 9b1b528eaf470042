"""Schemathesis against the proxy's own OpenAPI schema (``/api/schema/``).

Two runs of the same idea:

* ``test_schemathesis_fast`` (default suite): schemathesis' Python API, in process (WSGI), a
  dozen examples per operation and generation mode, a live session against the simulator.
* ``test_schemathesis_cli`` (``--run-slow``; ``bash scripts/robustness.sh -k fuzz``): the
  schemathesis CLI, as a user runs it, against a real proxy under gunicorn (the production
  ``gunicorn.conf.py``, Redis, PostgreSQL, client keys required, the instrument master synced
  from the simulator as production does), every phase (examples, coverage, fuzzing,
  stateful), positive and negative data, more than 10,000 generated requests:

  1. every operation but the DELETE, with the admin key (admin operations) and a client key
     with every scope (market and instrument operations), split over two processes
     (``/breeze/...`` and ``/api/breeze/...``) that run side by side;
  2. the admin operations without the admin key (no key, or one schemathesis made up): 401;
  3. ``DELETE /breeze/admin/api-session`` with the admin key, last (it clears the session).

  Every check schemathesis has is on (``--checks all``): not_a_server_error (no 5xx at all),
  status_code_conformance, content_type_conformance, response_headers_conformance,
  response_schema_conformance, negative_data_rejection, positive_data_acceptance,
  missing_required_header, unsupported_method, allow_header_conformance, ignored_auth and the
  stateful ones. The run prints requests by status, failures and warnings, and must end with
  no failure, no error and no "schema validation mismatch" warning.

What the schema cannot say, schemathesis cannot know; three answers are explained instead of
failed, each by the server's own reason, and counted in the report (``explained``):

* a schema-valid history request answered 400 ``to_date: Must not be before from_date.``
  (JSON Schema cannot compare two fields);
* a schema-valid request naming one instrument by ``stock_code`` and another by ``symbol``,
  answered 400 ``symbol and stock_code name different instruments`` (which names agree is data,
  the instrument master's);
* a date with an offset written on a day next to an edge of its window, accepted although the
  schema leaves those out (the offset may carry it across midnight into the window; no pattern
  can compute that, so the schema describes offsets inside the window's edges only).

Realistic values come from schemathesis dictionaries (stock codes, listed expiries and strikes,
recent trading days, session tokens the simulator issued), so positive requests reach Breeze's
data and not only "no data"; unknown ones are generated as well.

Lockouts and rate limits are set out of the way on the fuzzed proxy (they are tested in
``tests/access`` and ``test_faults``/``test_load``), so that a made-up admin key does not lock
out the admin key for the rest of the run.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from calendar import monthrange
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOKS_MODULE = "tests.robustness.test_fuzz"
EXPLAINED_LOG_ENV = "BREEZE_FUZZ_EXPLAINED_LOG"
IST = ZoneInfo("Asia/Kolkata")
ADMIN_KEY_HEADER = "X-Proxy-Admin-Key"

# --- What the schema cannot say (shared by the CLI hook and the in-process run) -----------

ORDER_REFUSAL = {"to_date": ["Must not be before from_date."]}
_DISAGREE = re.compile(r"symbol and stock_code name different instruments on [A-Z]+\.")
_OFFSET_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ][0-9:.]+[+-]\d{2}:\d{2}\s*$")
_WINDOWS = {"from_date": "history", "to_date": "history", "expiry_date": "expiry"}


def _window_edges(kind: str) -> set[date]:
    """The days next to an edge of a date window (market.validation's windows, in IST)."""
    today = datetime.now(tz=IST).date()
    if kind == "history":
        last = today + timedelta(days=1)
    else:  # five years ahead; from Feb 29, Feb 28
        year = today.year + 5
        last = today.replace(year=year, day=min(today.day, monthrange(year, today.month)[1]))
    first = date(2000, 1, 1)
    edges = {first, last}
    return edges | {day + timedelta(days=shift) for day in edges for shift in (-1, 1)}


def _offset_near_window_edge(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    for name, kind in _WINDOWS.items():
        value = body.get(name)
        match = _OFFSET_DATE.search(value) if isinstance(value, str) else None
        if match and date.fromisoformat(match[1]) in _window_edges(kind):
            return True
    return False


def explained(failure: str, body: Any, status: int, answer: Any) -> str | None:
    """Why a failed check is not the API's fault, or None when it is.

    ``failure``: the failure's class name; ``body``: the request body sent; ``answer``: the
    decoded response body."""
    details = answer.get("details") if isinstance(answer, dict) else None
    if failure == "RejectedPositiveData" and status == 400:
        if details == ORDER_REFUSAL:
            return "history: to_date before from_date (a rule JSON Schema cannot state)"
        problems = details.get("symbol") if isinstance(details, dict) else None
        if isinstance(problems, list) and any(_DISAGREE.fullmatch(str(p)) for p in problems):
            return "stock_code and symbol name different instruments (the master's data)"
    if failure == "AcceptedNegativeData" and _offset_near_window_edge(body):
        return "an offset carries a time across a date window's edge (no pattern can say)"
    return None


def _decoded(content: bytes | str | None) -> Any:
    try:
        return json.loads(content or b"")
    except ValueError:
        return None


if os.environ.get("SCHEMATHESIS_HOOKS") == HOOKS_MODULE:  # loaded by the schemathesis CLI
    import schemathesis

    @schemathesis.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        reason = explained(
            type(failure).__name__, case.body, response.status_code, _decoded(response.content)
        )
        if reason is None:
            return True
        log = os.environ.get(EXPLAINED_LOG_ENV)
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(json.dumps({"reason": reason, "operation": case.operation.label}) + "\n")
        return False


# --- The in-process run (default suite) ---------------------------------------------------

FAST_EXAMPLES = 8  # per operation and generation mode (the --run-slow CLI run goes deep)


@pytest.fixture
def fuzz_setup(sim, transactional_db, settings):
    """Simulator limits out of the way, a live session, and the keys to send."""
    from instruments.services import instruments_sync
    from sessions_admin.services import breeze_session_activate
    from tests.robustness.conftest import create_client_key

    sim.configure(rate_per_min=1_000_000, rate_per_day=10_000_000)
    settings.BREEZE_RATE_PER_MIN = 1_000_000
    settings.BREEZE_RATE_PER_DAY = 10_000_000
    settings.BREEZE_REQUIRE_CLIENT_KEY = True

    def activate() -> None:
        breeze_session_activate(api_session=sim.issue_session(), activated_by="robustness-fuzz")

    activate()
    instruments_sync()  # the master the daily job loads (from the simulator here)
    return {"activate": activate, "client_key": create_client_key("robustness-fuzz")}


@dataclass
class _Fuzzer:
    """Runs every operation of the schema (Python API) and collects statuses and failures."""

    admin_key: str
    client_key: str | None
    activate: Any
    examples: int
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple, str] = field(default_factory=dict)
    explained: Counter = field(default_factory=Counter)
    unsatisfiable: list[str] = field(default_factory=list)

    def add_keys(self, case: Any) -> None:
        """The admin key on admin operations, the client key on the others (set on the case,
        so a negative case that only mangled a key header becomes a positive one)."""
        if "/admin/" in case.path:
            name, value = ADMIN_KEY_HEADER, self.admin_key
        elif self.client_key:
            name, value = "X-Proxy-Key", self.client_key
        else:
            return
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != name.lower()}
        headers[name] = value
        case.headers = headers

    def send(self, operation: Any, mode: Any, case: Any) -> None:
        from schemathesis.core.failures import FailureGroup

        self.add_keys(case)
        try:
            response = case.call()
        finally:
            if case.method.upper() == "DELETE":
                self.activate()
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            answer = _decoded(response.content)
            left = []
            for failure in group.exceptions:
                reason = explained(type(failure).__name__, case.body, response.status_code, answer)
                if reason is None:
                    left.append(failure)
                else:
                    self.explained[reason] += 1
            if left:
                titles = ", ".join(sorted({failure.title for failure in left}))
                code = answer.get("code", "") if isinstance(answer, dict) else ""
                key = (operation.label, mode.value, titles, response.status_code, code)
                self.failures.setdefault(key, str(group))

    def run_operation(self, operation: Any, mode: Any) -> None:
        from hypothesis import HealthCheck, Phase, given
        from hypothesis import settings as hypothesis_settings
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            self.send(operation, mode, case)

        try:
            fuzz()
        except Unsatisfiable:  # nothing to negate (e.g. GET /breeze/health has no input)
            assert mode == GenerationMode.NEGATIVE, operation.label
            self.unsatisfiable.append(operation.label)


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks as oa_checks

    return [
        not_a_server_error,
        oa_checks.status_code_conformance,
        oa_checks.content_type_conformance,
        oa_checks.response_headers_conformance,
        oa_checks.response_schema_conformance,
        oa_checks.negative_data_rejection,
        oa_checks.positive_data_acceptance,
    ]


CHECKS: list[Any] = []


def test_schemathesis_fast(fuzz_setup, settings):
    """In process: every operation, positive and negative, with the response checks on."""
    import schemathesis
    from schemathesis import GenerationMode

    from breeze_proxy.wsgi import application

    CHECKS[:] = _checks()
    started = time.monotonic()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    fuzzer = _Fuzzer(
        admin_key=settings.BREEZE_PROXY_ADMIN_KEY,
        client_key=fuzz_setup["client_key"],
        activate=fuzz_setup["activate"],
        examples=FAST_EXAMPLES,
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer.run_operation(operation, mode)
    total = sum(fuzzer.statuses.values())
    print(
        f"\n[fuzz fast] {total} generated requests in {time.monotonic() - started:.1f} s; "
        f"by status: {dict(sorted(fuzzer.statuses.items()))}; failures: {len(fuzzer.failures)}; "
        f"explained: {dict(fuzzer.explained)}; no negative case for: {fuzzer.unsatisfiable}"
    )
    for operation, mode, titles, status, code in fuzzer.failures:
        print(f"  FINDING {operation} [{mode}] {status} {code or '-'}: {titles}")
    assert not fuzzer.failures, "\n\n".join(list(fuzzer.failures.values())[:8])


# --- The CLI run against gunicorn (--run-slow) --------------------------------------------

CLI_EXAMPLES = int(os.environ.get("BREEZE_FUZZ_EXAMPLES", "400"))  # per operation and mode
# Operations to leave out (a regex on the path), e.g. while another team fixes one.
CLI_EXCLUDE = os.environ.get("BREEZE_FUZZ_EXCLUDE_PATH_REGEX", "")
CLI_MINIMUM_REQUESTS = 10_000
FUZZ_ENV = {
    "BREEZE_REQUIRE_CLIENT_KEY": "true",
    "BREEZE_RATE_PER_MIN": "100000000",
    "BREEZE_RATE_PER_DAY": "1000000000",
    "BREEZE_OPEN_CALLS_PER_MINUTE": "0",
    "BREEZE_ADMIN_LOCKOUT_PER_IP": "100000000",
    "BREEZE_ADMIN_LOCKOUT_GLOBAL": "100000000",
    "BREEZE_TIMEOUT_S": "5",
    "WEB_CONCURRENCY": "2",
    "GUNICORN_THREADS": "16",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class CliRun:
    name: str
    selection: list[str]  # schemathesis filter options
    examples: int
    admin_key: bool = True
    directory: Path | None = None
    process: subprocess.Popen | None = None
    started: float = 0.0
    elapsed: float = 0.0
    exit_code: int | None = None

    def report(self, kind: str) -> dict[str, Any]:
        assert self.directory is not None
        found = sorted((self.directory / "report").glob(f"{kind}-*.json"))
        assert found, f"{self.name}: no {kind} report; see {self.directory / 'output.txt'}"
        return json.loads(found[-1].read_text())


def _toml(value: Any) -> str:
    return json.dumps(value)  # a JSON string or list is a TOML string or array


def _write_config(
    run: CliRun,
    *,
    admin_key: str,
    client_key: str,
    dictionaries: dict[str, tuple[list[Any], float, str, str | None]],
) -> Path:
    assert run.directory is not None
    lines = [f"hooks = {_toml(HOOKS_MODULE)}"]
    lines += ["[auth.openapi.ClientKey]", f"api_key = {_toml(client_key)}"]
    if run.admin_key:
        lines += ["[auth.openapi.AdminKey]", f"api_key = {_toml(admin_key)}"]
    bindings: dict[str | None, list[str]] = {}  # operation path regex (None: all) -> lines
    for name, (values, probability, parameter, operations) in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}"]
        bindings.setdefault(operations, []).extend(
            [f"dictionary = {_toml(name)}", f"probability = {probability}", parameter]
        )
    for operations, binding in bindings.items():
        prefix = "parameters"
        if operations is not None:
            lines += ["[[operations]]", f"include-path-regex = {_toml(operations)}"]
            prefix = "operations.parameters"
        for index in range(0, len(binding), 3):
            dictionary, probability, parameter = binding[index : index + 3]
            lines += [f"[{prefix}.{_toml(parameter)}]", dictionary, probability]
    path = run.directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _dictionaries(tokens: list[str]) -> dict[str, tuple[list[Any], float, str, str | None]]:
    """Values Breeze (the simulator) has data for: name -> (values, how often to use one, the
    parameter they go in, the operations (a path regex; None: all)). Only where no cross-field
    rule depends on the value: a listed expiry dropped into a cash quote would make a
    schema-valid body invalid, so listed expiries go to option chains only (where an expiry
    is always allowed), and no symbol is drawn from a list (it would name another instrument
    than the stock_code drawn from one). A from_date after the to_date can still happen: the
    server's reason explains those."""
    from bench.workload import STOCKS, option_quotes, trading_days

    today = datetime.now(tz=IST).date()
    days = trading_days(40, before=today - timedelta(days=1))  # newest first
    expiries = sorted({body["expiry_date"] for body in option_quotes()})
    return {
        "codes": ([*STOCKS, "NIFTY"], 0.6, "body.stock_code", None),
        "from_days": (days[20:], 0.7, "body.from_date", None),
        "to_days": (days[:20], 0.7, "body.to_date", None),
        "tokens": (tokens, 0.5, "body.api_session", None),
        "names": (["RELIND", "NIFTY", "RELIANCE", "NIFTY 50"], 0.6, "path.text", None),
        "underlyings": (["NIFTY", "RELIANCE"], 0.6, "query.symbol", None),
        "chain_codes": (["NIFTY"], 0.7, "body.stock_code", "/option-chain$"),
        "chain_expiries": (expiries, 0.7, "body.expiry_date", "/option-chain$"),
    }


def _start(run: CliRun, config: Path, env: dict[str, str], *, url: str, seed: int) -> None:
    assert run.directory is not None
    argv = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config),
        "--no-color", "run", f"{url}/api/schema/", "--checks", "all", "--mode", "all",
        "--max-examples", str(run.examples), "--workers", "1", "--report", "json,har",
        "--report-dir", str(run.directory / "report"), "--seed", str(seed),
        "--request-timeout", "30", *run.selection,
    ]  # fmt: skip
    # One worker per process: the CLI's worker threads hit CPython 3.11's "AST constructor
    # recursion depth mismatch" in Hypothesis' lambda descriptions; processes run side by side.
    output = (run.directory / "output.txt").open("wb")
    run.started = time.monotonic()
    run.process = subprocess.Popen(  # in its own directory: the CLI keeps a cache in cwd
        argv, cwd=run.directory, env=env, stdout=output, stderr=subprocess.STDOUT
    )


def _wait_for_master(url: str, client_key: str, timeout: float = 180) -> None:
    """The proxy syncs the SecurityMaster on its own (as in production) when it finds none;
    until then the instrument endpoints answer 503. Fuzz the steady state."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{url}/breeze/instruments", params={"q": "NIFTY"}, headers={"X-Proxy-Key": client_key},
            timeout=30,
        )  # fmt: skip
        if answer.status_code == 200:
            return
        time.sleep(1)
    pytest.fail(f"the proxy loaded no instrument master in {timeout:.0f} s: {answer.text[:300]}")


def _wait(run: CliRun, timeout: float) -> None:
    assert run.process is not None
    run.exit_code = run.process.wait(timeout=timeout)
    run.elapsed = time.monotonic() - run.started


@pytest.fixture(scope="module")
def fuzz_proxy(start_proxy):
    return start_proxy("fuzz", **FUZZ_ENV)


@pytest.mark.multiprocess
def test_schema_is_served_to_concurrent_first_requests(start_proxy):
    """A fresh worker asked for the schema by many threads at once answers every one (it used
    to answer 500 to most: drf-spectacular resolves its extensions lazily and racily)."""
    import requests

    proxy = start_proxy("schema-race", WEB_CONCURRENCY="1", GUNICORN_THREADS="24")

    def fetch(_: int) -> int:
        return requests.get(f"{proxy.url}/api/schema/?format=json", timeout=60).status_code

    with ThreadPoolExecutor(24) as pool:
        statuses = Counter(pool.map(fetch, range(24)))
    assert statuses == {200: 24}, statuses


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.timeout(3600)
def test_schemathesis_cli(fuzz_proxy, sim, shared_redis, transactional_db, tmp_path):
    from tests.multiprocess.conftest import ADMIN_KEY
    from tests.robustness.conftest import create_client_key

    started = time.monotonic()
    seed = int(os.environ.get("BREEZE_FUZZ_SEED") or random.randrange(2**32))
    print(f"\n[fuzz cli] seed {seed} (BREEZE_FUZZ_SEED={seed} repeats this run)")
    sim.reset()
    sim.configure(rate_per_min=100_000_000, rate_per_day=1_000_000_000)
    activated = fuzz_proxy.activate(sim.issue_session())
    assert activated.status_code == 200, activated.text
    client_key = create_client_key("robustness-fuzz-cli") or ""
    _wait_for_master(fuzz_proxy.url, client_key)
    tokens = [sim.issue_session() for _ in range(5)]
    dictionaries = _dictionaries(tokens)
    explained_log = tmp_path / "explained.jsonl"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        EXPLAINED_LOG_ENV: str(explained_log),
        "PYTHONPATH": str(REPO),
    }
    excluded = ["--exclude-path-regex", CLI_EXCLUDE] if CLI_EXCLUDE else []
    admin = ["--include-path-regex", "/admin/"]
    breeze = ["--include-path-regex", "^/breeze/", "--exclude-method", "DELETE", *excluded]
    api = ["--include-path-regex", "^/api/", "--exclude-method", "DELETE", *excluded]
    waves = [
        [
            CliRun("keys /breeze", breeze, CLI_EXAMPLES),
            CliRun("keys /api/breeze", api, CLI_EXAMPLES),
            CliRun("no admin key", admin, CLI_EXAMPLES // 2, admin_key=False),
        ],
        [CliRun("DELETE session", ["--include-method", "DELETE"], CLI_EXAMPLES // 4)],
    ]
    for wave in waves:
        for run in wave:
            run.directory = tmp_path / re.sub(r"\W+", "-", run.name).strip("-")
            run.directory.mkdir()
            config = _write_config(
                run, admin_key=ADMIN_KEY, client_key=client_key, dictionaries=dictionaries
            )
            _start(run, config, env, url=fuzz_proxy.url, seed=seed)
        for run in wave:
            _wait(run, timeout=3000)

    runs = [run for wave in waves for run in wave]
    _summarise(runs, explained_log, time.monotonic() - started)


def _summarise(runs: list[CliRun], explained_log: Path, elapsed: float) -> None:
    statuses: Counter = Counter()
    requests = generated = 0
    failures: list[str] = []
    errors: list[str] = []
    warnings: dict[str, set[str]] = {}
    for run in runs:
        assert run.directory is not None
        document, har = run.report("json"), run.report("har")
        entries = har["log"]["entries"]
        requests += len(entries)
        statuses.update(entry["response"]["status"] for entry in entries)
        generated += document["test_cases"]["generated"]
        failures += [
            f"{run.name}: {group['code']} {group['title']} x{group['count']} {group['operations']}"
            for group in document["failures"]
        ]
        errors += [f"{run.name}: {e['title']} x{e['count']}" for e in document["errors"]]
        run_warnings = {
            kind: sorted(map(str, labels))
            for kind, labels in document["warnings"].items()
            if isinstance(labels, list | dict) and labels
        }
        for kind, labels in run_warnings.items():
            warnings.setdefault(kind, set()).update(labels)
        print(
            f"  [{run.name}] exit {run.exit_code}, {len(entries)} requests in {run.elapsed:.0f} s, "
            f"{document['test_cases']}; failures: {len(document['failures'])}; warnings: "
            f"{json.dumps(run_warnings)}"
        )
    explained: Counter = Counter()
    if explained_log.exists():
        for line in explained_log.read_text().splitlines():
            explained[json.loads(line)["reason"]] += 1
    print(
        f"\n[fuzz cli] {requests} requests ({generated} generated test cases) in {elapsed:.0f} s; "
        f"by status: {dict(sorted(statuses.items()))}\n"
        f"  failures: {len(failures)}; errors: {len(errors)}; explained (not failures): "
        f"{dict(explained)}; warnings: {sorted(warnings)} (per run above; missing_auth is the "
        "point of the run without the admin key)"
    )
    for line in failures + errors:
        print(f"  FINDING {line}")
    for run in runs:  # schemathesis' own account of each failure: the request to replay
        assert run.directory is not None
        text = (run.directory / "output.txt").read_text(errors="replace")
        if run.exit_code and "= FAILURES =" in text:
            section = text.split("= FAILURES =", 1)[1].split("= WARNINGS =", 1)[0]
            print(f"--- {run.name} failures ---{section[:6000]}")
    outputs = "\n".join(
        f"--- {run.name}: {run.directory / 'output.txt'}" for run in runs if run.exit_code
    )
    assert requests >= CLI_MINIMUM_REQUESTS, f"only {requests} requests"
    assert not failures, f"{failures}\n{outputs}"
    assert not errors, f"{errors}\n{outputs}"
    assert not warnings.get("validation_mismatch"), warnings["validation_mismatch"]
    assert all(run.exit_code == 0 for run in runs), outputs
    assert not any(status >= 500 for status in statuses), statuses
