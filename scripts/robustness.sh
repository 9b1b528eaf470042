#!/usr/bin/env bash
# The long robustness runs (tests/robustness with --run-slow): schemathesis over the OpenAPI
# schema (1,000+ generated requests), every upstream fault mode against a real gunicorn proxy,
# and 200 concurrent clients for 60 s under the production gunicorn configuration.
# Needs the PostgreSQL and Redis of this machine (as scripts/test.sh) and wrk (installed from
# Debian when missing). Extra arguments go to pytest, e.g. `bash scripts/robustness.sh -k load`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python -m pytest tests/robustness --run-slow -s -q "$@"
