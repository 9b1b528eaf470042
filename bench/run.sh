#!/usr/bin/env bash
# One command for the whole benchmark; the table goes to stdout and bench/results/latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench "$@"
