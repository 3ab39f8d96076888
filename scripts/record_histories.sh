#!/usr/bin/env bash
# Re-record replay sets (docs/testing.md, "Replay histories"; docs/upgrading.md) into
# SETDIR/<set>, each by the tests tests/history_sets.py names for it, both platform modes.
#
#   bash scripts/record_histories.sh tests/histories/release-1.0     # every set
#   bash scripts/record_histories.sh tests/histories proofs agents   # some sets, in place
#
# Each set is recorded into a fresh folder and replaces SETDIR/<set> only when its tests
# pass: a failed recording leaves the old set as it was and the script exits non-zero.
# One pytest process (no xdist); a full run takes about as long as those test files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 SETDIR [SET...]" >&2
  exit 2
fi
python=.venv/bin/python
mkdir -p "$1"
setdir=$(cd "$1" && pwd)
shift
declare -A tests_of=()
order=()
while read -r name files; do
  tests_of[$name]=$files
  order+=("$name")
done < <("$python" -m tests.history_sets)
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${order[@]}")
for name in "${wanted[@]}"; do
  if [ -z "${tests_of[$name]+x}" ]; then
    echo "record_histories: unknown set $name (known: ${order[*]})" >&2
    exit 2
  fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for name in "${wanted[@]}"; do
  fresh="$work/$name"
  echo "== $name: ${tests_of[$name]}"
  # shellcheck disable=SC2086  # the test list splits on spaces
  if RECORD_HISTORIES="$fresh" "$python" -m pytest -q -p no:xdist -p no:cacheprovider \
      ${tests_of[$name]}; then
    rm -rf "${setdir:?}/$name"
    mv "$fresh" "$setdir/$name"
    echo "== $name: $(find "$setdir/$name" -name '*.json' | wc -l) histories in $setdir/$name"
  else
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "record_histories: not recorded (tests failed): ${failed[*]}" >&2
  exit 1
fi
