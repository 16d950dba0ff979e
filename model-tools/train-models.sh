#!/usr/bin/env bash
# Reproduces the demo models from nothing: generates the scene datasets, trains the captioner
# and the food classifier (seeded, CPU), exports them to model_repository/, checks the ONNX
# files against PyTorch, and measures them on held-out scenes.
#   npm run models:train            (36 minutes on 2 idle cores, 22 of them the captioner)
# The classifier trains first: its convolutions start the captioner's encoder.
# Needs Debian's python3-torch python3-onnx python3-pil libopenblas0-pthread (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DATA=${SCENES_DIR:-.cache/scenes}
SIZE=64
# Both models train as one single-threaded process per core (data_parallel in common.py).
PROCESSES=$(nproc)
# OpenBLAS (Debian's libopenblas0-pthread), which PyTorch calls for every matrix product, would
# otherwise start a pool of threads in each process that fights the others for the same cores
# (with one 2-thread PyTorch process, a captioner step took 1,180 ms instead of 740).
export OPENBLAS_NUM_THREADS=1
# OpenBLAS picks its GEMM kernels from the CPU's model number. A VM that reports a generic model
# (this one says "Intel(R) Xeon(R) Processor") gets Prescott's SSE3 kernels: 23 GFLOP/s where the
# AVX-512 ones give 97, and a captioner step twice as slow. So the kernels are named from the
# CPU's feature flags instead, unless the caller already chose (OPENBLAS_CORETYPE).
if [[ -z "${OPENBLAS_CORETYPE:-}" && -r /proc/cpuinfo ]]; then
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
  if has avx512f avx512dq avx512bw avx512vl; then export OPENBLAS_CORETYPE=SkylakeX
  elif has avx2 fma; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
$PY -c 'import torch, onnx, PIL' 2>/dev/null || {
  echo "needs Debian's python3-torch python3-onnx python3-pil libopenblas0-pthread:" >&2
  echo "  apt-get install -y python3-torch python3-onnx python3-pil libopenblas0-pthread" >&2
  exit 2
}
echo "OpenBLAS kernels: ${OPENBLAS_CORETYPE:-chosen by OpenBLAS}"
start=$(date +%s)
# Seed ranges never overlap: train 0.., val 1,000,000.., the evaluation's test set 2,000,000..
npx tsx model-tools/scenes/write-dataset.ts --out "$DATA" --split train --count "${TRAIN_SCENES:-40000}" --seed-offset 0 --size $SIZE
npx tsx model-tools/scenes/write-dataset.ts --out "$DATA" --split val --count 1000 --seed-offset 1000000 --size $SIZE
# The classifier learns from the first 16,000 scenes (8 epochs); the captioner, which memorised
# 16,000, from all 40,000, half of them mirrored, its first 3 stem blocks kept from the classifier.
(cd model-tools/python && $PY train_classifier.py --data "../../$DATA" --repo ../../model_repository --parity ../parity --processes "$PROCESSES" --train-limit 16000)
(cd model-tools/python && $PY train_captioner.py --data "../../$DATA" --repo ../../model_repository --parity ../parity --processes "$PROCESSES" \
  --init-stem ../../model_repository/food_classifier/1/model.onnx --epochs 12 --mirror-probability 0.5 --frozen-stem-blocks 3)
npx tsx model-tools/check/check-parity.ts
npx tsx model-tools/check/evaluate.ts --out model-tools/metrics.json
echo "models:train finished in $(( $(date +%s) - start )) s"
