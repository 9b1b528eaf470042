"""Schemathesis against the proxy's own OpenAPI schema (``/api/schema/``), in process (WSGI).

Every operation of the schema is fuzzed with generated requests, positive (schema-valid) and
negative (schema-violating) ones, with the valid admin key on the admin operations, a valid
client key on the market ones once the ``access`` app exists, and a live session activated
against the simulator. Each response must pass:

* ``not_a_server_error``: no 5xx other than the documented upstream answers (502/503/504 are
  documented statuses of the market operations and carry the error envelope; a 500 never is);
* ``status_code_conformance``: the status is one the operation documents;
* ``content_type_conformance`` and ``response_headers_conformance``;
* ``response_schema_conformance``: the body matches the documented schema of that status;
* ``negative_data_rejection``: a schema-violating request is refused with a 4xx.

Left out, and why:

* ``positive_data_acceptance`` (schema-valid data must get a 2xx): the request schema cannot
  express Breeze's own rules (an F&O exchange needs futures/options and an expiry, a date range
  must be ordered, a stock code must exist), so a schema-valid request is correctly answered
  400 ``invalid_request`` or 404 ``no_data``; status and body conformance still apply to those.
* ``missing_required_header``, ``ignored_auth``, ``object_level_authorization``: negative
  authentication tests; this run always sends the valid keys (the admin-key tests live in
  ``tests/sessions``). ``use_after_free``, ``ensure_resource_availability``: stateful
  resource checks; the API has no created resources. ``unsupported_method``,
  ``allow_header_conformance``: need schemathesis' coverage phase (this run uses the fuzzing
  strategies only).

``DELETE /breeze/admin/api-session`` clears the live session; it is fuzzed too, and the test
activates a new session right after every DELETE, so later requests still reach the simulator.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as oa_checks

from tests.robustness.conftest import access_installed, create_client_key

ADMIN_KEY_HEADER = "X-Proxy-Admin-Key"
CHECKS = [
    not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_headers_conformance,
    oa_checks.response_schema_conformance,
    oa_checks.negative_data_rejection,
]
FAST_EXAMPLES = 12  # per operation and generation mode
SLOW_EXAMPLES = 40  # 20 operations x 2 modes x 40 ≈ 1,600 requests
SLOW_MINIMUM = 1000


@pytest.fixture
def fuzz_setup(sim, transactional_db, settings):
    """Simulator limits out of the way, a live session, and the keys to send."""
    from sessions_admin.services import breeze_session_activate

    sim.configure(rate_per_min=1_000_000, rate_per_day=10_000_000)
    settings.BREEZE_RATE_PER_MIN = 1_000_000
    settings.BREEZE_RATE_PER_DAY = 10_000_000

    def activate() -> None:
        breeze_session_activate(api_session=sim.issue_session(), activated_by="robustness-fuzz")

    activate()
    return {"activate": activate, "client_key": create_client_key("robustness-fuzz")}


class _Fuzzer:
    """Runs every operation of the schema and collects statuses and check failures."""

    def __init__(self, *, admin_key: str, client_key: str | None, activate, examples: int):
        self.admin_key = admin_key
        self.client_key = client_key
        self.activate = activate
        self.examples = examples
        self.statuses: Counter = Counter()
        self.failures: dict[tuple, str] = {}
        self.failure_count = 0
        self.unsatisfiable: list[str] = []

    def add_keys(self, case) -> None:
        """Send the valid admin key (admin operations) or client key (market operations).

        Set on the case itself, so a negative case whose only mutation was dropping or
        mangling the admin-key header becomes a positive one: auth negatives are not in scope.
        """
        if case.path.startswith(("/breeze/admin", "/api/breeze/admin")):
            name, value = ADMIN_KEY_HEADER, self.admin_key
        elif self.client_key:
            name, value = "X-Proxy-Key", self.client_key
        else:
            return
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != name.lower()}
        headers[name] = value
        case.headers = headers

    def send(self, operation, mode: GenerationMode, case) -> None:
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
            self.record(operation, mode, response, group)

    def record(self, operation, mode: GenerationMode, response, group: FailureGroup) -> None:
        """One example per (operation, mode, failed checks, status, error code)."""
        try:
            code = response.json().get("code", "")
        except Exception:  # not JSON, or not an object
            code = ""
        titles = ", ".join(sorted({failure.title for failure in group.exceptions}))
        key = (operation.label, mode.value, titles, response.status_code, code)
        self.failures[key] = self.failures.get(key) or str(group)
        self.failure_count += 1

    def run_operation(self, operation, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            self.send(operation, mode, case)

        try:
            fuzz()
        except Unsatisfiable:  # nothing to negate (e.g. GET /breeze/health has no input)
            assert mode == GenerationMode.NEGATIVE, operation.label
            self.unsatisfiable.append(operation.label)


def _run(fuzz_setup, settings, examples: int) -> _Fuzzer:
    from breeze_proxy.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    fuzzer = _Fuzzer(
        admin_key=settings.BREEZE_PROXY_ADMIN_KEY,
        client_key=fuzz_setup["client_key"],
        activate=fuzz_setup["activate"],
        examples=examples,
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer.run_operation(operation, mode)
    return fuzzer


def _report(label: str, fuzzer: _Fuzzer, elapsed: float) -> int:
    total = sum(fuzzer.statuses.values())
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(fuzzer.statuses.items()))
    print(
        f"\n[fuzz {label}] {total} generated requests in {elapsed:.1f} s "
        f"(access app: {access_installed()}); by status: {by_status}; "
        f"responses failing a check: {fuzzer.failure_count} "
        f"({len(fuzzer.failures)} distinct); no negative case for: {fuzzer.unsatisfiable}"
    )
    for operation, mode, titles, status, code in fuzzer.failures:
        print(f"  FINDING {operation} [{mode}] {status} {code or '-'}: {titles}")
    return total


def _failure_report(fuzzer: _Fuzzer) -> str:
    return "\n\n".join(list(fuzzer.failures.values())[:8])


def test_schemathesis_fast(fuzz_setup, settings):
    started = time.monotonic()
    fuzzer = _run(fuzz_setup, settings, FAST_EXAMPLES)
    _report("fast", fuzzer, time.monotonic() - started)
    assert not fuzzer.failures, _failure_report(fuzzer)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_schemathesis_long(fuzz_setup, settings):
    started = time.monotonic()
    fuzzer = _run(fuzz_setup, settings, SLOW_EXAMPLES)
    total = _report("long", fuzzer, time.monotonic() - started)
    assert total >= SLOW_MINIMUM, f"only {total} generated requests"
    assert not fuzzer.failures, _failure_report(fuzzer)
