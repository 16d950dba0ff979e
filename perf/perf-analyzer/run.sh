#!/usr/bin/env bash
# perf_analyzer sweeps of the repository's models over KServe v2 gRPC, fed the real tensors that
# make-input-data.ts writes (npm run perf:input-data). The same commands work against Triton
# (npm run triton serves it on loopback) and against the embedded model server (npm run
# modelserver -- --model-repository model_repository --grpc-port 8001): both implement
# ServerLive/Ready, ModelMetadata, ModelConfig, ModelInfer and ModelStatistics, which is all
# perf_analyzer needs with --shared-memory none (its default). perf/perf-analyzer/perf-analyzer.test.ts
# runs it on every model against both in CI; npm run bench:perf-analyzer compares them.
#
# Usage: bash perf/perf-analyzer/run.sh [MODEL...]    or    npm run perf:analyzer -- [MODEL...]
#   default models: caption_encoder caption_decoder food_classifier food_caption (those without
#   an input-data file are skipped with a note: food_caption exists only once its ensemble does).
#
# Environment (all optional):
#   TRITON_GRPC           host:port of the gRPC endpoint                  localhost:8001
#   PERF_ANALYZER         the perf_analyzer binary          .venv/bin/perf_analyzer, else PATH's
#   CONCURRENCY_RANGE     closed-loop concurrency start:end:step           1:16:3  (1,4,7,10,13,16)
#   BATCH_SIZES           -b values, space-separated (<= max_batch_size)   1
#   MEASUREMENT_INTERVAL  ms per measurement window                        5000
#   PERCENTILE            pN used for stability (and as the CSV's focus)   95
#   LABEL                 result-file tag, e.g. the --model-config-name    default
#   OUT_DIR               where the CSVs go                                perf/results/perf-analyzer
#   DATA_DIR              where the --input-data files are                 perf/perf-analyzer/data
#   EXTRA_ARGS            appended verbatim, e.g. "--collect-metrics --verbose-csv" against Triton
#   DRY_RUN=1             print the commands instead of running them
#
# Writes $OUT_DIR/$LABEL-$MODEL-b$BATCH.csv (perf_analyzer -f: one row per concurrency level,
# throughput in infer/s, client and server time split, p50/p90/p95/p99 latency in µs).
set -euo pipefail
cd "$(dirname "$0")/../.."

TRITON_GRPC=${TRITON_GRPC:-localhost:8001}
# The tritonclient 2.51.0 wheel in .venv (bash scripts/setup-python.sh) carries perf_analyzer; it
# links libcudart.so.12 even on CPU, which PyPI's nvidia-cuda-runtime-cu12 there provides.
if [ -z "${PERF_ANALYZER:-}" ] && [ -x .venv/bin/perf_analyzer ]; then
  PERF_ANALYZER=.venv/bin/perf_analyzer
  export LD_LIBRARY_PATH="$PWD/.venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
PERF_ANALYZER=${PERF_ANALYZER:-perf_analyzer}
CONCURRENCY_RANGE=${CONCURRENCY_RANGE:-1:16:3}
BATCH_SIZES=${BATCH_SIZES:-1}
MEASUREMENT_INTERVAL=${MEASUREMENT_INTERVAL:-5000}
PERCENTILE=${PERCENTILE:-95}
LABEL=${LABEL:-default}
OUT_DIR=${OUT_DIR:-perf/results/perf-analyzer}
DATA_DIR=${DATA_DIR:-perf/perf-analyzer/data}
EXTRA_ARGS=${EXTRA_ARGS:-}
DRY_RUN=${DRY_RUN:-0}

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(caption_encoder caption_decoder food_classifier food_caption)

if [ "$DRY_RUN" != 1 ] && ! command -v "$PERF_ANALYZER" >/dev/null 2>&1; then
  echo "perf_analyzer not found (PERF_ANALYZER=$PERF_ANALYZER): bash scripts/setup-python.sh puts it in" >&2
  echo ".venv/bin (the tritonclient 2.51.0 wheel); it also ships in Triton's SDK container." >&2
  exit 127
fi
if [ ! -d "$DATA_DIR" ]; then
  echo "no input data in $DATA_DIR: run npm run perf:input-data first" >&2
  exit 1
fi
[ "$DRY_RUN" = 1 ] || mkdir -p "$OUT_DIR"

failed=()
for model in "${models[@]}"; do
  data="$DATA_DIR/$model.json"
  if [ ! -f "$data" ]; then
    echo "skip $model: no $data (npm run perf:input-data writes it when the model's config.pbtxt exists)" >&2
    continue
  fi
  for batch in $BATCH_SIZES; do
    csv="$OUT_DIR/$LABEL-$model-b$batch.csv"
    # shellcheck disable=SC2206 # EXTRA_ARGS is split on purpose
    cmd=("$PERF_ANALYZER" -i grpc -u "$TRITON_GRPC" -m "$model" -b "$batch"
      --concurrency-range "$CONCURRENCY_RANGE" --input-data "$data"
      --measurement-interval "$MEASUREMENT_INTERVAL" --percentile="$PERCENTILE"
      -f "$csv" $EXTRA_ARGS)
    echo "+ ${cmd[*]}"
    [ "$DRY_RUN" = 1 ] && continue
    if "${cmd[@]}"; then
      echo "wrote $csv"
    else
      echo "perf_analyzer failed for $model at -b $batch" >&2
      failed+=("$model/b$batch")
    fi
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
