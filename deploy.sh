#!/usr/bin/env bash
# Build the Breeze Proxy image with Cloud Build and deploy it to Cloud Run: a migration job, the
# instruments-sync and candles-prune jobs (run by Cloud Scheduler), the public REST service, the
# private staff service (Django admin and admin API) and, with --with-stream, the live-stream
# service. Run `bash deploy.sh --help` for the inputs.
#
# Nothing here ever reads or prints a secret's value: it names secrets in Secret Manager, pins
# their version numbers, and lets Cloud Run mount them as environment variables.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy.sh [options]

Builds the image with Cloud Build and deploys it to Cloud Run, in this order:
  1. resolves the version number of every secret (Secret Manager) and pins it;
  2. creates the runtime service account if missing and grants it
     roles/secretmanager.secretAccessor on exactly those secrets (and roles/cloudsql.client,
     limited to CLOUDSQL_INSTANCE, when Cloud SQL is used);
  3. builds the image (gcloud builds submit);
  4. deploys the Cloud Run job SERVICE-migrate (python manage.py migrate --noinput) and runs it
     with --wait; a failed migration stops the deploy before any service changes;
  5. deploys the Cloud Run jobs SERVICE-instruments-sync (python manage.py instruments sync:
     Breeze's SecurityMaster.zip into the database) and SERVICE-candles-prune (python manage.py
     candles prune), and runs the sync once with --wait (unless --skip-instruments-sync); a
     failed sync is only a warning: the app falls back to Breeze codes and syncs when stale;
  6. deploys the services from generated YAML (gcloud run services replace), each with an HTTP
     startup probe on / and a liveness probe on /breeze/health:
       SERVICE          public REST API; BREEZE_ADMIN_SITE_ENABLED=false (no /admin/),
                        BREEZE_ADMIN_API_ENABLED=true (/breeze/admin/*, X-Proxy-Admin-Key:
                        the frontend posts the daily session to /breeze/admin/api-session)
                        unless --no-public-admin-api
       SERVICE-admin    staff only (--no-allow-unauthenticated semantics: Cloud Run IAM),
                        BREEZE_ADMIN_SITE_ENABLED=true, BREEZE_ADMIN_API_ENABLED=true
       SERVICE-stream   with --with-stream: the live stream under uvicorn (ASGI), both admin
                        flags false
  7. schedules the two jobs with Cloud Scheduler (created, or updated when they exist): a
     dedicated scheduler service account (created if missing) gets roles/run.invoker on
     exactly those two jobs and calls the Cloud Run Admin API's jobs.run with an OAuth token;
  8. writes .deploy/SERVICE-TAG.secrets (secret names and version numbers, never values).

Options:
  --project ID            Google Cloud project (or PROJECT_ID; required)
  --region REGION         Cloud Run and Artifact Registry region (or REGION; asia-south1)
  --service NAME          public service name; the others are named after it (or SERVICE;
                          breeze-proxy)
  --tag TAG               image tag (or TAG; default: git short SHA, "-dirty" if the tree
                          has uncommitted changes)
  --skip-build            deploy an image that was built before (IMAGE, or the tag's image)
  --private               the public service too requires Cloud Run IAM (roles/run.invoker,
                          granted to PUBLIC_INVOKERS) instead of allowing everyone
  --public                the public service allows unauthenticated callers (the default:
                          its clients authenticate to the proxy itself with X-Proxy-Key)
  --no-admin-service      do not deploy SERVICE-admin (staff then have no Django admin)
  --no-public-admin-api   BREEZE_ADMIN_API_ENABLED=false on the public service too (or
                          PUBLIC_ADMIN_API=false): staff then activate the daily session on
                          SERVICE-admin or with `manage.py breeze_session set`, because the
                          frontend's POST /breeze/admin/api-session on the public URL fails
  --public-admin-api      the public service serves the admin API (the default)
  --skip-instruments-sync do not run SERVICE-instruments-sync during the deploy (the job and
                          its schedule are still deployed)
  --with-stream           also deploy SERVICE-stream (uvicorn, WebSockets; see STREAM_*)
  --dry-run               print every command, shell-quoted, and every generated file instead
                          of running or writing them (needs no gcloud)
  -h, --help              show this help

Environment (all optional except PROJECT_ID):
  ARTIFACT_REPO           Artifact Registry Docker repository, which must exist (breeze-proxy)
  IMAGE                   full image reference; overrides REGION/ARTIFACT_REPO/SERVICE/TAG naming
  SERVICE_ACCOUNT         runtime service account e-mail (default SERVICE-run@PROJECT_ID.iam...,
                          created if missing); never the default compute account
  MIN_INSTANCES, MAX_INSTANCES                  public service (0, 4)
  ADMIN_MIN_INSTANCES, ADMIN_MAX_INSTANCES      staff service (0, 1)
  STREAM_MIN_INSTANCES, STREAM_MAX_INSTANCES    stream service (1, 2)
  STREAM_CONCURRENCY      connections per stream instance (500)
  CPU, MEMORY             public and staff services (2, 1Gi); STREAM_CPU, STREAM_MEMORY (1, 1Gi)
  WEB_CONCURRENCY, GUNICORN_THREADS
                          gunicorn workers and threads (2 x 40 with REDIS_URL, else 1 x 80, as
                          gunicorn.conf.py); Cloud Run's concurrency is their product
  REQUEST_TIMEOUT         request timeout of the gunicorn services, seconds (60)
  PROBES                  http (default) or tcp: a TCP startup probe and no liveness probe
  ALLOWED_HOSTS           Django ALLOWED_HOSTS of the public and stream services (.run.app)
  CORS_ALLOWED_ORIGINS    comma-separated browser origins allowed by CORS (none)
  ADMIN_ALLOWED_HOSTS     ALLOWED_HOSTS of the staff service (.run.app)
  ADMIN_CSRF_TRUSTED_ORIGINS
                          CSRF_TRUSTED_ORIGINS of the staff service (none), e.g.
                          http://localhost:8080 for `gcloud run services proxy`
  ADMIN_INVOKERS          comma-separated IAM members allowed to call the staff service
                          (e.g. group:breeze-staff@example.com); the service's invoker policy
                          is set to exactly these
  ADMIN_IAP               true: enable Identity-Aware Proxy on the staff service (the IAP
                          service agent is made its invoker; grant staff IAP access yourself)
  ADMIN_INGRESS           staff service ingress: all (default) or internal-and-cloud-load-balancing
  PUBLIC_INVOKERS         with --private: IAM members allowed to call the public service
  TRUST_X_FORWARDED_FOR   BREEZE_TRUST_X_FORWARDED_FOR (true: Cloud Run's front end appends
                          the caller's address; see the README before changing it)
  APP_SECRET_MANAGER      true: also set GCP_PROJECT_ID so the app may read secrets that are
                          not mapped from Secret Manager itself (off: every secret is mapped)
  VPC_CONNECTOR           Serverless VPC Access connector (name or full resource name), or
  NETWORK, SUBNET         Direct VPC egress (NETWORK_TAGS: comma-separated network tags)
  VPC_EGRESS              private-ranges-only (default) or all-traffic
  CLOUDSQL_INSTANCE       Cloud SQL connection name PROJECT:REGION:INSTANCE; mounts the unix
                          socket at /cloudsql/PROJECT:REGION:INSTANCE (DATABASE_URL must use it)
  MIGRATE_TIMEOUT         migration job task timeout (600s)
  INSTRUMENTS_SYNC_TIMEOUT, CANDLES_PRUNE_TIMEOUT
                          task timeouts of those jobs (900s, 1800s)
  INSTRUMENTS_SYNC_SCHEDULE
                          cron schedule of SERVICE-instruments-sync ("45 7 * * 1-5": 07:45 on
                          weekdays, before the 09:15 market open); empty: no schedule (an
                          existing Cloud Scheduler job of that name is deleted)
  CANDLES_PRUNE_SCHEDULE  cron schedule of SERVICE-candles-prune ("30 2 * * 0": Sundays 02:30);
                          empty: no schedule (likewise)
  SCHEDULE_TIME_ZONE      time zone of both schedules (Asia/Kolkata)
  SCHEDULER_REGION        Cloud Scheduler location (REGION)
  SCHEDULER_SERVICE_ACCOUNT
                          identity Cloud Scheduler calls the jobs with (default
                          SERVICE-sched@PROJECT_ID.iam..., created if missing); it is granted
                          roles/run.invoker on the two jobs only
  DEPLOY_DIR              where the generated YAML and the deploy record go (.deploy)
  REQUIRED_SECRETS        mapped secrets that must exist in Secret Manager (SECRET_KEY
                          DATABASE_URL BREEZE_API_KEY BREEZE_API_SECRET REDIS_URL); the others
                          are mapped when they exist and left out (with a note) when not
  SECRET_<NAME>           Secret Manager secret that provides NAME, one of BREEZE_API_KEY,
                          BREEZE_API_SECRET, BREEZE_PROXY_ADMIN_KEY, SECRET_KEY,
                          BREEZE_SESSION_ENCRYPTION_KEYS, BREEZE_CLIENT_KEY_PEPPER, DATABASE_URL,
                          REDIS_URL, METRICS_TOKEN. Default: NAME itself. Set one to the empty
                          string to leave that variable unmapped (e.g. SECRET_REDIS_URL=, which
                          needs MAX_INSTANCES=1); SECRET_KEY and DATABASE_URL are always mapped.
  SECRET_VERSION_<NAME>   pin that secret to this version number instead of its newest enabled
                          version (e.g. to roll back)
  Passed through to the services when set: BREEZE_API_URL, BREEZE_API_V2_URL,
  BREEZE_SECURITY_MASTER_URL, BREEZE_TIMEOUT_S, BREEZE_RATE_PER_MIN, BREEZE_RATE_PER_DAY,
  BREEZE_REQUIRE_CLIENT_KEY, CACHE_KEY_PREFIX, LOG_LEVEL, DB_POOL_MAX_SIZE, CONN_MAX_AGE,
  SECURE_HSTS_PRELOAD, BREEZE_LIVE_STREAM_URL, BREEZE_STREAM_MAX_TOKENS, BREEZE_STREAM_STALE_S,
  BREEZE_HISTORY_MAX_CALLS, BREEZE_MASTER_TIMEOUT_S, BREEZE_MASTER_MAX_BYTES,
  BREEZE_INSTRUMENTS_CHECK_S, BREEZE_INSTRUMENTS_AUTO_SYNC, BREEZE_CANDLE_RETENTION_DAYS,
  REQUEST_READ_TIMEOUT_S, GUNICORN_TIMEOUT.

Every service and job replaces its whole configuration on each deploy: a variable added by
hand in the console is removed by the next deploy.
EOF
}

die() {
    printf 'deploy.sh: %s\n' "$*" >&2
    exit 2
}

note() {
    printf 'deploy.sh: %s\n' "$*" >&2
}

need_value() {
    [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"
}

dry_run=false
skip_build=false
skip_instruments_sync=false
with_admin=true
with_stream=${WITH_STREAM:-false}
while [[ $# -gt 0 ]]; do
    case $1 in
        --project) need_value "$@"; PROJECT_ID=$2; shift ;;
        --project=*) PROJECT_ID=${1#*=} ;;
        --region) need_value "$@"; REGION=$2; shift ;;
        --region=*) REGION=${1#*=} ;;
        --service) need_value "$@"; SERVICE=$2; shift ;;
        --service=*) SERVICE=${1#*=} ;;
        --tag) need_value "$@"; TAG=$2; shift ;;
        --tag=*) TAG=${1#*=} ;;
        --private | --no-allow-unauthenticated) ALLOW_UNAUTHENTICATED=false ;;
        --public | --allow-unauthenticated) ALLOW_UNAUTHENTICATED=true ;;
        --skip-build) skip_build=true ;;
        --no-admin-service) with_admin=false ;;
        --no-public-admin-api) PUBLIC_ADMIN_API=false ;;
        --public-admin-api) PUBLIC_ADMIN_API=true ;;
        --skip-instruments-sync) skip_instruments_sync=true ;;
        --with-stream) with_stream=true ;;
        --dry-run) dry_run=true ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'deploy.sh: unknown option: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# --- inputs ---------------------------------------------------------------------------------

PROJECT_ID=${PROJECT_ID:-}
[[ -n $PROJECT_ID ]] || die "PROJECT_ID is required: set PROJECT_ID or pass --project ID"
[[ $PROJECT_ID =~ ^[a-z][-a-z0-9.:]{0,62}$ ]] || die "PROJECT_ID does not look like a project id"
REGION=${REGION:-asia-south1}
[[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "REGION does not look like a region: $REGION"
SCHEDULER_REGION=${SCHEDULER_REGION:-$REGION}
[[ $SCHEDULER_REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] \
    || die "SCHEDULER_REGION does not look like a region: $SCHEDULER_REGION"
SERVICE=${SERVICE:-breeze-proxy}
ARTIFACT_REPO=${ARTIFACT_REPO:-breeze-proxy}
MIN_INSTANCES=${MIN_INSTANCES:-0}
MAX_INSTANCES=${MAX_INSTANCES:-4}
ADMIN_MIN_INSTANCES=${ADMIN_MIN_INSTANCES:-0}
ADMIN_MAX_INSTANCES=${ADMIN_MAX_INSTANCES:-1}
STREAM_MIN_INSTANCES=${STREAM_MIN_INSTANCES:-1}
STREAM_MAX_INSTANCES=${STREAM_MAX_INSTANCES:-2}
STREAM_CONCURRENCY=${STREAM_CONCURRENCY:-500}
CPU=${CPU:-2}
MEMORY=${MEMORY:-1Gi}
STREAM_CPU=${STREAM_CPU:-1}
STREAM_MEMORY=${STREAM_MEMORY:-1Gi}
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-60}
PROBES=${PROBES:-http}
MIGRATE_TIMEOUT=${MIGRATE_TIMEOUT:-600s}
INSTRUMENTS_SYNC_TIMEOUT=${INSTRUMENTS_SYNC_TIMEOUT:-900s}
CANDLES_PRUNE_TIMEOUT=${CANDLES_PRUNE_TIMEOUT:-1800s}
# ${VAR-default} (no colon): set to "" means "no schedule".
INSTRUMENTS_SYNC_SCHEDULE=${INSTRUMENTS_SYNC_SCHEDULE-45 7 * * 1-5}
CANDLES_PRUNE_SCHEDULE=${CANDLES_PRUNE_SCHEDULE-30 2 * * 0}
SCHEDULE_TIME_ZONE=${SCHEDULE_TIME_ZONE:-Asia/Kolkata}
PUBLIC_ADMIN_API=${PUBLIC_ADMIN_API:-true}
ALLOW_UNAUTHENTICATED=${ALLOW_UNAUTHENTICATED:-true}
TRUST_X_FORWARDED_FOR=${TRUST_X_FORWARDED_FOR:-true}
APP_SECRET_MANAGER=${APP_SECRET_MANAGER:-false}
ADMIN_IAP=${ADMIN_IAP:-false}
ADMIN_INGRESS=${ADMIN_INGRESS:-all}
VPC_EGRESS=${VPC_EGRESS:-private-ranges-only}
REQUIRED_SECRETS=${REQUIRED_SECRETS:-SECRET_KEY DATABASE_URL BREEZE_API_KEY BREEZE_API_SECRET REDIS_URL}

# Cloud Run service names have at most 49 characters, and "-stream" is the longest suffix.
[[ $SERVICE =~ ^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$ ]] \
    || die "SERVICE must be lower-case letters, digits and dashes, at most 42: $SERVICE"
for count in MIN_INSTANCES MAX_INSTANCES ADMIN_MIN_INSTANCES ADMIN_MAX_INSTANCES \
    STREAM_MIN_INSTANCES STREAM_MAX_INSTANCES STREAM_CONCURRENCY REQUEST_TIMEOUT; do
    [[ ${!count} =~ ^[0-9]+$ ]] || die "$count must be a whole number: ${!count}"
done
[[ $MAX_INSTANCES -ge 1 && $MIN_INSTANCES -le $MAX_INSTANCES ]] \
    || die "need 1 <= MAX_INSTANCES and MIN_INSTANCES <= MAX_INSTANCES"
is_true() {
    case $2 in
        true | 1 | yes) return 0 ;;
        false | 0 | no | "") return 1 ;;
        *) die "$1 must be true or false: $2" ;;
    esac
}
public_open=false
if is_true ALLOW_UNAUTHENTICATED "$ALLOW_UNAUTHENTICATED"; then public_open=true; fi
public_admin_api=false
if is_true PUBLIC_ADMIN_API "$PUBLIC_ADMIN_API"; then public_admin_api=true; fi
for timeout_var in MIGRATE_TIMEOUT INSTRUMENTS_SYNC_TIMEOUT CANDLES_PRUNE_TIMEOUT; do
    [[ ${!timeout_var} =~ ^[1-9][0-9]*[smh]?$ ]] \
        || die "$timeout_var must be a duration such as 600s: ${!timeout_var}"
done
# Five cron fields (Cloud Scheduler's unix-cron format), or empty for no schedule.
for schedule_var in INSTRUMENTS_SYNC_SCHEDULE CANDLES_PRUNE_SCHEDULE; do
    if [[ -n ${!schedule_var} ]]; then
        [[ ${!schedule_var} =~ ^[-0-9A-Za-z*/,]+( [-0-9A-Za-z*/,]+){4}$ ]] \
            || die "$schedule_var must be five cron fields (e.g. \"45 7 * * 1-5\") or empty:" \
                "${!schedule_var}"
    fi
done
[[ $SCHEDULE_TIME_ZONE =~ ^[A-Za-z][-A-Za-z0-9_+/]*$ ]] \
    || die "SCHEDULE_TIME_ZONE must be a tz database name such as Asia/Kolkata: $SCHEDULE_TIME_ZONE"
case $PROBES in http | tcp) ;; *) die "PROBES must be http or tcp: $PROBES" ;; esac
case $VPC_EGRESS in
    private-ranges-only | all-traffic) ;;
    *) die "VPC_EGRESS must be private-ranges-only or all-traffic: $VPC_EGRESS" ;;
esac
case $ADMIN_INGRESS in
    all | internal | internal-and-cloud-load-balancing) ;;
    *) die "ADMIN_INGRESS must be all, internal or internal-and-cloud-load-balancing" ;;
esac

# Network: a Serverless VPC Access connector or Direct VPC egress, never both.
VPC_CONNECTOR=${VPC_CONNECTOR:-}
NETWORK=${NETWORK:-}
SUBNET=${SUBNET:-}
NETWORK_TAGS=${NETWORK_TAGS:-}
CLOUDSQL_INSTANCE=${CLOUDSQL_INSTANCE:-}
if [[ -n $VPC_CONNECTOR && -n $NETWORK$SUBNET ]]; then
    die "set VPC_CONNECTOR or NETWORK/SUBNET (Direct VPC egress), not both"
fi
for value in "$VPC_CONNECTOR" "$NETWORK" "$SUBNET" "$NETWORK_TAGS"; do
    [[ $value =~ ^[-A-Za-z0-9/_.,]*$ ]] || die "unexpected character in a network setting: $value"
done
if [[ -n $CLOUDSQL_INSTANCE && ! $CLOUDSQL_INSTANCE =~ ^[-a-z0-9.:]+:[a-z]+-[a-z]+[0-9]+:[-a-z0-9]+$ ]]; then
    die "CLOUDSQL_INSTANCE must be a connection name PROJECT:REGION:INSTANCE: $CLOUDSQL_INSTANCE"
fi

# Everything runs from the repository root, which is the build context Cloud Build uploads.
script_path=${BASH_SOURCE[0]}
if [[ $script_path == */* ]]; then
    cd "${script_path%/*}"
fi

if [[ -z ${TAG:-} ]]; then
    if command -v git >/dev/null 2>&1 && TAG=$(git rev-parse --short HEAD 2>/dev/null); then
        # Cloud Build uploads the working tree, not the commit: say so in the tag.
        if [[ -n $(git status --porcelain 2>/dev/null) ]]; then
            TAG="$TAG-dirty"
        fi
    else
        TAG="manual-$(date -u +%Y%m%d%H%M%S)"
    fi
fi
[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG is not a valid image tag: $TAG"
IMAGE=${IMAGE:-$REGION-docker.pkg.dev/$PROJECT_ID/$ARTIFACT_REPO/$SERVICE:$TAG}

# The runtime identity: a dedicated account that can read exactly the secrets below.
if [[ -z ${SERVICE_ACCOUNT:-} ]]; then
    account_id="$SERVICE-run"
    [[ ${#account_id} -le 30 ]] \
        || die "SERVICE is too long to name its service account ($account_id); set SERVICE_ACCOUNT"
    SERVICE_ACCOUNT="$account_id@$PROJECT_ID.iam.gserviceaccount.com"
fi
case $SERVICE_ACCOUNT in
    *-compute@developer.gserviceaccount.com | *@appspot.gserviceaccount.com)
        die "SERVICE_ACCOUNT must be a dedicated account, not a default one: $SERVICE_ACCOUNT" ;;
    *@*.iam.gserviceaccount.com) ;;
    *) die "SERVICE_ACCOUNT must be a service account e-mail: $SERVICE_ACCOUNT" ;;
esac

# Cloud Scheduler's identity: it may run the two scheduled jobs and nothing else.
scheduled=false
[[ -z $INSTRUMENTS_SYNC_SCHEDULE$CANDLES_PRUNE_SCHEDULE ]] || scheduled=true
if [[ -z ${SCHEDULER_SERVICE_ACCOUNT:-} ]]; then
    account_id="$SERVICE-sched"
    if [[ $scheduled == true && ${#account_id} -gt 30 ]]; then
        die "SERVICE is too long to name the scheduler's service account ($account_id); set" \
            "SCHEDULER_SERVICE_ACCOUNT"
    fi
    SCHEDULER_SERVICE_ACCOUNT="$account_id@$PROJECT_ID.iam.gserviceaccount.com"
fi
case $SCHEDULER_SERVICE_ACCOUNT in
    *-compute@developer.gserviceaccount.com | *@appspot.gserviceaccount.com)
        die "SCHEDULER_SERVICE_ACCOUNT must be a dedicated account, not a default one:" \
            "$SCHEDULER_SERVICE_ACCOUNT" ;;
    "$SERVICE_ACCOUNT")
        die "SCHEDULER_SERVICE_ACCOUNT must not be the runtime account $SERVICE_ACCOUNT (the" \
            "services would then be able to start the jobs)" ;;
    *@*.iam.gserviceaccount.com) ;;
    *) die "SCHEDULER_SERVICE_ACCOUNT must be a service account e-mail:" \
        "$SCHEDULER_SERVICE_ACCOUNT" ;;
esac

# --- secrets --------------------------------------------------------------------------------

# Every secret the app reads (settings.py and config_sources.secret_value), in this order.
secret_vars=(
    BREEZE_API_KEY
    BREEZE_API_SECRET
    BREEZE_PROXY_ADMIN_KEY
    SECRET_KEY
    BREEZE_SESSION_ENCRYPTION_KEYS
    BREEZE_CLIENT_KEY_PEPPER
    DATABASE_URL
    REDIS_URL
    METRICS_TOKEN
)
wanted_vars=()   # variables to map, with their secrets' names in wanted_names
wanted_names=()
skipped_vars=()  # variables left unmapped, with the reason
for var in "${secret_vars[@]}"; do
    override="SECRET_$var"
    # ${!override-...} (no colon): an override set to "" leaves the variable unmapped.
    name=${!override-$var}
    if [[ -z $name ]]; then
        skipped_vars+=("$var (unmapped: $override is empty)")
        continue
    fi
    [[ $name =~ ^[A-Za-z0-9_-]{1,255}$ ]] || die "$override is not a secret name: $name"
    pin="SECRET_VERSION_$var"
    if [[ -n ${!pin:-} && ! ${!pin} =~ ^[1-9][0-9]*$ ]]; then
        die "$pin must be a version number: ${!pin}"
    fi
    wanted_vars+=("$var")
    wanted_names+=("$name")
done
# Production settings refuse to start without SECRET_KEY, and the image's default SQLite path is
# read-only: these two can never be left unmapped.
for var in SECRET_KEY DATABASE_URL; do
    override="SECRET_$var"
    if [[ -n ${!override+set} && -z ${!override} ]]; then
        die "$var cannot be left unmapped ($override is empty)"
    fi
done

# Several instances share one cache, Breeze budget and breaker only through Redis.
need_redis() {
    local var
    for var in "$@"; do
        [[ $var != REDIS_URL ]] || return 0
    done
    if [[ $MAX_INSTANCES -gt 1 ]]; then
        die "REDIS_URL is not mapped: without Redis every instance has its own cache and Breeze" \
            "budget, so MAX_INSTANCES must be 1"
    fi
    return 1
}
need_redis "${wanted_vars[@]}" || true  # fail before any gcloud call when it was opted out
[[ ${WEB_CONCURRENCY:-1} =~ ^[1-9][0-9]*$ ]] || die "WEB_CONCURRENCY must be a positive number"
[[ ${GUNICORN_THREADS:-1} =~ ^[1-9][0-9]*$ ]] || die "GUNICORN_THREADS must be a positive number"

# --- plain settings -------------------------------------------------------------------------

passthrough_vars=(
    BREEZE_API_URL
    BREEZE_API_V2_URL
    BREEZE_SECURITY_MASTER_URL
    BREEZE_TIMEOUT_S
    BREEZE_RATE_PER_MIN
    BREEZE_RATE_PER_DAY
    BREEZE_REQUIRE_CLIENT_KEY
    CACHE_KEY_PREFIX
    LOG_LEVEL
    DB_POOL_MAX_SIZE
    CONN_MAX_AGE
    SECURE_HSTS_PRELOAD
    BREEZE_LIVE_STREAM_URL
    BREEZE_STREAM_MAX_TOKENS
    BREEZE_STREAM_STALE_S
    BREEZE_HISTORY_MAX_CALLS
    BREEZE_MASTER_TIMEOUT_S
    BREEZE_MASTER_MAX_BYTES
    BREEZE_INSTRUMENTS_CHECK_S
    BREEZE_INSTRUMENTS_AUTO_SYNC
    BREEZE_CANDLE_RETENTION_DAYS
    REQUEST_READ_TIMEOUT_S
    GUNICORN_TIMEOUT
)
# Settings every container gets (services and jobs).
base_env=("DEBUG=false")
if is_true APP_SECRET_MANAGER "$APP_SECRET_MANAGER"; then
    base_env+=("GCP_PROJECT_ID=$PROJECT_ID")
fi
for var in "${passthrough_vars[@]}"; do
    if [[ -n ${!var:-} ]]; then
        base_env+=("$var=${!var}")
    fi
done
trust_xff=false
if is_true TRUST_X_FORWARDED_FOR "$TRUST_X_FORWARDED_FOR"; then trust_xff=true; fi
# Settings of the HTTP services.
service_env=(
    "${base_env[@]}"
    "SECURE_SSL_REDIRECT=true"
    "BREEZE_TRUST_X_FORWARDED_FOR=$trust_xff"
)

# --- output ---------------------------------------------------------------------------------

join_by() {
    local IFS=$1
    shift
    printf '%s' "$*"
}

# Commands carry secret names and version numbers, never secret values, so showing them is safe.
show() {
    if [[ $dry_run == true ]]; then
        printf '%q ' "$@"
        printf '\n'
    else
        {
            printf '+ '
            printf '%q ' "$@"
            printf '\n'
        } >&2
    fi
}

run() {
    show "$@"
    if [[ $dry_run != true ]]; then
        "$@"
    fi
}

# capture VAR PLACEHOLDER COMMAND...: VAR is set to the command's output; in a dry run the
# command is only shown and VAR is set to PLACEHOLDER.
capture() {
    local capture_var=$1 capture_placeholder=$2 capture_output
    shift 2
    show "$@"
    if [[ $dry_run == true ]]; then
        capture_output=$capture_placeholder
    else
        capture_output=$("$@")
    fi
    printf -v "$capture_var" '%s' "$capture_output"
}

comment() {
    if [[ $dry_run == true ]]; then
        printf '# %s\n' "$*"
    fi
}

deploy_dir=${DEPLOY_DIR:-.deploy}

# write_file PATH CONTENT: the dry run shows the file as a here-document instead.
write_file() {
    if [[ $dry_run == true ]]; then
        printf "cat > %q <<'EOF'\n%sEOF\n" "$1" "$2"
    else
        mkdir -p "$deploy_dir"
        # Deploy records are local: keep them out of git without touching .gitignore.
        [[ -f $deploy_dir/.gitignore ]] || printf '*\n' >"$deploy_dir/.gitignore"
        printf '%s' "$2" >"$1"
        note "wrote $1"
    fi
}

# A YAML double-quoted scalar.
yq() {
    local value=$1
    [[ $value != *[[:cntrl:]]* ]] || die "control characters are not allowed in settings"
    value=${value//\\/\\\\}
    value=${value//\"/\\\"}
    printf '"%s"' "$value"
}

if [[ $dry_run != true ]]; then
    command -v gcloud >/dev/null 2>&1 \
        || die "gcloud is not installed or not on PATH (https://cloud.google.com/sdk/docs/install)"
    # Never wait for an answer at a prompt: fail instead.
    export CLOUDSDK_CORE_DISABLE_PROMPTS=1
fi

mode=""
[[ $dry_run != true ]] || mode=" (dry run)"
note "$IMAGE -> $SERVICE in $PROJECT_ID/$REGION$mode"

# --- 1. secret versions ---------------------------------------------------------------------

comment "1. Secrets: pin each mapped secret to its newest enabled version (names only, no values)"
secret_list=""
capture secret_list "<the project's secrets>" \
    gcloud secrets list --project "$PROJECT_ID" --format 'value(name)'

secret_exists() {
    local line
    [[ $dry_run != true ]] || return 0
    while IFS= read -r line; do
        [[ ${line##*/} != "$1" ]] || return 0
    done <<<"$secret_list"
    return 1
}

is_required() {
    local required
    for required in $REQUIRED_SECRETS; do
        [[ $required != "$1" ]] || return 0
    done
    return 1
}

mapped_vars=()
mapped_names=()
mapped_versions=()
for index in "${!wanted_vars[@]}"; do
    var=${wanted_vars[$index]}
    name=${wanted_names[$index]}
    if ! secret_exists "$name"; then
        if is_required "$var"; then
            die "secret $name (for $var) does not exist in $PROJECT_ID; create it, or set" \
                "SECRET_$var to the secret that holds it"
        fi
        skipped_vars+=("$var (unmapped: no secret $name in $PROJECT_ID)")
        continue
    fi
    pin="SECRET_VERSION_$var"
    if [[ -n ${!pin:-} ]]; then
        version=${!pin}
    else
        version=""
        capture version "<resolved>" gcloud secrets versions list "$name" \
            --project "$PROJECT_ID" --filter 'state:ENABLED' --sort-by '~createTime' \
            --limit 1 --format 'value(name)'
        version=${version##*/}
        if [[ $dry_run != true && ! $version =~ ^[1-9][0-9]*$ ]]; then
            die "secret $name has no enabled version"
        fi
    fi
    mapped_vars+=("$var")
    mapped_names+=("$name")
    mapped_versions+=("$version")
done

{
    printf 'deploy.sh: secrets mapped (Secret Manager secret:version; values are never read):\n'
    for index in "${!mapped_vars[@]}"; do
        printf '  %-32s <- %s:%s\n' "${mapped_vars[$index]}" "${mapped_names[$index]}" \
            "${mapped_versions[$index]}"
    done
    for skipped in ${skipped_vars[@]+"${skipped_vars[@]}"}; do
        printf '  %s\n' "$skipped"
    done
} >&2

redis_mapped=false
if need_redis "${mapped_vars[@]}"; then redis_mapped=true; fi

# gunicorn's shape, as gunicorn.conf.py derives it (2 workers with Redis, else 1; 80 threads in
# all); Cloud Run sends each instance at most workers x threads requests at once.
if [[ $redis_mapped == true ]]; then default_workers=2; else default_workers=1; fi
WEB_CONCURRENCY=${WEB_CONCURRENCY:-$default_workers}
GUNICORN_THREADS=${GUNICORN_THREADS:-$((80 / WEB_CONCURRENCY))}
concurrency=$((WEB_CONCURRENCY * GUNICORN_THREADS))
[[ $concurrency -le 1000 ]] || die "WEB_CONCURRENCY x GUNICORN_THREADS exceeds Cloud Run's 1000"

if [[ $redis_mapped == true && -z $VPC_CONNECTOR$NETWORK$SUBNET ]]; then
    note "REDIS_URL is mapped but no VPC egress is set: Memorystore is reachable only through" \
        "VPC_CONNECTOR or NETWORK/SUBNET"
fi

# --- 2. runtime service account and its grants ---------------------------------------------

# ensure_account EMAIL DISPLAY_NAME DESCRIPTION: an account of this project is created when
# missing (account_created=true then); an account of another project must exist.
account_created=false
ensure_account() {
    local email=$1 display=$2 description=$3
    account_created=false
    if [[ $email == *"@$PROJECT_ID.iam.gserviceaccount.com" ]]; then
        local describe_account=(gcloud iam service-accounts describe "$email"
            --project "$PROJECT_ID" --format 'value(email)')
        local create_account=(gcloud iam service-accounts create "${email%%@*}"
            --project "$PROJECT_ID" --display-name "$display" --description "$description")
        if [[ $dry_run == true ]]; then
            show "${describe_account[@]}"
            comment "only if the describe above fails:"
            show "${create_account[@]}"
        elif "${describe_account[@]}" >/dev/null 2>&1; then
            note "service account $email exists"
        else
            run "${create_account[@]}"
            account_created=true
        fi
    else
        run gcloud iam service-accounts describe "$email" --format 'value(email)'
    fi
}

comment "2. The runtime service account: created when missing, granted each secret separately"
ensure_account "$SERVICE_ACCOUNT" "Breeze Proxy runtime ($SERVICE)" \
    "Runs $SERVICE on Cloud Run; reads only its own secrets"
runtime_account_created=$account_created
if [[ $scheduled == true ]]; then
    # Created now, long before its grants (step 7), so that the new account is known by then.
    comment "The scheduler's service account: created when missing; granted in step 7"
    ensure_account "$SCHEDULER_SERVICE_ACCOUNT" "Breeze Proxy scheduler ($SERVICE)" \
        "Cloud Scheduler's identity: may run $SERVICE-instruments-sync and $SERVICE-candles-prune"
fi

for index in "${!mapped_names[@]}"; do
    run gcloud secrets add-iam-policy-binding "${mapped_names[$index]}" \
        --project "$PROJECT_ID" \
        --member "serviceAccount:$SERVICE_ACCOUNT" \
        --role roles/secretmanager.secretAccessor \
        --condition None
done

if [[ -n $CLOUDSQL_INSTANCE ]]; then
    # roles/cloudsql.client exists only at project level; the condition narrows it to the
    # one instance (Cloud SQL resource names are projects/PROJECT/instances/INSTANCE).
    sql_project=${CLOUDSQL_INSTANCE%%:*}
    sql_instance=${CLOUDSQL_INSTANCE##*:}
    sql_resource="projects/$sql_project/instances/$sql_instance"
    run gcloud projects add-iam-policy-binding "$sql_project" \
        --member "serviceAccount:$SERVICE_ACCOUNT" \
        --role roles/cloudsql.client \
        --condition "expression=resource.name == \"$sql_resource\" && resource.type == \"sqladmin.googleapis.com/Instance\",title=$SERVICE cloudsql $sql_instance"
fi

# --- 3. image -------------------------------------------------------------------------------

comment "3. The image (the upload honours .gcloudignore; the Docker build .dockerignore)"
if [[ $skip_build == true ]]; then
    note "--skip-build: deploying $IMAGE as built before"
else
    run gcloud builds submit . --project "$PROJECT_ID" --tag "$IMAGE"
fi

# --- 4. migrations --------------------------------------------------------------------------

# VARIABLE=secret:version for gcloud's --set-secrets.
secret_flag=()
for index in "${!mapped_vars[@]}"; do
    secret_flag+=("${mapped_vars[$index]}=${mapped_names[$index]}:${mapped_versions[$index]}")
done

network_flags=()
if [[ -n $VPC_CONNECTOR ]]; then
    network_flags+=(--vpc-connector "$VPC_CONNECTOR" --vpc-egress "$VPC_EGRESS")
elif [[ -n $NETWORK$SUBNET ]]; then
    [[ -z $NETWORK ]] || network_flags+=(--network "$NETWORK")
    [[ -z $SUBNET ]] || network_flags+=(--subnet "$SUBNET")
    [[ -z $NETWORK_TAGS ]] || network_flags+=(--network-tags "$NETWORK_TAGS")
    network_flags+=(--vpc-egress "$VPC_EGRESS")
fi
if [[ -n $CLOUDSQL_INSTANCE ]]; then
    network_flags+=(--set-cloudsql-instances "$CLOUDSQL_INSTANCE")
fi

# Values may hold commas (lists), so gcloud's alternate delimiter is used:
# "^@^A=x,y@B=z" (see `gcloud topic escaping`).
for pair in "${base_env[@]}"; do
    [[ $pair != *@* ]] || die "values passed to Cloud Run must not contain '@': ${pair%%=*}"
done

comment "4. Migrations: one Cloud Run job on the same image, run to completion before any" \
    "service changes"
if [[ $runtime_account_created == true && $skip_build == true ]]; then
    # Grants to a new account take a while to apply everywhere; the build usually covers it.
    note "waiting 60 s for the new service account's grants to propagate"
    sleep 60
fi
# deploy_job NAME ARGS TIMEOUT RETRIES: a Cloud Run job that runs `python ARGS` (gcloud's
# list syntax: manage.py,migrate,--noinput) once, on the same image, account, secrets, settings
# and network as the services. Each deploy replaces the job's whole configuration.
deploy_job() {
    local name=$1 args=$2 timeout=$3 retries=$4
    local job_args=(
        gcloud run jobs deploy "$name"
        --project "$PROJECT_ID"
        --region "$REGION"
        --image "$IMAGE"
        --service-account "$SERVICE_ACCOUNT"
        --command python
        --args "$args"
        --tasks 1
        --parallelism 1
        --max-retries "$retries"
        --task-timeout "$timeout"
        --cpu 1
        --memory 1Gi
        --set-env-vars "^@^$(join_by @ "${base_env[@]}")"
    )
    if [[ ${#secret_flag[@]} -gt 0 ]]; then
        job_args+=(--set-secrets "$(join_by , "${secret_flag[@]}")")
    fi
    run "${job_args[@]}" ${network_flags[@]+"${network_flags[@]}"}
}

migrate_job="$SERVICE-migrate"
deploy_job "$migrate_job" manage.py,migrate,--noinput "$MIGRATE_TIMEOUT" 0
run gcloud run jobs execute "$migrate_job" --project "$PROJECT_ID" --region "$REGION" --wait

# --- 5. scheduled jobs ----------------------------------------------------------------------

comment "5. Scheduled jobs (their schedules come after the services): the instrument master," \
    "run once now, and the candle store's retention"
sync_job="$SERVICE-instruments-sync"
prune_job="$SERVICE-candles-prune"
# Both are idempotent, so a task that fails (a download cut short) is retried once.
deploy_job "$sync_job" manage.py,instruments,sync "$INSTRUMENTS_SYNC_TIMEOUT" 1
deploy_job "$prune_job" manage.py,candles,prune "$CANDLES_PRUNE_TIMEOUT" 1
if [[ $skip_instruments_sync == true ]]; then
    note "--skip-instruments-sync: $sync_job not run now (its schedule, or the app's own sync" \
        "when the master is stale, loads it)"
else
    comment "a failure here is a warning, not a stop: the app falls back to Breeze's codes and" \
        "syncs by itself when the master is stale"
    if ! run gcloud run jobs execute "$sync_job" --project "$PROJECT_ID" --region "$REGION" \
        --wait; then
        note "warning: $sync_job failed; the deploy goes on (the services fall back to Breeze's" \
            "codes and sync the master when stale). Its logs: gcloud run jobs executions list" \
            "--job $sync_job --region $REGION; rerun: gcloud run jobs execute $sync_job" \
            "--region $REGION --wait"
    fi
fi

# --- 6. services ----------------------------------------------------------------------------

# The YAML lines every container of a service shares: probes, env, secrets.
probe_yaml() {
    local kind=$1 path=$2 period=$3 timeout=$4 threshold=$5
    printf '        %s:\n' "$kind"
    printf '          httpGet:\n'
    printf '            path: %s\n' "$(yq "$path")"
    printf '            port: 8080\n'
    printf '            httpHeaders:\n'
    # Cloud Run's front end sets this for real requests; without it SECURE_SSL_REDIRECT
    # would answer a probe of /breeze/health with a redirect, which a probe counts as success.
    printf '            - name: "X-Forwarded-Proto"\n'
    printf '              value: "https"\n'
    printf '          periodSeconds: %s\n' "$period"
    printf '          timeoutSeconds: %s\n' "$timeout"
    printf '          failureThreshold: %s\n' "$threshold"
}

# deploy_service name=NAME [setting=value ...]: one Cloud Run service from this image, written
# as a service YAML (.deploy/NAME-TAG.yaml) and applied with `gcloud run services replace`.
# Settings: access=public|private, invokers=MEMBERS (private: exactly these may call it),
# admin_site=true|false (BREEZE_ADMIN_SITE_ENABLED: the Django admin at /admin/),
# admin_api=true|false (BREEZE_ADMIN_API_ENABLED: /breeze/admin/* and /api/breeze/admin/*),
# command=EXE, args=A,B,C (default: the image's gunicorn CMD), concurrency, cpu, memory, min,
# max, timeout (seconds), cpu_throttling, session_affinity, hosts (ALLOWED_HOSTS), cors, csrf
# (CSRF_TRUSTED_ORIGINS), ingress, iap, env=NAME=VALUE (repeatable).
deploy_service() {
    local name="" access=public invokers="" admin_site=false admin_api=false command="" args=""
    local service_concurrency=$concurrency cpu=$CPU memory=$MEMORY min=0 max=1
    local timeout=$REQUEST_TIMEOUT cpu_throttling=true session_affinity=false
    local hosts=".run.app" cors="" csrf="" ingress=all iap=false
    local extra_env=() setting
    for setting in "$@"; do
        case $setting in
            name=*) name=${setting#*=} ;;
            access=*) access=${setting#*=} ;;
            invokers=*) invokers=${setting#*=} ;;
            admin_site=*) admin_site=${setting#*=} ;;
            admin_api=*) admin_api=${setting#*=} ;;
            command=*) command=${setting#*=} ;;
            args=*) args=${setting#*=} ;;
            concurrency=*) service_concurrency=${setting#*=} ;;
            cpu=*) cpu=${setting#*=} ;;
            memory=*) memory=${setting#*=} ;;
            min=*) min=${setting#*=} ;;
            max=*) max=${setting#*=} ;;
            timeout=*) timeout=${setting#*=} ;;
            cpu_throttling=*) cpu_throttling=${setting#*=} ;;
            session_affinity=*) session_affinity=${setting#*=} ;;
            hosts=*) hosts=${setting#*=} ;;
            cors=*) cors=${setting#*=} ;;
            csrf=*) csrf=${setting#*=} ;;
            ingress=*) ingress=${setting#*=} ;;
            iap=*) iap=${setting#*=} ;;
            env=*) extra_env+=("${setting#*=}") ;;
            *) die "deploy_service: unknown setting: $setting" ;;
        esac
    done
    [[ -n $name ]] || die "deploy_service: name= is required"
    case $access in public | private) ;; *) die "deploy_service: access=$access" ;; esac

    local env=("${service_env[@]}" "BREEZE_ADMIN_SITE_ENABLED=$admin_site"
        "BREEZE_ADMIN_API_ENABLED=$admin_api" "ALLOWED_HOSTS=$hosts")
    [[ -z $cors ]] || env+=("CORS_ALLOWED_ORIGINS=$cors")
    [[ -z $csrf ]] || env+=("CSRF_TRUSTED_ORIGINS=$csrf")
    env+=(${extra_env[@]+"${extra_env[@]}"})

    local yaml="" pair item index
    yaml+="# $name: generated by deploy.sh for $IMAGE; applied with gcloud run services replace."$'\n'
    yaml+="apiVersion: serving.knative.dev/v1"$'\n'
    yaml+="kind: Service"$'\n'
    yaml+="metadata:"$'\n'
    yaml+="  name: $(yq "$name")"$'\n'
    yaml+="  labels:"$'\n'
    yaml+="    cloud.googleapis.com/location: $(yq "$REGION")"$'\n'
    yaml+="  annotations:"$'\n'
    yaml+="    run.googleapis.com/ingress: $(yq "$ingress")"$'\n'
    if [[ $iap == true ]]; then
        yaml+="    run.googleapis.com/iap-enabled: \"true\""$'\n'
    fi
    yaml+="spec:"$'\n'
    yaml+="  template:"$'\n'
    yaml+="    metadata:"$'\n'
    yaml+="      annotations:"$'\n'
    yaml+="        autoscaling.knative.dev/minScale: $(yq "$min")"$'\n'
    yaml+="        autoscaling.knative.dev/maxScale: $(yq "$max")"$'\n'
    yaml+="        run.googleapis.com/startup-cpu-boost: \"true\""$'\n'
    yaml+="        run.googleapis.com/cpu-throttling: $(yq "$cpu_throttling")"$'\n'
    if [[ $session_affinity == true ]]; then
        yaml+="        run.googleapis.com/sessionAffinity: \"true\""$'\n'
    fi
    if [[ -n $VPC_CONNECTOR ]]; then
        yaml+="        run.googleapis.com/vpc-access-connector: $(yq "$VPC_CONNECTOR")"$'\n'
        yaml+="        run.googleapis.com/vpc-access-egress: $(yq "$VPC_EGRESS")"$'\n'
    elif [[ -n $NETWORK$SUBNET ]]; then
        local interface=""
        [[ -z $NETWORK ]] || interface+="\"network\":\"$NETWORK\""
        [[ -z $SUBNET ]] || interface+="${interface:+,}\"subnetwork\":\"$SUBNET\""
        if [[ -n $NETWORK_TAGS ]]; then
            interface+=",\"tags\":[\"${NETWORK_TAGS//,/\",\"}\"]"
        fi
        yaml+="        run.googleapis.com/network-interfaces: $(yq "[{$interface}]")"$'\n'
        yaml+="        run.googleapis.com/vpc-access-egress: $(yq "$VPC_EGRESS")"$'\n'
    fi
    if [[ -n $CLOUDSQL_INSTANCE ]]; then
        yaml+="        run.googleapis.com/cloudsql-instances: $(yq "$CLOUDSQL_INSTANCE")"$'\n'
    fi
    yaml+="    spec:"$'\n'
    yaml+="      serviceAccountName: $(yq "$SERVICE_ACCOUNT")"$'\n'
    yaml+="      containerConcurrency: $service_concurrency"$'\n'
    yaml+="      timeoutSeconds: $timeout"$'\n'
    yaml+="      containers:"$'\n'
    yaml+="      - image: $(yq "$IMAGE")"$'\n'
    if [[ -n $command ]]; then
        yaml+="        command:"$'\n'
        yaml+="        - $(yq "$command")"$'\n'
        yaml+="        args:"$'\n'
        local arg_list=()
        IFS=, read -r -a arg_list <<<"$args"
        for item in ${arg_list[@]+"${arg_list[@]}"}; do
            yaml+="        - $(yq "$item")"$'\n'
        done
    fi
    yaml+="        ports:"$'\n'
    yaml+="        - name: http1"$'\n'
    yaml+="          containerPort: 8080"$'\n'
    yaml+="        resources:"$'\n'
    yaml+="          limits:"$'\n'
    yaml+="            cpu: $(yq "$cpu")"$'\n'
    yaml+="            memory: $(yq "$memory")"$'\n'
    yaml+="        env:"$'\n'
    for pair in "${env[@]}"; do
        yaml+="        - name: $(yq "${pair%%=*}")"$'\n'
        yaml+="          value: $(yq "${pair#*=}")"$'\n'
    done
    for index in "${!mapped_vars[@]}"; do
        yaml+="        - name: $(yq "${mapped_vars[$index]}")"$'\n'
        yaml+="          valueFrom:"$'\n'
        yaml+="            secretKeyRef:"$'\n'
        yaml+="              name: $(yq "${mapped_names[$index]}")"$'\n'
        yaml+="              key: $(yq "${mapped_versions[$index]}")"$'\n'
    done
    if [[ $PROBES == http ]]; then
        # Startup: / answers without the database or Breeze once the app is loaded.
        yaml+=$(probe_yaml startupProbe / 2 2 30)$'\n'
        # Liveness: /breeze/health reads the session from the store, never calls Breeze.
        yaml+=$(probe_yaml livenessProbe /breeze/health 30 5 3)$'\n'
    else
        yaml+="        startupProbe:"$'\n'
        yaml+="          tcpSocket:"$'\n'
        yaml+="            port: 8080"$'\n'
        yaml+="          periodSeconds: 2"$'\n'
        yaml+="          timeoutSeconds: 2"$'\n'
        yaml+="          failureThreshold: 30"$'\n'
    fi
    yaml+="  traffic:"$'\n'
    yaml+="  - latestRevision: true"$'\n'
    yaml+="    percent: 100"$'\n'

    local file="$deploy_dir/$name-$TAG.yaml"
    write_file "$file" "$yaml"
    run gcloud run services replace "$file" --project "$PROJECT_ID" --region "$REGION"

    if [[ $access == public ]]; then
        run gcloud run services add-iam-policy-binding "$name" --project "$PROJECT_ID" \
            --region "$REGION" --member allUsers --role roles/run.invoker
    else
        # Exactly these members may invoke it (replaces any earlier grant, allUsers included).
        local policy="bindings:"$'\n' members=()
        if [[ -n $invokers ]]; then
            IFS=, read -r -a members <<<"$invokers"
        fi
        if [[ ${#members[@]} -gt 0 ]]; then
            policy+="- role: roles/run.invoker"$'\n'
            policy+="  members:"$'\n'
            for item in "${members[@]}"; do
                [[ $item =~ ^(user|group|serviceAccount|domain|principal|principalSet):[^[:space:]]+$ ]] \
                    || die "not an IAM member: $item"
                [[ $item != allUsers && $item != allAuthenticatedUsers ]] || die "$name is private"
                policy+="  - $(yq "$item")"$'\n'
            done
        else
            policy="bindings: []"$'\n'
            note "$name: no invokers given; only project owners can call it"
        fi
        local policy_file="$deploy_dir/$name-$TAG.invokers.yaml"
        write_file "$policy_file" "$policy"
        run gcloud run services set-iam-policy "$name" "$policy_file" --project "$PROJECT_ID" \
            --region "$REGION"
    fi
}

comment "6. Services (each waits for its new revision to pass the startup probe)"
public_access=public
[[ $public_open == true ]] || public_access=private
# The frontend posts the daily session to /breeze/admin/api-session on the public URL, so the
# admin API (X-Proxy-Admin-Key, with lockout) stays on unless --no-public-admin-api; the Django
# admin never is.
deploy_service name="$SERVICE" access="$public_access" invokers="${PUBLIC_INVOKERS:-}" \
    admin_site=false admin_api="$public_admin_api" min="$MIN_INSTANCES" max="$MAX_INSTANCES" \
    hosts="${ALLOWED_HOSTS:-.run.app}" cors="${CORS_ALLOWED_ORIGINS:-}" \
    env="WEB_CONCURRENCY=$WEB_CONCURRENCY" env="GUNICORN_THREADS=$GUNICORN_THREADS"

if [[ $with_admin == true ]]; then
    admin_invokers=${ADMIN_INVOKERS:-}
    admin_iap=false
    if is_true ADMIN_IAP "$ADMIN_IAP"; then
        admin_iap=true
        project_number=""
        capture project_number "<project-number>" \
            gcloud projects describe "$PROJECT_ID" --format 'value(projectNumber)'
        # With IAP, IAP's own service agent is the caller Cloud Run IAM sees.
        admin_invokers="serviceAccount:service-$project_number@gcp-sa-iap.iam.gserviceaccount.com${admin_invokers:+,$admin_invokers}"
    fi
    deploy_service name="$SERVICE-admin" access=private invokers="$admin_invokers" \
        admin_site=true admin_api=true cpu=1 min="$ADMIN_MIN_INSTANCES" \
        max="$ADMIN_MAX_INSTANCES" \
        hosts="${ADMIN_ALLOWED_HOSTS:-.run.app}" csrf="${ADMIN_CSRF_TRUSTED_ORIGINS:-}" \
        ingress="$ADMIN_INGRESS" iap="$admin_iap" \
        env="WEB_CONCURRENCY=$WEB_CONCURRENCY" env="GUNICORN_THREADS=$GUNICORN_THREADS"
fi

if [[ $with_stream == true ]]; then
    # The live stream: Socket.IO under uvicorn (ASGI). WebSockets stay open for up to an hour
    # (the request timeout), reconnect to the same instance (session affinity), and the
    # fleet's single upstream feed needs CPU between requests (no CPU throttling).
    deploy_service name="$SERVICE-stream" access=public admin_site=false admin_api=false \
        command=uvicorn \
        args="breeze_proxy.asgi:application,--host,0.0.0.0,--port,8080,--ws,websockets-sansio,--timeout-graceful-shutdown,10,--no-access-log" \
        concurrency="$STREAM_CONCURRENCY" cpu="$STREAM_CPU" memory="$STREAM_MEMORY" \
        min="$STREAM_MIN_INSTANCES" max="$STREAM_MAX_INSTANCES" timeout=3600 \
        cpu_throttling=false session_affinity=true \
        hosts="${ALLOWED_HOSTS:-.run.app}" cors="${CORS_ALLOWED_ORIGINS:-}"
fi
if [[ $public_admin_api == false && $with_admin == false ]]; then
    note "no service serves the admin API (--no-public-admin-api --no-admin-service): staff" \
        "activate the daily session with: python manage.py breeze_session set"
fi

# --- 7. schedules ---------------------------------------------------------------------------

# schedule_job JOB SCHEDULE DESCRIPTION: Cloud Scheduler runs JOB on SCHEDULE through the Cloud
# Run Admin API (jobs.run), as the scheduler's account; an empty SCHEDULE deletes the
# scheduler job when one exists.
schedule_job() {
    local job=$1 schedule=$2 description=$3
    local describe=(gcloud scheduler jobs describe "$job" --project "$PROJECT_ID"
        --location "$SCHEDULER_REGION" --format 'value(name)')
    if [[ -z $schedule ]]; then
        local delete=(gcloud scheduler jobs delete "$job" --project "$PROJECT_ID"
            --location "$SCHEDULER_REGION" --quiet)
        if [[ $dry_run == true ]]; then
            comment "$job: no schedule; an existing scheduler job of that name is deleted"
            show "${describe[@]}"
            comment "only if the describe above succeeds:"
            show "${delete[@]}"
        elif "${describe[@]}" >/dev/null 2>&1; then
            run "${delete[@]}"
        else
            note "$job: no schedule"
        fi
        return 0
    fi
    # Exactly this job: a grant on the job's own IAM policy, not the project's.
    run gcloud run jobs add-iam-policy-binding "$job" --project "$PROJECT_ID" \
        --region "$REGION" --member "serviceAccount:$SCHEDULER_SERVICE_ACCOUNT" \
        --role roles/run.invoker
    local settings=(
        "$job"
        --project "$PROJECT_ID"
        --location "$SCHEDULER_REGION"
        --schedule "$schedule"
        --time-zone "$SCHEDULE_TIME_ZONE"
        --uri "https://run.googleapis.com/v2/projects/$PROJECT_ID/locations/$REGION/jobs/$job:run"
        --http-method POST
        --oauth-service-account-email "$SCHEDULER_SERVICE_ACCOUNT"
        --oauth-token-scope https://www.googleapis.com/auth/cloud-platform
        --description "$description"
    )
    if [[ $dry_run == true ]]; then
        show "${describe[@]}"
        comment "if the describe above succeeds:"
        show gcloud scheduler jobs update http "${settings[@]}"
        comment "otherwise:"
        show gcloud scheduler jobs create http "${settings[@]}"
    elif "${describe[@]}" >/dev/null 2>&1; then
        run gcloud scheduler jobs update http "${settings[@]}"
    else
        run gcloud scheduler jobs create http "${settings[@]}"
    fi
}

comment "7. Schedules (Cloud Scheduler, $SCHEDULE_TIME_ZONE): a dedicated account may run" \
    "exactly these two jobs"
schedule_job "$sync_job" "$INSTRUMENTS_SYNC_SCHEDULE" \
    "Loads Breeze's SecurityMaster.zip before the market opens (deploy.sh)"
schedule_job "$prune_job" "$CANDLES_PRUNE_SCHEDULE" \
    "Deletes candles past their retention (deploy.sh)"

# --- 8. the deploy record -------------------------------------------------------------------

record="# $SERVICE deployed by deploy.sh: image and secret versions (names only, never values)"$'\n'
record+="image=$IMAGE"$'\n'
record+="service_account=$SERVICE_ACCOUNT"$'\n'
for index in "${!mapped_vars[@]}"; do
    record+="${mapped_vars[$index]}=${mapped_names[$index]}:${mapped_versions[$index]}"$'\n'
done
for skipped in ${skipped_vars[@]+"${skipped_vars[@]}"}; do
    record+="# ${skipped}"$'\n'
done
comment "8. The deploy record"
write_file "$deploy_dir/$SERVICE-$TAG.secrets" "$record"
note "done$mode"
