#!/usr/bin/env bash
# The README's test command: install, lint, and run the whole suite against the real
# PostgreSQL and Redis of this machine (see README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/bootstrap.sh dev
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
