#!/usr/bin/env bash
# The test command (npm test runs it after code generation and the type-check).
#   bash scripts/run-tests.sh            every stage below, in order; stops at the first that fails
#   bash scripts/run-tests.sh DIR...     only the TypeScript tests under DIR..., on the embedded server
# Stages:
#   1. every *.test.ts with Node's test runner (the embedded model server; perf_analyzer and k6
#      against real servers in perf/), then line and branch coverage per folder
#      (scripts/coverage-table.mjs; per file: node scripts/coverage-table.mjs .cache/coverage FOLDER)
#   2. the gateway's end-to-end tests again with TEST_MODEL_SERVER=triton: the same assertions
#      against the real tritonserver (triton-harness/)
#   3. NVIDIA's tritonclient against both servers, side by side (conformance/)
#   4. the exporters' Python tests, BLIP's transformers-vs-gateway parity included (model-tools/export)
# Stages 2-4 need .venv (bash scripts/setup-python.sh); each fails, never skips, when a server or
# tool cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 20's runner does not discover .ts files by itself, so they are listed here.
node_tests() {
  local files
  mapfile -t files < <(find "$@" -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
  [ ${#files[@]} -gt 0 ] || { echo "no test files found in $*" >&2; exit 1; }
  node --import tsx --test --test-concurrency=1 "${files[@]}"
}
if [ $# -gt 0 ]; then
  node_tests "$@"
  exit
fi
stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }
start=$(date +%s)
stage "1/4 TypeScript tests, embedded model server"
# Every Node process of the stage (test files, the gateways and model servers they spawn, ONNX
# worker threads) writes its V8 coverage under NODE_V8_COVERAGE; the table maps it to the sources.
rm -rf .cache/coverage
NODE_V8_COVERAGE="$PWD/.cache/coverage" node_tests proto modelserver gateway model-tools perf triton-harness
node scripts/coverage-table.mjs .cache/coverage
stage "2/4 gateway end-to-end tests against real tritonserver"
# The end-to-end files are those that start a gateway through the test helper.
mapfile -t e2e < <(grep -l 'startTestGateway' gateway/test/*.test.ts | sort)
TEST_MODEL_SERVER=triton node --import tsx --test --test-concurrency=1 "${e2e[@]}"
stage "3/4 tritonclient conformance, Triton vs embedded"
bash conformance/run.sh
stage "4/4 exporter tests (Python)"
bash model-tools/export/run-tests.sh
echo "all test stages passed in $(( $(date +%s) - start )) s"
