#!/usr/bin/env bash
# The long robustness runs (tests/robustness with --run-slow):
#   * fuzz: the schemathesis CLI against a real gunicorn proxy, every check on, positive and
#     negative data, more than 10,000 generated requests (all operations; admin ones with and
#     without the admin key); prints requests by status, failures and warnings;
#   * faults: every upstream fault mode against a real gunicorn proxy;
#   * load: 200 concurrent clients for 60 s under the production gunicorn configuration.
# Needs the PostgreSQL and Redis of this machine (as scripts/test.sh) and wrk (installed from
# Debian when missing). Extra arguments go to pytest, e.g. `bash scripts/robustness.sh -k fuzz`.
# Knobs: BREEZE_FUZZ_EXAMPLES (per operation and mode, default 180), BREEZE_FUZZ_SEED (repeat a
# run); the property tests' long run is `.venv/bin/pytest tests/market/test_properties.py
# --run-slow` (2,000 examples per property; BREEZE_PROPERTY_EXAMPLES sets any number).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python -m pytest tests/robustness --run-slow -s -q "$@"
