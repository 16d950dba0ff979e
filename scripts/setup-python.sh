#!/usr/bin/env bash
# Makes .venv/ with requirements.txt: the Python tools of the project (training, exporters, the
# real-Triton harness, tritonclient, perf_analyzer, k6), perf/baseline/requirements.txt (the
# benchmarks' FastAPI baseline), plus Debian's libb64-0d for perf_analyzer.
# About a minute and 1.7 GB on a fresh machine; a second run with nothing changed takes a second.
#   bash scripts/setup-python.sh          (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt perf/baseline/requirements.txt | sha256sum | cut -d' ' -f1)
if ! ldconfig -p | grep -q 'libb64\.so\.0d'; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends libb64-0d >/dev/null 2>&1 || {
    $sudo apt-get update >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libb64-0d
  }
fi
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$VENV is up to date"
  exit 0
fi
# The python backend's stub embeds libpython3.11 and imports numpy and onnxruntime from this
# environment, so the environment must be Python 3.11 too.
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
  echo "needs Python 3.11 (the python backend stub of nvidia-pytriton 0.7 is built for it); set PYTHON" >&2
  exit 2
}
"$PYTHON" -m venv "$VENV"
# pip warns once per package about find-links folders this machine lacks; the log keeps all of it.
log="$VENV/pip-install.log"
"$VENV/bin/pip" install --disable-pip-version-check -r requirements.txt >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
"$VENV/bin/pip" install --disable-pip-version-check -r perf/baseline/requirements.txt >>"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
echo "$want" > "$stamp"
echo "$VENV ready: $(du -sh "$VENV" | cut -f1)"
