#!/usr/bin/env bash
# Build the Breeze Proxy image with Cloud Build and deploy it to Cloud Run.
# Run `bash deploy.sh --help` for the inputs; nothing here ever reads or prints a secret's value,
# it only names secrets in Secret Manager for Cloud Run to mount as environment variables.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy.sh [options]

Builds the image with Cloud Build (gcloud builds submit) and deploys it to Cloud Run.

Options:
  --project ID            Google Cloud project (or PROJECT_ID; required)
  --region REGION         Cloud Run and Artifact Registry region (or REGION; asia-south1)
  --service NAME          Cloud Run service name (or SERVICE; breeze-proxy)
  --tag TAG               image tag (or TAG; default: git short SHA, "-dirty" if the tree
                          has uncommitted changes)
  --private               deploy with --no-allow-unauthenticated (or ALLOW_UNAUTHENTICATED=false)
  --public                deploy with --allow-unauthenticated (the default)
  --dry-run               print every command, shell-quoted, instead of running it
                          (needs no gcloud)
  -h, --help              show this help

Environment (all optional except PROJECT_ID):
  ARTIFACT_REPO           Artifact Registry Docker repository, which must exist (breeze-proxy)
  IMAGE                   full image reference; overrides REGION/ARTIFACT_REPO/SERVICE/TAG naming
  MAX_INSTANCES           Cloud Run max instances (4)
  MIN_INSTANCES           Cloud Run min instances (0)
  SERVICE_ACCOUNT         runtime service account (default: the project's compute account);
                          it needs roles/secretmanager.secretAccessor on the secrets below
  ALLOWED_HOSTS           Django ALLOWED_HOSTS, comma-separated (.run.app)
  CORS_ALLOWED_ORIGINS    comma-separated browser origins allowed by CORS (none)
  BREEZE_API_URL, BREEZE_API_V2_URL, BREEZE_SECURITY_MASTER_URL, BREEZE_TIMEOUT_S, LOG_LEVEL
                          passed through to the service when set
  SECRET_VERSION          Secret Manager version for every secret (latest)
  SECRET_<NAME>           Secret Manager secret that provides NAME, one of
                          BREEZE_API_KEY, BREEZE_API_SECRET, BREEZE_PROXY_ADMIN_KEY, SECRET_KEY,
                          BREEZE_SESSION_ENCRYPTION_KEYS, DATABASE_URL, REDIS_URL.
                          Default: NAME itself, the name under which the app's own Secret Manager
                          fallback (breeze_proxy/config_sources.py) looks it up. Set one to the
                          empty string to leave that variable unmapped (e.g. SECRET_REDIS_URL=).

Access: the service is public by default (--allow-unauthenticated) because its clients are
trading frontends that authenticate to the proxy itself with X-Proxy-Key, not with Google
identity. Use --private to require Cloud Run IAM (roles/run.invoker) in front of that as well.

Note: --set-env-vars and --set-secrets replace the service's whole set of variables and secret
mappings, so a variable added by hand in the console is removed by the next deploy.
EOF
}

die() {
    printf 'deploy.sh: %s\n' "$*" >&2
    exit 2
}

need_value() {
    [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"
}

dry_run=false
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
        --dry-run) dry_run=true ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'deploy.sh: unknown option: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

PROJECT_ID=${PROJECT_ID:-}
[[ -n $PROJECT_ID ]] || die "PROJECT_ID is required: set PROJECT_ID or pass --project ID"
REGION=${REGION:-asia-south1}
SERVICE=${SERVICE:-breeze-proxy}
ARTIFACT_REPO=${ARTIFACT_REPO:-breeze-proxy}
MAX_INSTANCES=${MAX_INSTANCES:-4}
MIN_INSTANCES=${MIN_INSTANCES:-0}
ALLOW_UNAUTHENTICATED=${ALLOW_UNAUTHENTICATED:-true}
SECRET_VERSION=${SECRET_VERSION:-latest}

[[ $SERVICE =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] \
    || die "SERVICE must be lower-case letters, digits and dashes: $SERVICE"
[[ $MAX_INSTANCES =~ ^[0-9]+$ && $MIN_INSTANCES =~ ^[0-9]+$ ]] \
    || die "MIN_INSTANCES and MAX_INSTANCES must be whole numbers"
case $ALLOW_UNAUTHENTICATED in
    true | 1 | yes) auth_flag=--allow-unauthenticated ;;
    false | 0 | no) auth_flag=--no-allow-unauthenticated ;;
    *) die "ALLOW_UNAUTHENTICATED must be true or false: $ALLOW_UNAUTHENTICATED" ;;
esac

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
IMAGE=${IMAGE:-$REGION-docker.pkg.dev/$PROJECT_ID/$ARTIFACT_REPO/$SERVICE:$TAG}

# Secrets: VARIABLE=secret-name:version. A secret is named like its variable by default, as
# config_sources.secret_value expects; SECRET_<VARIABLE> overrides the name.
secret_vars=(
    BREEZE_API_KEY
    BREEZE_API_SECRET
    BREEZE_PROXY_ADMIN_KEY
    SECRET_KEY
    BREEZE_SESSION_ENCRYPTION_KEYS
    DATABASE_URL
    REDIS_URL
)
secret_mappings=()
for var in "${secret_vars[@]}"; do
    override="SECRET_$var"
    # ${!override-...} (no colon): an override set to "" leaves the variable unmapped.
    secret_name=${!override-$var}
    if [[ -n $secret_name ]]; then
        secret_mappings+=("$var=$secret_name:$SECRET_VERSION")
    fi
done

# Plain settings. Values may hold commas (lists), so gcloud's alternate delimiter is used:
# "^@^A=x,y@B=z" (see `gcloud topic escaping`).
env_vars=(
    "DEBUG=false"
    "GCP_PROJECT_ID=$PROJECT_ID"
    "ALLOWED_HOSTS=${ALLOWED_HOSTS:-.run.app}"
)
optional_vars=(
    CORS_ALLOWED_ORIGINS
    BREEZE_API_URL
    BREEZE_API_V2_URL
    BREEZE_SECURITY_MASTER_URL
    BREEZE_TIMEOUT_S
    LOG_LEVEL
)
for var in "${optional_vars[@]}"; do
    if [[ -n ${!var:-} ]]; then
        env_vars+=("$var=${!var}")
    fi
done
for pair in "${env_vars[@]}"; do
    [[ $pair != *@* ]] || die "values passed to Cloud Run must not contain '@': ${pair%%=*}"
done

join_by() {
    local IFS=$1
    shift
    printf '%s' "$*"
}

# Commands carry secret names, never secret values, so echoing them is safe.
run() {
    if [[ $dry_run == true ]]; then
        printf '%q ' "$@"
        printf '\n'
    else
        {
            printf '+ '
            printf '%q ' "$@"
            printf '\n'
        } >&2
        "$@"
    fi
}

if [[ $dry_run != true ]]; then
    command -v gcloud >/dev/null 2>&1 \
        || die "gcloud is not installed or not on PATH (https://cloud.google.com/sdk/docs/install)"
fi

mode=""
[[ $dry_run != true ]] || mode=" (dry run)"
printf 'deploy.sh: %s -> service %s in %s/%s%s\n' "$IMAGE" "$SERVICE" "$PROJECT_ID" "$REGION" \
    "$mode" >&2

run gcloud builds submit . \
    --project "$PROJECT_ID" \
    --tag "$IMAGE"

deploy_args=(
    gcloud run deploy "$SERVICE"
    --project "$PROJECT_ID"
    --image "$IMAGE"
    --region "$REGION"
    --platform managed
    --port 8080
    --concurrency 80
    --cpu 2
    --memory 1Gi
    --min-instances "$MIN_INSTANCES"
    --max-instances "$MAX_INSTANCES"
    "$auth_flag"
    --set-env-vars "^@^$(join_by @ "${env_vars[@]}")"
)
if [[ ${#secret_mappings[@]} -gt 0 ]]; then
    deploy_args+=(--set-secrets "$(join_by , "${secret_mappings[@]}")")
fi
if [[ -n ${SERVICE_ACCOUNT:-} ]]; then
    deploy_args+=(--service-account "$SERVICE_ACCOUNT")
fi
run "${deploy_args[@]}"
