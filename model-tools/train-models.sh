#!/usr/bin/env bash
# Reproduces the demo models from nothing: generates the scene datasets, trains the captioner
# and the food classifier (seeded, CPU), exports them to model_repository/, checks the ONNX
# files against PyTorch, and measures them on held-out scenes.
#   npm run models:train            (36 minutes on 2 idle cores, 22 of them the captioner, measured
#                                    with Debian's torch 1.13; not re-measured with .venv's torch)
# The classifier trains first: its convolutions start the captioner's encoder.
# Runs in the project's .venv (bash scripts/setup-python.sh: torch, onnx, pillow from PyPI). The
# committed models were trained with Debian's torch 1.13 and OpenBLAS; torch 2.13 with MKL sums in
# another order, so a retrain gives models close to them, not the same bits.
set -euo pipefail
cd "$(dirname "$0")/.."
# Absolute: the training steps run from model-tools/python.
PY=$(realpath -m "${VENV:-.venv}")/bin/python
DATA=${SCENES_DIR:-.cache/scenes}
SIZE=64
# Both models train as one single-threaded process per core (data_parallel in common.py).
PROCESSES=$(nproc)
# PyPI's torch does its matrix products with MKL on OpenMP threads (torch.__config__.show():
# BLAS_INFO=mkl, "CPU capability usage: AVX512"), not OpenBLAS; each process keeps to one thread
# through torch.set_num_threads(1) in common.py. MKL needs no kernel hint here: on a 2-core VM
# that reports "AMD EPYC", a one-thread 1024x1024 float32 product ran at 77-83 GFLOP/s with
# torch's MKL and 87 with numpy's OpenBLAS (measured while the machine was busy).
# The OpenBLAS settings below were for Debian's torch, which called libopenblas0-pthread for every
# matrix product: there a pool of threads per process fought the others for the cores (with one
# 2-thread process a captioner step took 1,180 ms instead of 740), and on a VM that reports a
# generic CPU model ("Intel(R) Xeon(R) Processor") OpenBLAS chose Prescott's SSE3 kernels, 23
# GFLOP/s where the AVX-512 ones give 97. With .venv's torch they only reach numpy's bundled
# OpenBLAS, which the training barely calls (data loading); they are kept because they cost
# nothing (numpy's OpenBLAS chose its kernels itself on the AMD VM: Cooperlake).
export OPENBLAS_NUM_THREADS=1
# Name OpenBLAS's kernels from the CPU's feature flags, unless the caller already chose.
if [[ -z "${OPENBLAS_CORETYPE:-}" && -r /proc/cpuinfo ]]; then
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
  if has avx512f avx512dq avx512bw avx512vl; then export OPENBLAS_CORETYPE=SkylakeX
  elif has avx2 fma; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
[[ -x "$PY" ]] && $PY -c 'import torch, onnx, PIL' 2>/dev/null || {
  echo "needs torch, onnx and pillow in ${VENV:-.venv}: bash scripts/setup-python.sh" >&2
  exit 2
}
echo "torch $($PY -c 'import torch; print(torch.__version__)'); numpy's OpenBLAS kernels: ${OPENBLAS_CORETYPE:-chosen by OpenBLAS}"
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
