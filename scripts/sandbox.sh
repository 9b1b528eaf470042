#!/usr/bin/env bash
# The README's run command: the proxy on its embedded defaults (SQLite, local-memory cache,
# the bundled Breeze simulator, a demo session) under gunicorn's production configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh base
mkdir -p .run

export PORT="${PORT:-8000}"
SIM_PORT="${SIM_PORT:-8765}"
export BREEZE_SIM_URL="http://127.0.0.1:${SIM_PORT}"
export DJANGO_SETTINGS_MODULE=breeze_proxy.settings
export HOST="${HOST:-127.0.0.1}"
if [ -z "${BREEZE_PROXY_ADMIN_KEY:-}" ]; then
  [ -f .run/admin-key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' > .run/admin-key
  BREEZE_PROXY_ADMIN_KEY="$(cat .run/admin-key)"
fi
export BREEZE_PROXY_ADMIN_KEY

.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0

.venv/bin/python -m breeze_sim --host 127.0.0.1 --port "$SIM_PORT" > .run/simulator.log 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT INT TERM
# The instrument master, from the simulator's SecurityMaster.zip (as the daily job does).
.venv/bin/python scripts/demo_session.py --wait-only --simulator "$BREEZE_SIM_URL"
.venv/bin/python manage.py instruments sync > .run/instruments-sync.json
.venv/bin/gunicorn -c gunicorn.conf.py breeze_proxy.wsgi:application &
proxy_pid=$!
trap 'kill "$proxy_pid" "$sim_pid" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

.venv/bin/python scripts/demo_session.py \
  --proxy "http://127.0.0.1:${PORT}" --simulator "$BREEZE_SIM_URL"

wait "$proxy_pid"
