/**
 * @module config/parse-config
 * Parses config.pbtxt (protobuf text format) into a ModelConfig with the real protoc binary.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ModelConfig } from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { protocBinaryPath } from './protoc-binary.js';

// Why protoc and not a parser of our own: Triton reads config.pbtxt with the C++
// `TextFormat::ParseFromString` (kserve-v2-grpc.md §3.7), and `protoc --encode` runs that same C++
// TextFormat parser. So every syntax Triton accepts is accepted here (comments, `[ ... ]` list
// syntax, `field: { }`, `True`/`t`/`1` booleans, maps as key/value entries, oneof members, `,`/`;`
// separators) and every file Triton rejects (unknown field, bad enum, two oneof members, int32
// overflow) fails here with the same line:column and wording. protobufjs has no text-format parser,
// and a hand-written one would drift from Triton. One spawn costs about 4 ms, paid once per load.
const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
const MESSAGE_TYPE = 'inference.ModelConfig';
const PROTO_FILE = 'model_config.proto';
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

// protoc names stdin "input" in its diagnostics: `input:3:12: <reason>` (1-based line and column),
// or `input: <reason>` when it has no position. Warnings carry a `warning:` prefix and are skipped.
const DIAGNOSTIC = /^input:(?:(\d+):(\d+):)?\s?(.*)$/;

/**
 * Parses the text of a config.pbtxt exactly as Triton would.
 *
 * @param text the file contents (protobuf text format of `inference.ModelConfig`)
 * @param file the path reported in errors; it is not read
 * @throws ModelConfigError with protoc's line, column and reason when the text does not parse
 * @example
 * const text = 'max_batch_size: 8 input [{ name: "x" data_type: TYPE_FP32 dims: [3] }]';
 * const config = parseModelConfigText(text, 'm/config.pbtxt');
 * config.maxBatchSize; // 8
 */
export function parseModelConfigText(text: string, file: string): ModelConfig {
  const result = spawnSync(
    protocBinaryPath(),
    [`-I${PROTO_DIR}`, `--encode=${MESSAGE_TYPE}`, PROTO_FILE],
    // cwd = the proto dir so the relative PROTO_FILE can only mean the file inside -I.
    { cwd: PROTO_DIR, input: Buffer.from(text, 'utf8'), maxBuffer: MAX_OUTPUT_BYTES },
  );
  if (result.error !== undefined) {
    throw new Error(`cannot run protoc to parse ${file}: ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0) {
    throw diagnosticError(result.stderr.toString('utf8'), file);
  }
  return ModelConfig.decode(result.stdout);
}

function diagnosticError(stderr: string, file: string): Error {
  for (const line of stderr.split(/\r?\n/)) {
    const match = DIAGNOSTIC.exec(line);
    if (match === null) continue;
    const reason = match[3] ?? '';
    if (reason.startsWith('warning:')) continue;
    return new ModelConfigError(file, Number(match[1] ?? 0), Number(match[2] ?? 0), reason);
  }
  // No diagnostic about the input: protoc itself failed (e.g. the .proto is missing), which is an
  // installation problem, not a problem of this config file.
  return new Error(`protoc failed while parsing ${file}: ${stderr.trim()}`);
}
