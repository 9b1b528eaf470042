#!/usr/bin/env bash
# Create .venv and install the pinned requirements (base or dev). Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-base}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$profile"
if [ ! -f "$stamp" ] || [ "requirements/$profile.txt" -nt "$stamp" ] \
  || [ requirements/base.txt -nt "$stamp" ] || [ requirements/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r "requirements/$profile.txt" -c requirements/constraints.txt
  touch "$stamp"
fi
