#!/usr/bin/env bash
# Mutation testing of the core modules (stryker.config.mjs lists them and their tests):
#   npm run test:mutation -- generation preprocess     (default: every module)
# Prints each module's score and fails when one is below the config's break threshold.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t all < <(node -e "import('./scripts/mutation-modules.mjs').then((m) => console.log(Object.keys(m.MUTATION_MODULES).join('\n')))")
modules=("$@"); [ ${#modules[@]} -gt 0 ] || modules=("${all[@]}")
status=0
for m in "${modules[@]}"; do
  echo "=== mutation: $m"
  MUTATION_MODULE="$m" npx stryker run || status=1
done
exit $status
