#!/usr/bin/env bash
# Runs every *.test.ts under the given folders (default: all) with Node's test runner through tsx.
# Node 20's runner does not discover .ts files by itself, so they are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(proto modelserver gateway model-tools perf)
mapfile -t files < <(find "${dirs[@]}" -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || { echo "no test files found in ${dirs[*]}" >&2; exit 1; }
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
