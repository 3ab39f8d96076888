#!/usr/bin/env bash
# Every check CI runs: format, lint, types, then the test suite (extra args go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure_chromium.sh
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== ruff check";          .venv/bin/ruff check .
echo "== mypy";                .venv/bin/mypy
# Bounded: after a worker process crashes, pytest-xdist can replace it and then wait for
# ever with both workers idle; 45 minutes (the suite takes about 13) fails the run instead.
echo "== pytest";              timeout --signal=INT --kill-after=60 2700 \
                                 .venv/bin/python -m pytest -n 2 --dist loadfile --durations=25 "$@"
