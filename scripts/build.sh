#!/usr/bin/env bash
# Compiles the production code (gateway/src, modelserver/src, proto/ with proto/gen) to ESM
# JavaScript in OUT (default dist/), laid out like the repository: dist/gateway/src/main.js.
# proto/gen must exist (npm run proto; `npm run build` runs it first).
#
# The code finds a few non-TypeScript files relative to itself (new URL('../../public',
# import.meta.url) and the like), so they are copied to the same places under OUT:
#   package.json   the version in /openapi.json and ServerMetadata, and "type": "module"
#   gateway/public the web page and the Swagger UI initializer
#   proto/*.proto  the embedded model server runs protoc on model_config.proto
# Packages (swagger-ui-dist, protoc, onnxruntime-node) resolve through node_modules as before.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
# OUT is replaced, so it is never the repository or above it.
case "$out" in "" | . | ./ | .. | ../ | /) echo "build.sh: refusing to replace $out" >&2; exit 2 ;; esac
rm -rf "$out"
node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$out"
mkdir -p "$out/gateway" "$out/proto"
cp package.json "$out/"
cp -R gateway/public "$out/gateway/public"
cp proto/*.proto "$out/proto/"
