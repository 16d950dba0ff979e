#!/usr/bin/env bash
# Generates TypeScript from proto/*.proto into proto/gen (never edited by hand; git-ignored).
# protoc comes from the `protoc` npm package (binary shipped inside it); ts-proto is a pure-JS
# plugin, so this works without grpc-tools or protoc-gen-js, whose installs download binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
out=proto/gen
rm -rf "$out" && mkdir -p "$out"
node node_modules/protoc/protoc.cjs \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js \
  --ts_proto_opt=forceLong=bigint,useOptionals=none,outputPartialMethods=false \
  --ts_proto_opt=exportCommonSymbols=false,oneof=properties \
  -I proto proto/*.proto
