#!/usr/bin/env bash
# Bring the whole stack up on embedded defaults: Temporal dev server (SQLite file
# under data/), the reference platform and one worker. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m durable_approvals.devstack "$@"
