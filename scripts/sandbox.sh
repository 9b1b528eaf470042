#!/usr/bin/env bash
# The README's run command: the proxy on its embedded defaults (SQLite, local-memory cache,
# the bundled Breeze simulator and its live feed, a demo session). One uvicorn process serves
# the REST API and the live stream (Socket.IO), so the stream's last ticks answer REST quotes
# from the same local-memory cache. (Production: REST under gunicorn, the stream under uvicorn,
# sharing Redis; see deploy.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh base
mkdir -p .run

export PORT="${PORT:-8000}"
SIM_PORT="${SIM_PORT:-8765}"
STREAM_PORT="${STREAM_PORT:-8766}"
export BREEZE_SIM_URL="http://127.0.0.1:${SIM_PORT}"
export BREEZE_SIM_STREAM_URL="http://127.0.0.1:${STREAM_PORT}"
export DJANGO_SETTINGS_MODULE=breeze_proxy.settings
export HOST="${HOST:-127.0.0.1}"
if [ -z "${BREEZE_PROXY_ADMIN_KEY:-}" ]; then
  [ -f .run/admin-key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' > .run/admin-key
  BREEZE_PROXY_ADMIN_KEY="$(cat .run/admin-key)"
fi
export BREEZE_PROXY_ADMIN_KEY

.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0

.venv/bin/python -m breeze_sim --host 127.0.0.1 --port "$SIM_PORT" --stream-port "$STREAM_PORT" \
  > .run/simulator.log 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT INT TERM
# The instrument master, from the simulator's SecurityMaster.zip (as the daily job does).
.venv/bin/python scripts/demo_session.py --wait-only --simulator "$BREEZE_SIM_URL"
.venv/bin/python manage.py instruments sync > .run/instruments-sync.json
# One process: Prometheus counters live in memory (no multiprocess directory, which only
# gunicorn's workers need); /metrics needs no token on the embedded default.
env -u PROMETHEUS_MULTIPROC_DIR .venv/bin/uvicorn breeze_proxy.asgi:application --host "$HOST" --port "$PORT" \
  --ws websockets-sansio --timeout-graceful-shutdown 5 --no-access-log &
proxy_pid=$!
trap 'kill "$proxy_pid" "$sim_pid" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

.venv/bin/python scripts/demo_session.py \
  --proxy "http://127.0.0.1:${PORT}" --simulator "$BREEZE_SIM_URL"
cat <<EOF
Metrics (after a few requests):
  curl -s http://127.0.0.1:${PORT}/metrics | grep '^breeze_http_requests_total'
  curl -s http://127.0.0.1:${PORT}/breeze/metrics -H "X-Proxy-Admin-Key: \$(cat .run/admin-key)"
Staff dashboard: http://127.0.0.1:${PORT}/admin/dashboard/ (python manage.py createsuperuser first)
EOF

wait "$proxy_pid"
