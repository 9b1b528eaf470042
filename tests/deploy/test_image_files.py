"""The image's file set boots: what the Dockerfile's final stage copies, and nothing else.

Docker cannot run here, so ``tests/deploy/dockerbuild.py`` reproduces the final stage from the
same inputs Docker reads (the Dockerfile, ``.dockerignore`` with Docker's matching rules, the
repository as build context) into an empty folder standing for ``/app``. That folder is then
run the way the image runs it: the Dockerfile's own RUN steps (collectstatic, compileall), then
Django's deploy checks, the WSGI and ASGI applications, migrations on an empty database,
collectstatic, the simulator, and the CMD itself (gunicorn) serving requests. Every Python
process gets the project's ``.venv`` interpreter with ``-E -s`` (no PYTHONPATH, no user site)
and the assembled folder as its working directory, so only the copied files are importable
(``test_only_the_copied_files_are_importable`` proves the checkout is not).

Removing any COPY line makes the boot fail (``test_every_copy_line_is_needed_to_boot``), and
``requirements/prod.txt`` must provide every third-party module the copied code imports.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.machinery
import importlib.metadata
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.dockerbuild import (
    Assembly,
    AssemblyError,
    IgnoreMatcher,
    assemble,
    parse_copy,
    read_ignore_file,
    stages,
)

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
GCLOUDIGNORE = ROOT / ".gcloudignore"
REQUIREMENTS = ROOT / "requirements"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    """Override tests/conftest.py's autouse fixture: nothing here uses Django in-process."""


# --- Docker's .dockerignore rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*.md"], "README.md", True),
        (["*.md"], "breeze_sim/README.md", False),  # patterns are anchored at the root
        (["**/*.md"], "breeze_sim/README.md", True),
        (["tests"], "tests/deploy/test_x.py", True),  # a parent directory matches
        (["/tests"], "tests/a.py", True),  # a leading slash is dropped
        (["docs/"], "docs/a/b.txt", True),
        (["**/__pycache__"], "market/__pycache__/views.cpython-311.pyc", True),
        (["**/__pycache__"], "__pycache__/x.pyc", True),
        (["**/*.py[cod]"], "market/views.pyc", True),
        (["*.py[cod]"], "market/views.pyc", False),
        (["dir/**"], "dir/a/b", True),
        (["dir/**"], "dir", False),
        (["**"], "anything/at/all", True),
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["a*b"], "a/b", False),
        (["abc.def"], "abcxdef", False),
        (["a\\*b"], "a*b", True),
        (["db.sqlite3*"], "db.sqlite3-wal", True),
        ([".env.*"], "config/.env.production", False),
        (["**/.env.*"], "config/.env.production", True),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs", "!docs/README.md"], "docs/other.md", True),
        (["*.md", "!README.md", "README.md"], "README.md", True),  # the last match wins
        (["**", "!keep"], "keep/inner.txt", False),
    ],
)
def test_dockerignore_matching_follows_docker(
    patterns: list[str], path: str, ignored: bool
) -> None:
    assert IgnoreMatcher.from_text("\n".join(patterns)).ignored(path) is ignored


def test_dockerignore_file_syntax() -> None:
    text = "\ufeff# comment\n  spaced  \n/abs/path/\n!  /inverted\n\n  # not a comment\n"
    assert read_ignore_file(text) == ["spaced", "abs/path", "!inverted", "# not a comment"]


@pytest.mark.parametrize("pattern", ["[", "a[", "\\", "[-x]", "[x-]"])
def test_dockerignore_bad_patterns_are_errors(pattern: str) -> None:
    with pytest.raises(ValueError, match="bad pattern"):
        IgnoreMatcher([pattern])


# --- the final stage's COPY lines -----------------------------------------------------------


def context_copies(dockerfile_text: str) -> list:
    return [
        parse_copy(instruction)
        for instruction in stages(dockerfile_text)[-1].instructions
        if instruction.keyword == "COPY" and "--from" not in instruction.arguments
    ]


def without_line(dockerfile_text: str, line: int) -> str:
    """The Dockerfile with the instruction that starts at ``line`` (and its continuations) cut."""
    lines = dockerfile_text.splitlines(keepends=True)
    end = line - 1
    while lines[end].rstrip("\n").endswith("\\"):
        end += 1
    return "".join(lines[: line - 1] + lines[end + 1 :])


def first_party_names() -> set[str]:
    """Top-level importable names of the repository (packages and modules)."""
    names = set()
    for entry in ROOT.iterdir():
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
    return names


def test_every_copy_source_is_in_the_build_context(tmp_path: Path) -> None:
    assembly = assemble(DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), ROOT, tmp_path)
    assert assembly.files, "the final stage copies nothing from the context"
    copied_tops = {path.split("/")[0] for path in assembly.files}
    for unwanted in ("tests", "bench", "scripts", "requirements", ".git", ".venv", ".env"):
        assert unwanted not in copied_tops, unwanted
    assert not [path for path in assembly.files if "__pycache__" in path or path.endswith(".md")]
    assert not [path for path in assembly.files if re.search(r"\.(pem|key|sqlite3)$", path)]


def test_the_copied_packages_are_the_ones_the_app_needs(tmp_path: Path) -> None:
    """Derived, not listed: INSTALLED_APPS' project apps, what the copied code imports from the
    repository (to a fixed point), the WSGI/ASGI/URL packages and the templates folder."""
    assembly = assemble(DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), ROOT, tmp_path)
    copied_tops = {path.split("/")[0].removesuffix(".py") for path in assembly.files}
    ours = first_party_names()

    settings_tree = ast.parse((ROOT / "breeze_proxy" / "settings.py").read_text())
    needed = {"manage", "gunicorn", "breeze_proxy", "templates"}
    for node in ast.walk(settings_tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            top = node.value.split(".")[0]
            if top in ours and re.fullmatch(r"[\w.]+", node.value):
                needed.add(top)
    pending = set(needed)
    while pending:
        package = pending.pop()
        folder = ROOT / package
        files = folder.rglob("*.py") if folder.is_dir() else [ROOT / f"{package}.py"]
        for file in files:
            if not file.exists() or "__pycache__" in file.parts:
                continue
            for module in imported_modules(file.read_text()):
                top = module.split(".")[0]
                if top in ours and top not in needed:
                    needed.add(top)
                    pending.add(top)
    needed.add("breeze_sim")  # shipped for sandbox deployments (python -m breeze_sim)
    copied_tops = {"gunicorn" if t == "gunicorn.conf" else t for t in copied_tops}
    assert needed <= copied_tops, f"not copied into the image: {sorted(needed - copied_tops)}"
    assert any((ROOT / "templates").rglob("*.html")), "templates/ has no template"


def test_a_copy_source_missing_from_the_repository_fails(tmp_path: Path) -> None:
    context = tmp_path / "context"
    (context / "app").mkdir(parents=True)
    (context / "app" / "__init__.py").write_text("")
    dockerfile = "FROM python:3.11-slim\nWORKDIR /app\nCOPY app/ app/\nCOPY templates/ templates/\n"
    with pytest.raises(AssemblyError, match="templates/: not in the repository"):
        assemble(dockerfile, "", context, tmp_path / "out")


def test_a_copy_source_excluded_by_dockerignore_fails(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text().replace("COPY access/ access/", "COPY tests/ tests/")
    with pytest.raises(AssemblyError, match=r"tests/: excluded by \.dockerignore"):
        assemble(text, DOCKERIGNORE.read_text(), ROOT, tmp_path / "out", copy_files=False)


def test_files_excluded_by_dockerignore_are_not_copied(tmp_path: Path) -> None:
    context = tmp_path / "context"
    (context / "pkg" / "__pycache__").mkdir(parents=True)
    (context / "pkg" / "__init__.py").write_text("")
    (context / "pkg" / "__pycache__" / "x.pyc").write_text("")
    (context / "pkg" / "local.pem").write_text("")
    (context / "pkg" / "NOTES.md").write_text("")
    dockerfile = "FROM python:3.11-slim\nWORKDIR /app\nCOPY pkg/ pkg/\n"
    ignore = "**/__pycache__\n**/*.pem\n*.md\n"
    assembly = assemble(dockerfile, ignore, context, tmp_path / "out")
    # *.md is anchored at the root, so pkg/NOTES.md stays, as it would with Docker.
    assert sorted(assembly.files) == ["pkg/NOTES.md", "pkg/__init__.py"]


# --- running the assembled folder -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_shims(bin_dir: Path) -> None:
    """``python``, ``gunicorn`` and ``uvicorn`` as the image has them on PATH (/opt/venv/bin),
    here the project's interpreter, ignoring PYTHON* variables and the user site."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "python": f'exec "{PYTHON}" -E -s "$@"',
        "gunicorn": f'exec "{PYTHON}" -E -s -m gunicorn "$@"',
        "uvicorn": f'exec "{PYTHON}" -E -s -m uvicorn "$@"',
    }
    for name, line in commands.items():
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{line}\n")
        shim.chmod(0o755)


@dataclass
class Image:
    app: Path
    assembly: Assembly
    build_env: dict[str, str]  # the Dockerfile's ENV (build steps)
    env: dict[str, str]  # the Dockerfile's ENV plus a production-like runtime environment

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 60):
        return subprocess.run(
            list(argv),
            cwd=self.app,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def image_envs(assembly: Assembly, work: Path) -> tuple[dict[str, str], dict[str, str]]:
    bin_dir = work / "bin"
    make_shims(bin_dir)
    build = {key: value for key, value in assembly.env.items() if key != "PATH"}
    build.update(PATH=f"{bin_dir}:/usr/bin:/bin", HOME=str(work), LANG="C.UTF-8")
    runtime = {
        **build,
        # Production-like: real-looking credentials (no simulator), DEBUG off, no Redis, no
        # Secret Manager, a database outside the read-only application folder.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{work / 'data' / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "BREEZE_API_KEY": "image-test-api-key",
        "BREEZE_API_SECRET": "image-test-api-secret",
        "BREEZE_TRUST_X_FORWARDED_FOR": "true",
        "BREEZE_ADMIN_SITE_ENABLED": "true",
        "BREEZE_ADMIN_API_ENABLED": "true",
        "SECURE_SSL_REDIRECT": "true",
        "LOG_LEVEL": "WARNING",
    }
    (work / "data").mkdir(exist_ok=True)
    return build, runtime


def build_image(work: Path, dockerfile_text: str) -> Image:
    """Assemble the final stage into ``work/app`` and run its RUN steps, as docker build does."""
    assembly = assemble(dockerfile_text, DOCKERIGNORE.read_text(), ROOT, work / "app")
    build_env, runtime_env = image_envs(assembly, work)
    image = Image(work / "app", assembly, build_env, runtime_env)
    for step in assembly.runs:
        result = image.run("/bin/sh", "-c", step, env=build_env, timeout=120)
        if result.returncode != 0:
            raise AssemblyError(f"RUN {step}\n{result.stdout}\n{result.stderr}")
    return image


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return build_image(tmp_path_factory.mktemp("image"), DOCKERFILE.read_text())


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_only_the_copied_files_are_importable(image: Image) -> None:
    probe = (
        "import importlib.util, json, sys\n"
        "print(json.dumps({'path': sys.path, 'market': importlib.util.find_spec('market').origin,"
        " 'tests': importlib.util.find_spec('tests') is not None}))"
    )
    env = {**image.env, "PYTHONPATH": str(ROOT)}  # ignored: the shims pass -E
    found = json.loads(ok(image.run("python", "-c", probe, env=env)).stdout)
    assert Path(found["market"]).is_relative_to(image.app)
    assert found["tests"] is False, "the repository checkout is importable"
    for entry in found["path"]:
        path = Path(entry or image.app).resolve()
        if path.is_relative_to(ROOT):
            assert path.is_relative_to(ROOT / ".venv"), f"{entry} on sys.path"


def test_the_build_steps_collected_static_files_and_compiled_every_package(image: Image) -> None:
    assert (image.app / "staticfiles" / "admin" / "css" / "base.css").exists()
    assert (image.app / "staticfiles" / "admin" / "css" / "base.css.gz").exists()  # whitenoise
    missing = []
    for source in image.app.rglob("*.py"):
        relative = source.relative_to(image.app)
        if "__pycache__" in relative.parts or len(relative.parts) == 1:
            continue  # top-level scripts (manage.py, gunicorn.conf.py) are not imported
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-311.pyc"
        if sys.version_info[:2] == (3, 11) and not pyc.exists():
            missing.append(str(relative))
    assert not missing, f"not compiled by the Dockerfile's compileall: {missing[:10]}"


def test_django_deploy_checks_pass(image: Image) -> None:
    """No error, and none of the deployment (security.*) warnings; other warnings (e.g. the
    OpenAPI schema's) are the apps' business and are left to their own tests."""
    result = ok(image.run("python", "manage.py", "check", "--deploy"))
    output = result.stdout + result.stderr
    assert "(security." not in output, output


def test_the_wsgi_application_imports(image: Image) -> None:
    code = "from breeze_proxy.wsgi import application; assert callable(application); print('ok')"
    assert ok(image.run("python", "-c", code)).stdout.strip() == "ok"


def test_the_asgi_application_imports(image: Image) -> None:
    code = (
        "import importlib; app = importlib.import_module('breeze_proxy.asgi').application; "
        "assert callable(app); print('ok')"
    )
    assert ok(image.run("python", "-c", code)).stdout.strip() == "ok"


def test_migrations_apply_to_an_empty_database(image: Image, tmp_path: Path) -> None:
    env = {**image.env, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    ok(image.run("python", "manage.py", "migrate", "--noinput", env=env))
    ok(image.run("python", "manage.py", "migrate", "--check", env=env))


def test_the_cloud_run_jobs_commands_run_in_the_image(image: Image, tmp_path: Path) -> None:
    """deploy.sh's jobs (``deploy_job NAME manage.py,ARGS ...``) run python with these args."""
    deploy_sh = (ROOT / "deploy.sh").read_text()
    found = re.findall(r'^deploy_job "\$\w+" (manage\.py,[-\w,]+) ', deploy_sh, re.MULTILINE)
    jobs = {argv.split(",")[1]: argv.split(",") for argv in found}
    assert jobs == {
        "migrate": ["manage.py", "migrate", "--noinput"],
        "instruments": ["manage.py", "instruments", "sync"],
        "candles": ["manage.py", "candles", "prune"],
    }
    env = {**image.env, "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}"}
    ok(image.run("python", *jobs["migrate"], env=env))
    assert "deleted" in ok(image.run("python", *jobs["candles"], env=env)).stdout
    ok(image.run("python", "manage.py", "instruments", "status", env=env))
    # A sync that cannot download exits non-zero, which fails the job's execution.
    failed = image.run("python", *jobs["instruments"], "--url", "http://127.0.0.1:9/x.zip", env=env)
    assert failed.returncode != 0, failed.stdout
    assert "not loaded" in failed.stderr


def test_models_have_their_migrations(image: Image) -> None:
    ok(image.run("python", "manage.py", "makemigrations", "--check", "--dry-run"))


def test_collectstatic_runs_with_the_runtime_settings(image: Image, tmp_path: Path) -> None:
    result = ok(image.run("python", "manage.py", "collectstatic", "--noinput"))
    assert "static files" in result.stdout


def test_the_simulator_starts(image: Image) -> None:
    ok(image.run("python", "-m", "breeze_sim", "--help"))


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            content_type = response.headers.get("Content-Type", "")
            return response.status, content_type, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


@contextlib.contextmanager
def serving(
    image: Image, argv: list[str], env: dict[str, str], port: int
) -> Iterator[subprocess.Popen]:
    log = image.app.parent / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(argv, cwd=image.app, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"{argv[0]} exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if http_get(port, "/")[0] == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{argv[0]} did not answer GET / within 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_image_cmd_serves_requests(image: Image, tmp_path: Path) -> None:
    """The CMD (gunicorn), unchanged, from the assembled folder: JSON at /, health, the admin
    with the project's template, static files, and a clean stop on SIGTERM."""
    assert image.assembly.cmd[0] == "gunicorn"
    env = {**image.env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    ok(image.run("python", "manage.py", "migrate", "--noinput", env=env))
    port = free_port()
    env.update(PORT=str(port), HOST="127.0.0.1")
    https = {"X-Forwarded-Proto": "https"}  # as Cloud Run's front end sends
    with serving(image, image.assembly.cmd, env, port) as process:
        status, content_type, body = http_get(port, "/")
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body)["status"] == "ok"

        status, _, body = http_get(port, "/breeze/health", https)
        assert status == 200, body
        assert json.loads(body)["session_active"] is False

        status, _, body = http_get(port, "/admin/login/", https)
        assert status == 200
        assert re.search(r"<title>[^<]*\| Breeze Proxy</title>", body), body[:500]

        assert http_get(port, "/static/admin/css/base.css", https)[0] == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_the_asgi_application_serves_under_uvicorn(image: Image, tmp_path: Path) -> None:
    """The live-stream service's command (deploy.sh --with-stream) on the same files."""
    env = {**image.env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    port = free_port()
    argv = ["uvicorn", "breeze_proxy.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    with serving(image, argv, env, port):
        status, content_type, _ = http_get(port, "/")
        assert (status, content_type) == (200, "application/json")


# --- every COPY line is needed ----------------------------------------------------------------

BOOT_PROBE = """
import importlib, runpy
from pathlib import Path
root = Path.cwd()
for entry in ("manage.py", "gunicorn.conf.py"):
    assert (root / entry).is_file(), f"{entry} missing from the image"
runpy.run_path("gunicorn.conf.py")
import django
django.setup()
from django.conf import settings
for name in ("breeze_proxy.wsgi", "breeze_proxy.asgi", settings.ROOT_URLCONF):
    importlib.import_module(name)
from django.urls import get_resolver
get_resolver().url_patterns
from django.template.loader import get_template
origin = Path(get_template("admin/base_site.html").origin.name)
assert origin.is_relative_to(root / "templates"), f"admin/base_site.html from {origin}"
importlib.import_module("breeze_sim.server")
print("booted")
"""


def boot_probe(work: Path, dockerfile_text: str) -> subprocess.CompletedProcess[str]:
    """Assemble ``dockerfile_text`` without its build steps and boot the result quickly."""
    assembly = assemble(dockerfile_text, DOCKERIGNORE.read_text(), ROOT, work / "app")
    _, env = image_envs(assembly, work)
    return subprocess.run(
        ["python", "-c", BOOT_PROBE],
        cwd=assembly.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_boot_probe_passes_with_the_real_dockerfile(tmp_path: Path) -> None:
    result = boot_probe(tmp_path, DOCKERFILE.read_text())
    assert result.stdout.strip() == "booted", result.stderr


@pytest.mark.parametrize(
    "copy",
    context_copies(DOCKERFILE.read_text()),
    ids=lambda copy: " ".join(copy.sources),
)
def test_every_copy_line_is_needed_to_boot(copy, tmp_path: Path) -> None:
    """A Dockerfile without this COPY line (e.g. without access/) does not boot."""
    text = without_line(DOCKERFILE.read_text(), copy.line)
    assert len(context_copies(text)) == len(context_copies(DOCKERFILE.read_text())) - 1
    result = boot_probe(tmp_path, text)
    assert result.returncode != 0, f"boots without COPY {' '.join(copy.sources)}"
    names = [source.strip("/").removesuffix(".py") for source in copy.sources]
    output = result.stdout + result.stderr
    assert any(re.search(rf"\b{re.escape(name)}\b", output) for name in names), output[-2000:]


# --- production requirements ----------------------------------------------------------------


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += requirement_lines(path.parent / line.split(None, 1)[1])
        elif not line.startswith("-"):
            lines.append(line)
    return lines


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions pip installs for ``requirements`` (names; versions are pinned)."""
    closure: set[str] = set()
    pending = [(req, frozenset(req.extras)) for req in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in closure:
            continue
        closure.add(key)
        closure.add(name)
        distribution = importlib.metadata.distribution(requirement.name)
        for line in distribution.requires or []:
            dependency = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker and not any(dependency.marker.evaluate(e) for e in environments):
                continue
            pending.append((dependency, frozenset(dependency.extras)))
    return {name for name in closure if "[" not in name}


def imported_modules(source: str) -> set[str]:
    """Absolute imports, skipping those guarded by ``except ImportError`` and TYPE_CHECKING."""
    tree = ast.parse(source)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            names = {
                getattr(handler.type, "id", None) or getattr(handler.type, "attr", None)
                for handler in node.handlers
            }
            if names & {"ImportError", "ModuleNotFoundError"}:
                guarded |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    modules = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


@functools.cache
def file_owners() -> dict[Path, str]:
    owners = {}
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or []:
            owners[Path(distribution.locate_file(file)).resolve()] = canonicalize_name(
                distribution.metadata["Name"]
            )
    return owners


def module_file(name: str) -> Path | None:
    """The file that provides module ``name`` (or its deepest importable parent), found on
    sys.path without importing anything."""
    parts = name.split(".")
    spec = importlib.machinery.PathFinder.find_spec(parts[0])
    found = None
    for depth in range(1, len(parts) + 1):
        if spec is None:
            break
        if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
            found = Path(spec.origin).resolve()
        if depth == len(parts) or not spec.submodule_search_locations:
            break
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: depth + 1]), list(spec.submodule_search_locations)
        )
    return found


DOTTED_PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def unprovided_imports(
    root: Path, files: list[str], closure: frozenset[str], implicit: dict[str, str]
) -> dict[str, str]:
    """Third-party modules that ``files`` (under ``root``) import, or name in dotted strings
    that Django imports (MIDDLEWARE, backends, ...), and that no distribution of ``closure``
    provides; ``implicit`` adds modules loaded without an import statement."""
    ours = {path.split("/")[0].removesuffix(".py") for path in files}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    wanted: dict[str, set[str]] = {module: {why} for module, why in implicit.items()}
    for relative in files:
        if not relative.endswith(".py"):
            continue
        source = (root / relative).read_text()
        modules = imported_modules(source)
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and DOTTED_PATH.fullmatch(node.value)
                and module_file(node.value.split(".")[0]) is not None
            ):
                modules.add(node.value)
        for module in modules:
            top = module.split(".")[0]
            if top not in ours and top not in stdlib:
                wanted.setdefault(module, set()).add(relative)

    owners = file_owners()
    missing = {}
    for module, users in sorted(wanted.items()):
        path = module_file(module)
        if path is None:
            if module.count(".") and module_file(module.rsplit(".", 1)[0]) is not None:
                continue  # "from package import name" where name is not a module
            missing[module] = f"not installed at all (used by {sorted(users)[:3]})"
            continue
        owner = owners.get(path)
        if owner is not None and owner not in closure:
            missing[module] = f"from {owner}, not in prod.txt (used by {sorted(users)[:3]})"
    return missing


@functools.cache
def production_closure() -> frozenset[str]:
    prod = [Requirement(line) for line in requirement_lines(REQUIREMENTS / "prod.txt")]
    return frozenset(installed_closure(prod))


def test_production_requirements_provide_every_import(tmp_path: Path) -> None:
    assembly = assemble(DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), ROOT, tmp_path)
    implicit = {
        "psycopg": "Django's postgresql backend (DATABASE_URL=postgres://...)",
        "psycopg_pool": "DATABASES OPTIONS pool (settings.py)",
        "gunicorn": "the Dockerfile's CMD",
        "uvicorn": "the stream service's command (deploy.sh --with-stream)",
    }
    missing = unprovided_imports(assembly.root, assembly.files, production_closure(), implicit)
    assert not missing, "\n".join(f"{module}: {why}" for module, why in missing.items())


def test_the_requirements_check_finds_a_dev_only_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import hypothesis\n"
        "from rest_framework import views\n"
        "from . import sibling\n"
        "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"
        'MIDDLEWARE = ["schemathesis.specs.openapi", "pkg.local.Thing"]\n'
    )
    files = ["pkg/__init__.py"]
    missing = unprovided_imports(tmp_path, files, production_closure(), {})
    assert set(missing) == {"hypothesis", "schemathesis.specs.openapi"}


def test_every_production_requirement_is_pinned_by_the_constraints() -> None:
    pins = {}
    for line in requirement_lines(REQUIREMENTS / "constraints.txt"):
        requirement = Requirement(line)
        pins[canonicalize_name(requirement.name)] = str(requirement.specifier)
    prod = [Requirement(line) for line in requirement_lines(REQUIREMENTS / "prod.txt")]
    for name in installed_closure(prod):
        assert pins.get(name, "").startswith("=="), f"{name} is not pinned in constraints.txt"
    for requirement in prod:
        name = canonicalize_name(requirement.name)
        assert str(requirement.specifier) == pins[name], f"{name}: prod.txt != constraints.txt"


# --- .gcloudignore ----------------------------------------------------------------------------


def secret_section(text: str) -> list[str]:
    """The patterns under .dockerignore's "# Secrets" heading, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Secrets"))
    section = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if not line.startswith("#"):
            section.append(line.strip())
    return section


def test_every_dockerignore_secret_pattern_is_in_gcloudignore() -> None:
    secret_patterns = secret_section(DOCKERIGNORE.read_text())
    assert {".env", "**/*.pem", "**/*.key"} <= set(secret_patterns)
    gcloud_patterns = {line.strip() for line in GCLOUDIGNORE.read_text().splitlines()}
    missing = [pattern for pattern in secret_patterns if pattern not in gcloud_patterns]
    assert not missing, f"in .dockerignore's secrets but not in .gcloudignore: {missing}"


def gcloud_ignored(paths: list[str], tmp_path: Path) -> set[str]:
    """Which paths .gcloudignore leaves out of the upload (gitignore rules, as gcloud applies
    them), decided by git itself in a scratch repository."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is needed to apply gitignore rules")
    repo = tmp_path / "gcloudignore"
    repo.mkdir()
    subprocess.run([git, "init", "-q", str(repo)], check=True, timeout=30)
    (repo / ".gitignore").write_text(GCLOUDIGNORE.read_text())
    result = subprocess.run(
        [git, "-C", str(repo), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(paths),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return set(result.stdout.split())


def test_gcloudignore_keeps_secrets_and_local_state_out_of_the_upload(tmp_path: Path) -> None:
    samples = [
        ".env",
        ".env.production",
        "config/.env",
        "config/.env.local",
        "certs/server.pem",
        "deep/er/private.key",
        "keys/app.p12",
        "gcp-service-account-prod.json",
        ".venv/bin/python",
        "tests/deploy/test_image_files.py",
        "db.sqlite3",
        "market/__pycache__/views.cpython-311.pyc",
        ".git/config",
        ".deploy/breeze-proxy-abc.secrets",
    ]
    ignored = gcloud_ignored(samples, tmp_path)
    assert set(samples) == ignored, f"uploaded: {sorted(set(samples) - ignored)}"


def test_gcloudignore_uploads_everything_the_docker_build_reads(tmp_path: Path) -> None:
    assembly = assemble(
        DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), ROOT, tmp_path / "a", copy_files=False
    )
    needed = ["Dockerfile", ".dockerignore", *assembly.files]
    needed += [p.relative_to(ROOT).as_posix() for p in REQUIREMENTS.glob("*.txt")]
    ignored = gcloud_ignored(needed, tmp_path)
    assert not ignored, f".gcloudignore leaves out what the build needs: {sorted(ignored)[:10]}"
