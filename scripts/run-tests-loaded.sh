#!/usr/bin/env bash
# The whole test command N times in a row (default 3) while a busy loop holds one core, as a
# shared machine would: a test that judges by wall-clock time flips here first.
#   bash scripts/run-tests-loaded.sh [N]
# Prints each run's result and duration; exits 1 when any run failed. Logs: .cache/loaded-run-K.log
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
mkdir -p .cache
# One spinning process pinned to the last core (taskset, util-linux); the tests may use every core.
taskset -c "$(( $(nproc) - 1 ))" sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT
failed=0
for k in $(seq 1 "$runs"); do
  start=$(date +%s)
  npm test > ".cache/loaded-run-$k.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || failed=1
  summary=$(grep -E '^# (pass|fail) ' ".cache/loaded-run-$k.log" | awk '{s[$2]+=$3} END {printf "%d passed, %d failed", s["pass"], s["fail"]}')
  echo "loaded run $k/$runs: exit $rc in $(( $(date +%s) - start )) s (node tests: $summary; log .cache/loaded-run-$k.log)"
done
exit $failed
