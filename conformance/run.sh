#!/usr/bin/env bash
# Runs the tritonclient conformance script: the real tritonserver 2.51 (triton-harness/serve.sh)
# and the embedded model server (modelserver/src/cli.ts), each started on free loopback ports
# on model_repository plus conformance/extra_models.py's models, every case against both, a
# side-by-side table, exit 1 on a difference not accepted (conformance/tritonclient_conformance.py
# ACCEPTED), exit 2 when a server cannot start. Both servers are stopped whatever happens.
#   bash conformance/run.sh [--only SUBSTRING] [--json PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/python ]] || { echo "no .venv: run bash scripts/setup-python.sh first" >&2; exit 2; }
[[ -x node_modules/.bin/tsx ]] || { echo "no node_modules: run npm ci first" >&2; exit 2; }
# perf_analyzer's cases read the tensors make-input-data.ts writes (git-ignored, a few seconds).
if [[ ! -f perf/perf-analyzer/data/food_caption.json || ! -f perf/perf-analyzer/data/food_classifier.json ]]; then
  node_modules/.bin/tsx perf/perf-analyzer/make-input-data.ts >/dev/null
fi
exec .venv/bin/python conformance/tritonclient_conformance.py "$@"
