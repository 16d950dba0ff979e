/**
 * @module inference/parse-request
 * Validates a ModelInferRequest against the model's config and turns it into a scheduler job,
 * with Triton's checks and INVALID_ARGUMENT messages (kserve-v2-grpc.md §2.2–2.5).
 */
import type { InferParameter, ModelInferRequest } from '../../../proto/gen/grpc_service.js';
import { invalidArgument } from '../errors.js';
import type { ServedModel } from '../models/served-model.js';
import type { InferenceJob } from '../scheduler/types.js';
import { datatypeFromConfig, isDatatype } from '../tensors/datatype.js';
import { elementCount, expectedByteSize, splitBytesElements, type Tensor } from '../tensors/tensor.js';
import { assertClassifiable } from './classification.js';
import { rawFromContents } from './typed-contents.js';

export interface RequestedOutput {
  readonly name: string;
  /** Top-k for the classification extension; 0 = the tensor itself. */
  readonly classification: number;
}

export interface ParsedRequest {
  readonly job: InferenceJob;
  readonly outputs: readonly RequestedOutput[];
}

const fmt = (shape: readonly number[]) => `[${shape.join(',')}]`;

function int64Param(p: InferParameter | undefined, key: string): number | undefined {
  if (!p) return undefined;
  if (p.int64Param !== undefined) return Number(p.int64Param);
  if (p.uint64Param !== undefined) return Number(p.uint64Param);
  throw invalidArgument(`invalid value type for '${key}' parameter, expected int64_param`);
}

function requestParameters(req: ModelInferRequest): { priority: number; timeoutUs: number } {
  for (const key of Object.keys(req.parameters)) {
    if (key.startsWith('triton_') && key !== 'triton_enable_empty_final_response') {
      throw invalidArgument(`parameter keys starting with 'triton_' are reserved for Triton usage: '${key}'`);
    }
  }
  const priority = int64Param(req.parameters['priority'], 'priority') ?? 0;
  const timeoutUs = int64Param(req.parameters['timeout'], 'timeout') ?? 0;
  if (priority < 0) throw invalidArgument(`'priority' must be >= 0, got ${priority}`);
  if (timeoutUs < 0) throw invalidArgument(`'timeout' must be >= 0, got ${timeoutUs}`);
  return { priority, timeoutUs };
}

function dimsMatch(shape: readonly number[], dims: readonly number[]): boolean {
  return shape.length === dims.length && dims.every((d, i) => d === -1 || d === shape[i]);
}

/** Validates `req` for `model`; throws INVALID_ARGUMENT with Triton's wording on any mismatch. */
export function parseInferRequest(req: ModelInferRequest, model: ServedModel): ParsedRequest {
  const { config } = model;
  const m = `model '${model.name}'`;
  const batching = config.maxBatchSize > 0;
  const useRaw = req.rawInputContents.length > 0;
  const inputs = new Map<string, Tensor>();
  let batchSize: number | undefined;
  let rawIndex = 0;

  for (const input of req.inputs) {
    const spec = config.input.find((i) => i.name === input.name);
    if (!spec) throw invalidArgument(`unexpected inference input '${input.name}' for ${m}`);
    if (inputs.has(input.name)) throw invalidArgument(`input '${input.name}' appears more than once in the request`);
    const expected = datatypeFromConfig(spec.dataType)!;
    if (!isDatatype(input.datatype) || input.datatype !== expected) {
      throw invalidArgument(`inference input '${input.name}' data-type is '${input.datatype}', but ${m} expects '${expected}'`);
    }
    const shape = input.shape.map(Number);
    if (shape.some((d) => d < 0)) throw invalidArgument(`All input dimensions should be specified for input '${input.name}' for ${m}`);
    const dims = spec.dims.map(Number);
    if (batching) {
      const n = shape[0];
      if (n === undefined || !dimsMatch(shape.slice(1), dims)) {
        throw invalidArgument(`unexpected shape for input '${input.name}' for ${m}. Expected [-1,${dims.join(',')}], got ${fmt(shape)}`);
      }
      if (n < 1 || n > config.maxBatchSize) {
        throw invalidArgument(`inference request batch-size must be <= ${config.maxBatchSize} for '${model.name}' (got ${n})`);
      }
      if (batchSize !== undefined && n !== batchSize) {
        throw invalidArgument(`input '${input.name}' batch size ${n} does not match other inputs' ${batchSize} for ${m}`);
      }
      batchSize = n;
    } else if (!dimsMatch(shape, dims)) {
      throw invalidArgument(`unexpected shape for input '${input.name}' for ${m}. Expected ${fmt(dims)}, got ${fmt(shape)}`);
    }

    let raw: Uint8Array;
    if (useRaw) {
      if (input.contents !== undefined) {
        throw invalidArgument(`contents field must not be specified when using raw_input_contents for '${input.name}' for ${m}`);
      }
      const data = req.rawInputContents[rawIndex++];
      if (data === undefined) throw invalidArgument(`unable to find data for input tensor '${input.name}' for ${m}`);
      raw = data;
    } else if (input.contents !== undefined) {
      raw = rawFromContents(input.name, expected, input.contents, elementCount(shape));
    } else {
      throw invalidArgument(`unable to find data for input tensor '${input.name}' for ${m}`);
    }
    const size = expectedByteSize(expected, shape);
    if (size !== undefined && raw.byteLength !== size) {
      throw invalidArgument(`input byte size mismatch for input '${input.name}' for ${m}. Expected ${size}, got ${raw.byteLength}`);
    }
    if (size === undefined) {
      let count: number;
      try {
        count = splitBytesElements(raw).length;
      } catch (err) {
        throw invalidArgument(`input '${input.name}' for ${m}: ${(err as Error).message}`);
      }
      if (count !== elementCount(shape)) {
        throw invalidArgument(`expected ${elementCount(shape)} string elements for inference input '${input.name}' for ${m}, got ${count}`);
      }
    }
    inputs.set(input.name, { datatype: expected, shape, raw });
  }

  const required = config.input.filter((i) => !i.optional);
  const missing = required.filter((i) => !inputs.has(i.name));
  if (missing.length > 0) {
    throw invalidArgument(
      `expected ${required.length} inputs but got ${inputs.size} inputs for ${m}; missing: ${missing.map((i) => `'${i.name}'`).join(', ')}`,
    );
  }

  const outputs: RequestedOutput[] = [];
  const wanted: ReadonlyArray<{ name: string; parameters: Record<string, InferParameter> }> =
    req.outputs.length > 0 ? req.outputs : config.output.map((o) => ({ name: o.name, parameters: {} }));
  for (const o of wanted) {
    const spec = config.output.find((x) => x.name === o.name);
    if (!spec) throw invalidArgument(`unexpected inference output '${o.name}' for ${m}`);
    let classification = 0;
    const p = o.parameters['classification'];
    if (p) {
      if (p.int64Param === undefined || p.int64Param <= 0n) {
        throw invalidArgument(`'classification' parameter of output '${o.name}' must be an int64_param > 0`);
      }
      assertClassifiable(o.name, datatypeFromConfig(spec.dataType)!);
      classification = Number(p.int64Param);
    }
    outputs.push({ name: o.name, classification });
  }

  const { priority, timeoutUs } = requestParameters(req);
  return {
    job: {
      inputs,
      batchSize: batchSize ?? 1,
      outputNames: [...new Set(outputs.map((o) => o.name))],
      priority,
      timeoutUs,
    },
    outputs,
  };
}
