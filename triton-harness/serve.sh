#!/usr/bin/env bash
# Serves a model repository with the real tritonserver 2.51.0 that PyPI's nvidia-pytriton carries,
# on loopback, for tests, benchmarks and users without NGC images:
#   npm run triton [-- --grpc-port 8001 --http-port 8000 --model-config-name cpu ...]
# MODEL_REPOSITORY (default model_repository) is rewritten by prepare_repository.py into a folder
# under .cache/triton/ (ONNX models under Triton's python backend on CPU; removed on exit).
# Other arguments go to tritonserver after the defaults below, so they override them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$root/.venv}
source_repo=$(realpath "${MODEL_REPOSITORY:-$root/model_repository}")
[[ -x "$VENV/bin/python" ]] || { echo "no $VENV: run bash scripts/setup-python.sh first" >&2; exit 2; }
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
wheel="$site/pytriton/tritonserver"
[[ -x "$wheel/bin/tritonserver" ]] || { echo "no tritonserver in $VENV (nvidia-pytriton missing)" >&2; exit 2; }
work="$root/.cache/triton"
mkdir -p "$work"
# Triton looks for the python backend's stub beside libtriton_python.so: the wheel keeps one stub
# per Python version elsewhere, so the backends folder is copied once with the 3.11 stub in it.
if [[ ! -x "$work/backends/python/triton_python_backend_stub" ]]; then
  rm -rf "$work/backends" "$work/caches"
  cp -r "$wheel/backends" "$wheel/caches" "$work/"
  cp "$wheel/python_backend_stubs/3.11/triton_python_backend_stub" "$work/backends/python/"
fi
repo=$(mktemp -d "$work/repository.XXXXXX")
"$VENV/bin/python" "$root/triton-harness/prepare_repository.py" "$source_repo" "$repo"
# The stub embeds Debian's libpython3.11 and imports numpy and onnxruntime from the venv it finds
# first on PATH; tritonserver's own libraries sit in nvidia_pytriton.libs.
export PATH="$VENV/bin:$PATH"
export LD_LIBRARY_PATH="$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Loopback unless told otherwise; a 5 s drain on SIGTERM instead of Triton's 30.
"$wheel/bin/tritonserver" --model-repository "$repo" \
  --backend-directory "$work/backends" --cache-directory "$work/caches" \
  --grpc-address 127.0.0.1 --http-address 127.0.0.1 --metrics-address 127.0.0.1 \
  --exit-timeout-secs 5 "$@" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' TERM INT
status=0
wait $server || status=$?
# A signal interrupts the first wait; the second waits for Triton's own drain to finish.
kill -0 $server 2>/dev/null && { wait $server || status=$?; }
rm -rf "$repo"
exit $status
