#!/usr/bin/env bash
# The exporters' tests, as CI runs them: model-tools/export/tests under the project's .venv
# (torch, transformers, onnx, onnxruntime, tritonserver), with Node for the TypeScript checks.
#   bash model-tools/export/run-tests.sh      (about 3 minutes on 2 cores)
# Exit 1 on any failure or error, and on any skipped test: a skip would hide an untested path.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${VENV:-.venv}/bin/python
[[ -x "$PY" ]] || { echo "no $PY: run bash scripts/setup-python.sh first" >&2; exit 2; }
exec "$PY" - "$@" <<'PYTHON'
import sys
import time
import unittest

start = time.time()
suite = unittest.defaultTestLoader.discover('model-tools/export/tests', top_level_dir='model-tools/export/tests')
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = result.testsRun - failed - skipped
print(f'model-tools/export tests took {time.time() - start:.0f} s')
print(f'exporters: {passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
sys.exit(1 if failed or skipped or not result.testsRun else 0)
PYTHON
