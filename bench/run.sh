#!/usr/bin/env bash
# One command for the whole benchmark; the table goes to stdout and bench/results/latest.md.
# `bench/run.sh history [--repeats N]`: the historical-candle benchmark instead
# (python -m bench.history; its table goes to stdout and bench/results/history.md).
# `bench/run.sh stream [--quick] [--profile]`: the live stream benchmark (python -m bench.stream;
# its table goes to stdout and bench/results/stream.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "history" ]]; then
    shift
    exec .venv/bin/python -m bench.history "$@"
fi
if [[ "${1:-}" == "stream" ]]; then
    shift
    exec .venv/bin/python -m bench.stream "$@"
fi
exec .venv/bin/python -m bench "$@"
