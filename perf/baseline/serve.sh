#!/usr/bin/env bash
# Starts the baseline captioning service (app.py) with .venv's uvicorn, one worker, on loopback.
#   bash perf/baseline/serve.sh PORT TRITON_URL
# MODEL_REPOSITORY, CAPTION_ENCODER_MODEL and CAPTION_DECODER_MODEL pass through (see app.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:?usage: serve.sh PORT TRITON_URL}
export TRITON_URL=${2:?usage: serve.sh PORT TRITON_URL}
# exec: the caller's pid is uvicorn's, so stopping it is one signal. No access log: one line per
# request to a pipe nobody reads would cost the shared CPU and measure nothing.
exec .venv/bin/python -m uvicorn --app-dir perf/baseline app:app \
  --host 127.0.0.1 --port "$port" --workers 1 --log-level warning --no-access-log
