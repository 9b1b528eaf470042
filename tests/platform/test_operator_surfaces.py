"""What operators and their scripts read: the ``breeze_session`` command (JSON on stdout and
nothing else), the session state in its three places (health, the admin API, the command) in
one shape and one time format, the endpoint list at ``/``, and Swagger UI served by the app
itself."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver

from tests import leakcheck
from tests.processes import database_url

REPO = Path(__file__).resolve().parents[2]
IST_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+05:30$")
SESSION_FIELDS = {
    "session_active",
    "session_valid",
    "status",
    "breeze_user_id",
    "activated_at",
    "activated_by",
    "expires_at",
    "seconds_left",
    "last_error",
    "last_failed_activation",
}


# --- the breeze_session command, as an operator runs it ---------------------------------------


@pytest.fixture
def command(sim, transactional_db, tmp_path):
    """``manage.py breeze_session ...`` in its own process: production settings (not the test
    settings), LOG_LEVEL=INFO, the test database and the simulator."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "breeze_proxy.settings",
        "DATABASE_URL": database_url(),
        "BREEZE_SIM_URL": sim.url,
        "BREEZE_TIMEOUT_S": "5",
        "LOG_LEVEL": "INFO",
    }
    runs = []

    def run(*args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "manage.py", "breeze_session", *args],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        log = tmp_path / f"command-{len(runs)}.log"
        log.write_text(done.stdout + "\n" + done.stderr)
        leakcheck.remember_log_file(log)  # no token in what the command printed either
        runs.append(done)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        cache.clear()  # the command changed the database behind this process's caches
        return done

    return run


def _json_only(stdout: str) -> dict:
    """The whole of stdout is one JSON document (``| jq`` works)."""
    try:
        return json.loads(stdout)
    except ValueError as exc:
        raise AssertionError(f"stdout is not only JSON:\n{stdout[:2000]}") from exc


def _assert_session_state(state: dict) -> None:
    assert set(state) == SESSION_FIELDS, set(state) ^ SESSION_FIELDS
    assert isinstance(state["seconds_left"], int)
    assert state["seconds_left"] >= 0
    for name in ("expires_at", "activated_at"):
        assert state[name] is None or IST_TIME.match(state[name]), (name, state[name])


def test_every_action_prints_only_json_on_stdout(command, sim, tmp_path):
    token_file = tmp_path / "token.txt"
    token_file.write_text(sim.issue_session() + "\n")

    runs = {
        "status (none)": command("status"),
        "set (stdin)": command("set", stdin=sim.issue_session() + "\n"),
        "set --token-file": command("set", "--token-file", str(token_file)),
        "status": command("status"),
        "regenerate": command("regenerate"),
        "rotate-keys": command("rotate-keys"),
        "clear": command("clear"),
    }

    for action, done in runs.items():
        try:
            _assert_session_state(_json_only(done.stdout))
        except AssertionError as exc:
            raise AssertionError(f"{action}: {exc}") from exc
    assert _json_only(runs["status (none)"].stdout)["session_active"] is False
    assert _json_only(runs["status"].stdout)["session_active"] is True
    assert _json_only(runs["status"].stdout)["seconds_left"] > 0
    assert _json_only(runs["clear"].stdout)["session_active"] is False


def test_logs_go_to_stderr_as_json_lines(command, sim):
    done = command("set", stdin=sim.issue_session() + "\n")

    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(record.get("message") == "session activated" for record in records), done.stderr
    assert all("severity" in record for record in records)
    _json_only(done.stdout)


def test_a_failed_activation_prints_nothing_on_stdout_and_is_shown_after(command, api, settings):
    failed = command("set", stdin="not-a-token-breeze-issued\n", ok=False)
    status = command("status")

    assert failed.returncode != 0
    assert failed.stdout.strip() == ""
    assert failed.stderr.strip()
    state = _json_only(status.stdout)
    failure = state["last_failed_activation"]
    assert set(failure) == {"at", "by", "error"}
    assert failure["by"] == "cli:set"
    assert IST_TIME.match(failure["at"])
    assert failure["error"]

    over_http = api.get(
        "/breeze/admin/session", HTTP_X_PROXY_ADMIN_KEY=settings.BREEZE_PROXY_ADMIN_KEY
    )
    assert over_http.status_code == HTTPStatus.OK
    assert over_http.json()["last_failed_activation"] == failure


# --- one session state, one time format, everywhere -----------------------------------------


def test_expiry_and_seconds_left_are_the_same_everywhere(command, api, sim, settings):
    admin = {"HTTP_X_PROXY_ADMIN_KEY": settings.BREEZE_PROXY_ADMIN_KEY}
    activated = api.post(
        "/breeze/admin/api-session", {"api_session": sim.issue_session()}, format="json", **admin
    )
    assert activated.status_code == HTTPStatus.OK, activated.content
    cache.clear()

    surfaces = {
        "POST /breeze/admin/api-session": activated.json()["session"],
        "GET /breeze/admin/session": api.get("/breeze/admin/session", **admin).json(),
        "GET /breeze/admin/api-session": api.get("/breeze/admin/api-session", **admin).json(),
        "GET /breeze/health": api.get("/breeze/health").json(),
        "manage.py breeze_session status": _json_only(command("status").stdout),
    }

    expiries = {name: state["expires_at"] for name, state in surfaces.items()}
    assert len(set(expiries.values())) == 1, expiries
    assert IST_TIME.match(next(iter(expiries.values())))
    assert next(iter(expiries.values())).endswith("T00:00:00+05:30")  # Breeze's midnight
    lefts = {name: state["seconds_left"] for name, state in surfaces.items()}
    assert all(isinstance(left, int) and left > 0 for left in lefts.values()), lefts
    assert max(lefts.values()) - min(lefts.values()) <= 30, lefts
    for name, state in surfaces.items():
        if name != "GET /breeze/health":
            _assert_session_state(state)


def test_admin_session_shows_the_last_failed_activation(api, sim, settings, db):
    admin = {"HTTP_X_PROXY_ADMIN_KEY": settings.BREEZE_PROXY_ADMIN_KEY}
    api.post(
        "/breeze/admin/api-session", {"api_session": sim.issue_session()}, format="json", **admin
    )
    refused = api.post(
        "/breeze/admin/api-session", {"api_session": "unknown-token-4242"}, format="json", **admin
    )

    state = api.get("/breeze/admin/session", **admin).json()

    assert 400 <= refused.status_code < 600
    assert state["session_active"] is True, "a failed activation replaced the live session"
    failure = state["last_failed_activation"]
    assert set(failure) == {"at", "by", "error"}
    assert failure["by"].startswith("admin-api")
    assert IST_TIME.match(failure["at"])
    assert failure["error"]


# --- GET / lists every endpoint -------------------------------------------------------------


def _routes() -> list[tuple[str, object]]:
    """Every route of the URL configuration and its view, but for ``/`` itself, the Django
    admin site and the /api/breeze/ copies of /breeze/."""
    found: list[tuple[str, object]] = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if not route.startswith(("admin/", "api/breeze/")):
                    walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route:
                found.append(("/" + route, pattern.callback))

    walk(get_resolver().url_patterns, "")
    return found


def _sample_path(route: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", "SAMPLE", route)


def _allowed(client, route: str, admin_key: str) -> set[str]:
    answer = client.options(_sample_path(route), HTTP_X_PROXY_ADMIN_KEY=admin_key)
    allowed = {m.strip() for m in answer.get("Allow", "").split(",") if m.strip()}
    return allowed - {"OPTIONS", "HEAD"}


def test_root_lists_every_route_and_method(client, settings):
    """The methods of each class-based route come from its own answer to OPTIONS (its
    ``Allow`` header), not from the same reading of the URL configuration the index does;
    a function view must at least answer GET."""
    listed = {
        line
        for line in client.get("/").json()["endpoints"]
        if not line.startswith("HEAD ")  # see the next test
    }

    expected = set()
    client.raise_request_exception = False
    for route, view in _routes():
        view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if view_class is None or route in ("/api/docs/", "/api/schema/"):
            answer = client.get(_sample_path(route))
            assert answer.status_code not in (404, 405), route
            assert answer.status_code < 500, route
            expected.add(f"GET {route}")
            continue
        allowed = _allowed(client, route, settings.BREEZE_PROXY_ADMIN_KEY)
        assert allowed, route
        expected |= {f"{method} {route}" for method in allowed}

    assert listed == expected, {"missing": expected - listed, "extra": listed - expected}
    assert {"GET /api/schema/", "GET /api/docs/", "POST /breeze/quotes/batch"} <= listed
    assert {"GET /breeze/admin/session", "DELETE /breeze/admin/api-session"} <= listed
    assert not any(line.split(" ", 1)[1].startswith("/api/breeze/") for line in listed)


def test_root_lists_methods_as_the_readme_does_without_head(client):
    endpoints = client.get("/").json()["endpoints"]

    assert [line for line in endpoints if line.startswith(("HEAD ", "OPTIONS "))] == []


def test_options_on_every_listed_route_is_never_a_500(client, settings):
    client.raise_request_exception = False
    for route, _ in _routes():
        answer = client.options(
            _sample_path(route), HTTP_X_PROXY_ADMIN_KEY=settings.BREEZE_PROXY_ADMIN_KEY
        )
        assert answer.status_code < 500, (route, answer.status_code)


# --- Swagger UI from the app itself ---------------------------------------------------------


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_swagger_ui_references_no_other_host(client):
    page = client.get("/api/docs/")
    html = page.content.decode()

    assert page.status_code == HTTPStatus.OK
    assert not re.search(r"(?i)\b(https?:)?//", html.replace("//localhost", "")), re.findall(
        r"(?i)[\w.:/-]*//[\w.-]+", html
    )
    assert "cdn" not in html.lower()
    parser = _References()
    parser.feed(html)
    assert parser.urls, "no asset references found"
    assert all(not urlsplit(url).netloc for url in parser.urls), parser.urls


def test_every_swagger_ui_asset_is_served_by_the_app(client):
    html = client.get("/api/docs/").content.decode()
    parser = _References()
    parser.feed(html)

    for url in parser.urls:
        answer = client.get(url)
        assert answer.status_code == HTTPStatus.OK, url
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        assert content, url
    scripts = [url for url in parser.urls if url.endswith(".js")]
    assert any("swagger-ui-bundle" in url for url in scripts)
    assert all(url.startswith("/static/drf_spectacular_sidecar/") for url in parser.urls)


def test_swagger_ui_does_not_send_the_schema_to_the_online_validator(client):
    """Swagger UI's bundle defaults ``validatorUrl`` to https://validator.swagger.io: the page
    would load a badge from there with the schema's address. ``null`` switches it off."""
    html = client.get("/api/docs/").content.decode()
    settings_json = re.search(r"const swaggerSettings = (\{.*?\});", html, re.S)

    assert settings_json is not None
    assert json.loads(settings_json.group(1)).get("validatorUrl", "unset") is None


# --- the README's error table lists every code the proxy emits ------------------------------

PROJECT_PACKAGES = sorted(
    path.name
    for path in REPO.iterdir()
    if (path / "__init__.py").exists() and path.name not in ("tests", "bench", "scripts")
)


def _project_modules() -> list[str]:
    import pkgutil

    names = []
    for package in PROJECT_PACKAGES:
        names.append(package)
        for info in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1] != "__main__" and ".migrations" not in info.name:
                names.append(info.name)
    return names


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _literal_codes() -> dict[str, set[int | None]]:
    """``code="..."`` in any call (``envelope(...)`` and its like) and ``"code": "..."`` in any
    dict, in the project's source; the status is not known from the literal."""
    import ast

    codes: dict[str, set[int | None]] = {}
    for package in PROJECT_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                values = []
                if isinstance(node, ast.Call):
                    values = [kw.value for kw in node.keywords if kw.arg == "code"]
                elif isinstance(node, ast.Dict):
                    values = [
                        value
                        for key, value in zip(node.keys, node.values, strict=True)
                        if isinstance(key, ast.Constant) and key.value == "code"
                    ]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        codes.setdefault(value.value, set()).add(None)
    return codes


def _codes_passed_to(name: str, position: int) -> set[str]:
    """The literal codes given to ``name(...)`` (positionally at ``position``, or as
    ``code=``) anywhere in the project's source."""
    import ast

    codes = set()
    for package in PROJECT_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if called != name:
                    continue
                values = [kw.value for kw in node.keywords if kw.arg == "code"]
                if len(node.args) > position:
                    values.append(node.args[position])
                codes |= {
                    value.value
                    for value in values
                    if isinstance(value, ast.Constant) and isinstance(value.value, str)
                }
    assert codes, f"{name} takes its code per instance, and no call site gives one"
    return codes


def emitted_codes() -> dict[str, set[int | None]]:
    """Every ``code`` the proxy can answer with, and the statuses it comes with."""
    import importlib

    from rest_framework import exceptions as drf_exceptions

    from breeze.errors import ProxyError
    from breeze_proxy import errors, gunicorn_worker

    for name in _project_modules():
        importlib.import_module(name)
    codes = _literal_codes()

    def add(code: str, status: int | None) -> None:
        codes.setdefault(code, set()).add(status)

    for cls in _subclasses(ProxyError) | {ProxyError}:
        parameters = list(inspect.signature(cls.__init__).parameters)
        if "code" in parameters:  # the code comes with each instance: read the call sites
            for code in _codes_passed_to(cls.__name__, parameters.index("code") - 1):
                add(code, int(cls.status_code))
        else:
            add(cls.code, int(cls.status_code))
    for exc, (code, _) in errors._DRF_CODES.items():
        add(code, exc.status_code)
    add("invalid_request", drf_exceptions.ValidationError.status_code)
    add("request_failed", drf_exceptions.APIException.status_code)  # any other APIException
    add("request_too_large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # the envelope(...) literals
    assert '"request_failed"' in Path(errors.__file__).read_text()
    for status, (code, _) in gunicorn_worker._ANSWERS.items():
        add(code, status)
    add(gunicorn_worker._INTERNAL[0], HTTPStatus.INTERNAL_SERVER_ERROR)
    return {code: {int(s) for s in statuses if s is not None} for code, statuses in codes.items()}


def readme_error_table(text: str | None = None) -> dict[str, set[int]]:
    """The backticked codes of README.md's "### Errors" table (in its column headed "code"),
    with the status of the rows they are on."""
    text = (REPO / "README.md").read_text() if text is None else text
    section = text.split("### Errors", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    header = rows[0]
    column = next(i for i, name in enumerate(header) if "code" in name)
    table: dict[str, set[int]] = {}
    for cells in rows[1:]:
        if not cells[0][:3].isdigit():
            continue  # the |---| line
        for code in re.findall(r"`([a-z][a-z0-9_]*)`", cells[column]):
            table.setdefault(code, set()).add(int(cells[0][:3]))
    return table


def test_the_readme_error_table_lists_every_code_the_proxy_emits():
    emitted = emitted_codes()
    listed = readme_error_table()

    missing = sorted(code for code in emitted if code not in listed)
    assert not missing, f"codes the proxy emits that README.md's error table lacks: {missing}"
    wrong_status = {
        code: (sorted(statuses), sorted(listed[code]))
        for code, statuses in emitted.items()
        if statuses and not statuses <= listed[code]
    }
    assert not wrong_status, f"code: (statuses emitted, statuses in the README): {wrong_status}"
    stale = sorted(code for code in listed if code not in emitted)
    assert not stale, f"codes in README.md's error table the proxy never emits: {stale}"


def test_the_code_collection_finds_every_family():
    """The collection is not vacuous: each known source contributes."""
    emitted = emitted_codes()

    assert {
        "client_key_invalid",  # access/errors.py
        "rate_limited",  # access/quota.py
        "admin_key_not_configured",  # access/admin_key.py
        "circuit_open",  # breeze/gateway/errors.py
        "invalid_session_token",  # sessions_admin/services.py
        "method_not_allowed",  # breeze_proxy/errors.py _DRF_CODES
        "request_too_large",  # envelope(...) literals
        "request_header_too_large",  # the gunicorn worker
        "request_timeout",
    } <= set(emitted)
    assert emitted["request_header_too_large"] == {431}
