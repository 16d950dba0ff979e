/**
 * @module config/validate-io
 * Triton's checks of a config's inputs and outputs (core ValidateIOShape/ValidateModelInput, §3.2).
 */
import { isAbsolute, win32 } from 'node:path';
import {
  DataType,
  dataTypeToJSON,
  ModelInput_Format,
  type ModelConfig,
  type ModelInput,
  type ModelOutput,
} from '../../../proto/gen/model_config.js';

/** Builds the error to throw for a reason; lets callers attach the file. */
export type FailFn = (reason: string) => Error;

const WILDCARD_DIM = -1n;
const TENSORRT_PLATFORM = 'tensorrt_plan';

/**
 * Throws for the first input or output that Triton would reject: missing name, missing or unknown
 * data_type, empty dims, a dim of 0 or below -1, a reshape whose element count differs, NHWC/NCHW
 * without 3 dims, TensorRT-only flags, a repeated name, or a label file outside the model directory.
 * Reasons copy Triton's wording, including its " for <model>" suffix.
 */
export function checkModelIo(config: ModelConfig, fail: FailFn): void {
  const forModel = ` for ${config.name}`;
  for (const input of config.input) {
    checkTensor(input, 'model input ', config, fail, forModel);
    if (
      (input.format === ModelInput_Format.FORMAT_NHWC || input.format === ModelInput_Format.FORMAT_NCHW) &&
      input.dims.length !== 3
    ) {
      throw fail(`model input NHWC/NCHW require 3 dims${forModel}`);
    }
  }
  for (const output of config.output) {
    checkTensor(output, 'model output ', config, fail, forModel);
    if (output.labelFilename !== '' && escapesModelDir(output.labelFilename)) {
      throw fail(
        `model output '${output.name}' label_filename '${output.labelFilename}' must be a relative path ` +
          `inside the model directory${forModel}`,
      );
    }
  }
  checkUniqueNames(config.input, 'input', fail, forModel);
  checkUniqueNames(config.output, 'output', fail, forModel);
}

/**
 * True when a path from a config could reach outside the model directory: absolute (POSIX or
 * Windows form) or containing a `..` segment. Such files are refused instead of being read.
 */
export function escapesModelDir(path: string): boolean {
  return isAbsolute(path) || win32.isAbsolute(path) || path.split(/[\\/]/).includes('..');
}

function checkTensor(
  io: ModelInput | ModelOutput,
  prefix: string,
  config: ModelConfig,
  fail: FailFn,
  forModel: string,
): void {
  if (io.name === '') throw fail(`${prefix}must specify 'name'${forModel}`);
  const named = `${prefix}'${io.name}' `;
  if (io.dataType === DataType.TYPE_INVALID) throw fail(`${named}must specify 'data_type'${forModel}`);
  if (dataTypeToJSON(io.dataType) === 'UNRECOGNIZED') {
    // protoc accepts a bare number for an enum, so an out-of-range value reaches us.
    throw fail(`${named}has unknown data_type ${io.dataType}${forModel}`);
  }
  if (io.dims.length === 0) throw fail(`${named}must specify 'dims'${forModel}`);
  if (io.reshape !== undefined && io.reshape.shape.length === 0 && config.maxBatchSize === 0) {
    throw fail(
      `${named}cannot have empty reshape for non-batching model as scalar tensors are not supported${forModel}`,
    );
  }
  if (io.dims.some(isBadDim)) {
    throw fail(`${named}dimension must be integer >= 1, or -1 to indicate a variable-size dimension${forModel}`);
  }
  if (io.reshape !== undefined) checkReshape(io.dims, io.reshape.shape, named, fail, forModel);
  if (io.isShapeTensor && config.platform !== TENSORRT_PLATFORM) {
    throw fail(`shape tensors are only supported for TensorRT platform${forModel}`);
  }
  if (io.isNonLinearFormatIo && config.platform !== TENSORRT_PLATFORM) {
    throw fail(`Non-linear IO format is only supported for the TensorRT platform${forModel}`);
  }
}

function isBadDim(dim: bigint): boolean {
  return dim < 1n && dim !== WILDCARD_DIM;
}

// §3.2: both sides must hold the same element count; an empty reshape (a batch of scalars) is
// allowed only for dims of one element; with -1 dims, the runs of fixed dims between the -1s must
// match pairwise, e.g. [2, 4, -1, 6] -> [8, -1, 1, 6].
function checkReshape(dims: bigint[], shape: bigint[], named: string, fail: FailFn, forModel: string): void {
  if (shape.some(isBadDim)) {
    throw fail(
      `${named}reshape dimensions must be integer >= 1, or -1 to indicate a variable-size dimension${forModel}`,
    );
  }
  const dimsCount = elementCount(dims);
  const shapeCount = elementCount(shape);
  if (dimsCount !== shapeCount && (shapeCount !== 0n || dimsCount !== 1n)) {
    throw fail(`${named}has different size for dims and reshape${forModel}`);
  }
  if (dimsCount !== WILDCARD_DIM) return;
  const dimRuns = fixedRunProducts(dims);
  const shapeRuns = fixedRunProducts(shape);
  if (dimRuns.length !== shapeRuns.length) {
    throw fail(`${named}has different number of variable-size dimensions for dims and reshape${forModel}`);
  }
  if (dimRuns.some((count, i) => count !== shapeRuns[i])) {
    throw fail(`${named}has different size for dims and reshape${forModel}`);
  }
}

// Triton's GetElementCount: -1 when any dim is variable, and 0 (not 1) for an empty shape.
function elementCount(dims: bigint[]): bigint {
  if (dims.includes(WILDCARD_DIM)) return WILDCARD_DIM;
  return dims.length === 0 ? 0n : dims.reduce((a, b) => a * b, 1n);
}

function fixedRunProducts(dims: bigint[]): bigint[] {
  const runs: bigint[] = [];
  let current = 1n;
  for (const dim of dims) {
    if (dim === WILDCARD_DIM) {
      runs.push(current);
      current = 1n;
    } else {
      current *= dim;
    }
  }
  runs.push(current);
  return runs;
}

function checkUniqueNames(tensors: { name: string }[], kind: string, fail: FailFn, forModel: string): void {
  const seen = new Set<string>();
  for (const { name } of tensors) {
    if (seen.has(name)) throw fail(`model ${kind} '${name}' is specified more than once${forModel}`);
    seen.add(name);
  }
}
