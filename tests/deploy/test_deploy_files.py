"""The deployment files: deploy.sh's dry run, the Dockerfile's shape and the build context.

None of these needs Django, a database or gcloud: deploy.sh runs with --dry-run on a PATH that
has no gcloud, and the Dockerfile is read as text.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_SH = ROOT / "deploy.sh"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

SECRET_VARS = (
    "BREEZE_API_KEY",
    "BREEZE_API_SECRET",
    "BREEZE_PROXY_ADMIN_KEY",
    "SECRET_KEY",
    "BREEZE_SESSION_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
)
# Values a developer might have in their shell: deploy.sh must never print any of them.
SECRET_VALUES = {name: f"should-not-appear-{name.lower()}" for name in SECRET_VARS}
SECRET_VALUES["BREEZE_API_SECRET"] = "should-not-appear"

GUNICORN_START = "exec gunicorn -c gunicorn.conf.py breeze_proxy.wsgi:application"


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    """Override tests/conftest.py's autouse fixture of this name, which clears Django's cache.

    These tests use neither the cache nor the simulator, so they run without Django too:
    ``pytest tests/deploy -p no:django --noconftest``.
    """


# --- deploy.sh ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bin_without_gcloud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH directory with only the external tools deploy.sh may use, and no gcloud."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for tool in ("git", "date", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    assert shutil.which("gcloud", path=str(bin_dir)) is None
    return bin_dir


def run_deploy(bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash, "bash is needed to run deploy.sh"
    return subprocess.run(
        [bash, str(DEPLOY_SH), *args],
        env={"PATH": str(bin_dir), "HOME": str(bin_dir), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dry_run_commands(bin_dir: Path, *args: str, **env: str) -> list[list[str]]:
    result = run_deploy(bin_dir, "--dry-run", *args, **env)
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def option(argv: list[str], name: str) -> str:
    """The value that follows ``name`` in ``argv`` (``--flag value`` or ``--flag=value``)."""
    for index, arg in enumerate(argv):
        if arg == name:
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {argv}")


def env_var_pairs(value: str) -> dict[str, str]:
    """Parse gcloud's --set-env-vars value, with its optional ``^DELIM^`` prefix."""
    delimiter = ","
    match = re.match(r"\^(.)\^", value)
    if match:
        delimiter = match.group(1)
        value = value[match.end() :]
    return dict(pair.split("=", 1) for pair in value.split(delimiter) if pair)


def test_dry_run_builds_then_deploys(bin_without_gcloud: Path) -> None:
    commands = dry_run_commands(bin_without_gcloud, PROJECT_ID="demo-project")

    assert len(commands) == 2
    build, deploy = commands
    assert build[:3] == ["gcloud", "builds", "submit"]
    assert deploy[:4] == ["gcloud", "run", "deploy", "breeze-proxy"]

    image = option(build, "--tag")
    assert option(deploy, "--image") == image
    assert image.startswith("asia-south1-docker.pkg.dev/demo-project/")
    assert re.search(r":[\w.-]+$", image), image
    assert option(build, "--project") == option(deploy, "--project") == "demo-project"

    assert option(deploy, "--region") == "asia-south1"
    assert option(deploy, "--platform") == "managed"
    assert option(deploy, "--port") == "8080"
    assert option(deploy, "--concurrency") == "80"
    assert option(deploy, "--cpu") == "2"
    assert option(deploy, "--memory") == "1Gi"
    assert option(deploy, "--min-instances") == "0"
    assert int(option(deploy, "--max-instances")) >= 1
    assert "--allow-unauthenticated" in deploy


def test_dry_run_prints_the_commands_shell_quoted(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run", PROJECT_ID="demo-project")
    assert "gcloud builds submit" in result.stdout
    assert "gcloud run deploy" in result.stdout
    assert "--port 8080" in result.stdout
    assert "--concurrency 80" in result.stdout


def test_every_secret_comes_from_secret_manager(bin_without_gcloud: Path) -> None:
    deploy = dry_run_commands(bin_without_gcloud, PROJECT_ID="demo-project")[1]
    mappings = dict(pair.split("=", 1) for pair in option(deploy, "--set-secrets").split(","))

    assert set(mappings) == set(SECRET_VARS)
    for name, reference in mappings.items():
        secret, _, version = reference.partition(":")
        assert secret, name
        assert version == "latest", name

    env_vars = env_var_pairs(option(deploy, "--set-env-vars"))
    assert env_vars["DEBUG"] == "false"
    assert env_vars["GCP_PROJECT_ID"] == "demo-project"
    assert env_vars["ALLOWED_HOSTS"]
    assert not set(env_vars) & set(SECRET_VARS)


def test_secret_names_can_be_overridden_or_left_out(bin_without_gcloud: Path) -> None:
    deploy = dry_run_commands(
        bin_without_gcloud,
        PROJECT_ID="demo-project",
        SECRET_DATABASE_URL="proxy-db-url",
        SECRET_REDIS_URL="",
        SECRET_VERSION="3",
    )[1]
    mappings = dict(pair.split("=", 1) for pair in option(deploy, "--set-secrets").split(","))

    assert mappings["DATABASE_URL"] == "proxy-db-url:3"
    assert "REDIS_URL" not in mappings
    assert set(mappings) == set(SECRET_VARS) - {"REDIS_URL"}


def test_secret_values_are_never_printed(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run", PROJECT_ID="demo-project", **SECRET_VALUES)

    assert result.returncode == 0, result.stderr
    for value in SECRET_VALUES.values():
        assert value not in result.stdout
        assert value not in result.stderr


def test_list_settings_survive_gcloud_parsing(bin_without_gcloud: Path) -> None:
    origins = "https://app.example.com,https://admin.example.com"
    deploy = dry_run_commands(
        bin_without_gcloud,
        PROJECT_ID="demo-project",
        CORS_ALLOWED_ORIGINS=origins,
        ALLOWED_HOSTS="proxy.example.com,.run.app",
        BREEZE_TIMEOUT_S="8",
    )[1]
    env_vars = env_var_pairs(option(deploy, "--set-env-vars"))

    assert env_vars["CORS_ALLOWED_ORIGINS"] == origins
    assert env_vars["ALLOWED_HOSTS"] == "proxy.example.com,.run.app"
    assert env_vars["BREEZE_TIMEOUT_S"] == "8"


def test_flags_override_the_defaults(bin_without_gcloud: Path) -> None:
    build, deploy = dry_run_commands(
        bin_without_gcloud,
        "--project",
        "flag-project",
        "--region",
        "europe-west1",
        "--service",
        "proxy-staging",
        "--tag",
        "abc1234",
        "--private",
    )

    assert option(build, "--tag") == (
        "europe-west1-docker.pkg.dev/flag-project/breeze-proxy/proxy-staging:abc1234"
    )
    assert deploy[3] == "proxy-staging"
    assert option(deploy, "--region") == "europe-west1"
    assert "--no-allow-unauthenticated" in deploy
    assert "--allow-unauthenticated" not in deploy


def test_missing_project_id_fails_with_a_message(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run")

    assert result.returncode != 0
    assert "PROJECT_ID" in result.stderr
    assert result.stdout == ""


def test_a_real_run_needs_gcloud(bin_without_gcloud: Path) -> None:
    # gcloud is not on this PATH, so nothing can be built or deployed by this test.
    result = run_deploy(bin_without_gcloud, PROJECT_ID="demo-project")

    assert result.returncode != 0
    assert "gcloud" in result.stderr


def test_unknown_option_fails(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-rnu", PROJECT_ID="demo-project")

    assert result.returncode != 0
    assert "--dry-rnu" in result.stderr


def test_help(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--help")

    assert result.returncode == 0
    assert "--dry-run" in result.stdout
    assert "PROJECT_ID" in result.stdout


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package: shellcheck)")
    result = subprocess.run(
        [shellcheck, str(DEPLOY_SH)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def test_base_images_are_pinned_python_slim() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "expected a multi-stage build"
    names = set()
    for stage in all_stages:
        words = stage[0][1].split()
        image = words[0]
        if image in names:  # FROM an earlier stage
            continue
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), (
            f"base image not pinned to a python 3.11.x slim tag: {image}"
        )
        if len(words) >= 3 and words[1].upper() == "AS":
            names.add(words[2])


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_cmd_migrates_then_execs_gunicorn() -> None:
    cmds = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])  # exec form, so no extra shell wraps it
    assert argv[:2] == ["sh", "-c"]
    script = argv[2]
    assert script.endswith(GUNICORN_START)
    assert script.index("migrate --noinput") < script.index(GUNICORN_START)


def test_no_secret_is_baked_into_the_image() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            for name in (*SECRET_VARS, "BREEZE_"):
                assert name not in arguments, f"{keyword} {arguments}"
        if "SECRET_KEY=" in arguments:
            assert keyword == "RUN", arguments
            assert "collectstatic" in arguments, arguments


def test_static_files_are_collected_at_build_time() -> None:
    runs = [arguments for keyword, arguments in final_stage() if keyword == "RUN"]
    assert any("collectstatic --noinput" in run for run in runs)


def test_final_stage_copies_only_what_runs() -> None:
    copies = [arguments for keyword, arguments in final_stage() if keyword == "COPY"]
    sources = [word for copy in copies for word in copy.split()[:-1] if not word.startswith("--")]
    assert "." not in sources
    assert "./" not in sources
    for excluded in ("tests", "bench", ".git", ".venv", "requirements"):
        assert not any(source.rstrip("/") == excluded for source in sources), excluded
    assert ("EXPOSE", "8080") in final_stage()
    env = " ".join(arguments for keyword, arguments in final_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert "PORT=8080" in env


def test_dockerignore_keeps_local_state_out_of_the_build() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", ".env", "tests", "bench", "staticfiles", "logs"):
        assert required in patterns, required
    assert "**/__pycache__" in patterns
    assert "**/*.sqlite3" in patterns
