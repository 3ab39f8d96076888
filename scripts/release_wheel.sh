#!/usr/bin/env bash
# Build the wheel of a commit (default HEAD) offline and keep it as the previous release
# for the upgrade test: tests/upgrade/previous/<wheel> replaces what is there, and
# manifest.json beside it records version, commit and sha256 (docs/upgrading.md).
#
#   bash scripts/release_wheel.sh            # HEAD: what is committed, not the work tree
#   bash scripts/release_wheel.sh v1.0.0     # a tag or any commit
#
# The tree is taken from git (git archive), so uncommitted edits and stale build/ files
# never reach the wheel; SOURCE_DATE_EPOCH (the commit's time) fixes the zip timestamps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ref="${1:-HEAD}"
python="${PYTHON:-.venv/bin/python}"
dest=tests/upgrade/previous
commit=$(git rev-parse --verify "${ref}^{commit}")
if [ "$ref" = HEAD ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release_wheel: uncommitted changes are not in the wheel (built from $commit)" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/out"
git archive "$commit" | tar -x -C "$work/src"
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$commit") \
  "$python" -m pip wheel --no-deps --no-build-isolation --no-index --quiet \
  --disable-pip-version-check --wheel-dir "$work/out" "$work/src"
wheels=("$work"/out/*.whl)
if [ "${#wheels[@]}" -ne 1 ]; then
  echo "release_wheel: expected one wheel, got ${wheels[*]}" >&2
  exit 1
fi
mkdir -p "$dest"
rm -f "$dest"/*.whl
cp "${wheels[0]}" "$dest/"
"$python" -m tests.upgrade.release write "$dest/$(basename "${wheels[0]}")" "$commit"
