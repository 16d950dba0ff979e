/**
 * @module inference/parse-request
 * Validates a ModelInferRequest against the model's config and turns it into a scheduler job,
 * checking what Triton 2.51 checks, in its order, with its messages (kserve-v2-grpc.md §2.2–2.5):
 * first its gRPC frontend (server/src/grpc/infer_handler.cc: parameters, duplicate inputs,
 * tensor data, requested outputs), then its core (core/src/infer_request.cc Normalize: requested
 * outputs, input count, names and batch size, datatype, shape, byte size, BYTES elements). The
 * core's messages start with "[request id: <id>] " ("<id_unknown>" for an empty id), as Triton's
 * LogRequest() writes them; the frontend's do not.
 *
 * Triton keeps a request's inputs in a std::unordered_map and the core walks that map, so which
 * input an error names, and the order "Got input(s) [...]" lists them in, follow libstdc++'s
 * hash order. For the few inputs a request has, that order is the reverse of insertion (each new
 * node goes to the front of the list) unless two names share a bucket; the core checks here walk
 * the inputs in reverse request order, which matches it in that common case.
 */
import type { ModelInferRequest } from '../../../proto/gen/grpc_service.js';
import type { ModelInput } from '../../../proto/gen/model_config.js';
import { invalidArgument } from '../errors.js';
import type { ServedModel } from '../models/served-model.js';
import type { InferenceJob } from '../scheduler/types.js';
import { datatypeFromConfig, elementByteSize, isDatatype } from '../tensors/datatype.js';
import type { Tensor } from '../tensors/tensor.js';
import { assertClassifiable } from './classification.js';
import { classificationCount, readRequestParameters, regionNotFound, type SequenceParameters, sharedMemoryRegion } from './request-parameters.js';
import { rawFromContents } from './typed-contents.js';

export interface RequestedOutput {
  readonly name: string;
  /** Top-k for the classification extension; 0 = the tensor itself. */
  readonly classification: number;
}

export interface ParsedRequest {
  readonly job: InferenceJob;
  readonly outputs: readonly RequestedOutput[];
  /** The request's sequence parameters, which an ensemble's response carries back. */
  readonly sequence: SequenceParameters;
}

const fmt = (shape: readonly number[]) => `[${shape.join(',')}]`;
const product = (dims: readonly number[]) => dims.reduce((n, d) => n * d, 1);

const BATCH_NOTE =
  'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input ' +
  'shape. If you want to specify the full shape including the batch dim in your input dims config, try setting ' +
  'max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

/** Triton core's message prefix for request `id` (InferenceRequest::LogRequest). */
export function requestPrefix(id: string): string {
  return `[request id: ${id === '' ? '<id_unknown>' : id}] `;
}

/** A request datatype as Triton names it: unknown strings become TYPE_INVALID, "<invalid>". */
function declaredType(datatype: string): string {
  return isDatatype(datatype) ? datatype : '<invalid>';
}

/** Validates `req` for `model`; throws INVALID_ARGUMENT (or NOT_FOUND) as Triton would. */
export function parseInferRequest(req: ModelInferRequest, model: ServedModel): ParsedRequest {
  const { config } = model;
  const log = requestPrefix(req.id);
  const m = `model '${model.name}'`;

  // gRPC frontend: parameters, then the inputs in request order, then their data.
  const parameters = readRequestParameters(req.parameters);
  const names = new Set<string>();
  for (const input of req.inputs) {
    if (names.has(input.name)) throw invalidArgument(`${log}input '${input.name}' already exists in request`);
    names.add(input.name);
  }
  const data = new Map<string, Uint8Array>();
  let rawIndex = 0;
  for (const input of req.inputs) {
    const region = sharedMemoryRegion(input.name, input.parameters);
    if (region !== undefined) {
      if (input.contents !== undefined) {
        throw invalidArgument(`unexpected 'content' provided when using shared memory for input tensor '${input.name}' for ${m}`);
      }
      throw regionNotFound(region);
    }
    if (input.contents !== undefined && req.rawInputContents.length > 0) {
      throw invalidArgument(`contents field must not be specified when using raw_input_contents for '${input.name}' for ${m}`);
    } else if (input.contents !== undefined) {
      data.set(input.name, rawFromContents(input.name, model.name, declaredType(input.datatype), input.contents));
    } else if (rawIndex < req.rawInputContents.length) {
      data.set(input.name, req.rawInputContents[rawIndex++]!);
    } else {
      throw invalidArgument(`unable to find data for input tensor '${input.name}' for ${m} in request.`);
    }
  }
  // An output requested twice is answered once (Triton's core keeps a set of names), with the
  // first classification asked for (its frontend keeps the first count per name).
  const outputs: RequestedOutput[] = [];
  for (const o of req.outputs) {
    const region = sharedMemoryRegion(o.name, o.parameters);
    const classification = classificationCount(o.parameters);
    if (region !== undefined && classification > 0) throw invalidArgument(`output can't set both 'shared_memory_region' and 'classification'`);
    if (region !== undefined) throw regionNotFound(region);
    const at = outputs.findIndex((r) => r.name === o.name);
    if (at < 0) outputs.push({ name: o.name, classification });
    else if (outputs[at]!.classification === 0) outputs[at] = { name: o.name, classification };
  }

  // Triton's core (Normalize): requested outputs (a std::set, so in name order), input count.
  for (const name of outputs.map((o) => o.name).sort()) {
    if (!config.output.some((o) => o.name === name)) throw invalidArgument(`unexpected inference output '${name}' for ${m}`);
  }
  const order = [...req.inputs].reverse();
  checkInputCount(req, model, order, log);

  // Names and the batch size. Triton keeps the batch size in a uint32, taken from the first
  // input, compares every other input's int64 dimension 0 with it, and tests it as an int.
  const batching = config.maxBatchSize > 0;
  const specs = new Map<string, ModelInput>();
  let batchSize = 0;
  for (const input of order) {
    const spec = config.input.find((i) => i.name === input.name);
    if (!spec) throw invalidArgument(`unexpected inference input '${input.name}' for ${m}`);
    specs.set(input.name, spec);
    if (!batching || spec.isShapeTensor) continue;
    if (input.shape.length === 0) throw invalidArgument(`${log}input '${input.name}' has no shape but model requires batch dimension for '${model.name}'`);
    if (batchSize === 0) batchSize = Number(BigInt.asUintN(32, input.shape[0]!));
    else if (input.shape[0]! !== BigInt(batchSize)) throw invalidArgument(`${log}input '${input.name}' batch size does not match other inputs for '${model.name}'`);
  }
  if ((batchSize | 0) > config.maxBatchSize) {
    throw invalidArgument(`${log}inference request batch-size must be <= ${config.maxBatchSize} for '${model.name}'`);
  }

  // Per input: datatype, shape against dims, then the data's size.
  const inputs = new Map<string, Tensor>();
  for (const input of order) {
    const spec = specs.get(input.name)!;
    const expected = datatypeFromConfig(spec.dataType)!;
    const declared = declaredType(input.datatype);
    if (declared !== expected) {
      throw invalidArgument(`${log}inference input '${input.name}' data-type is '${declared}', but ${m} expects '${expected}'`);
    }
    const original = input.shape.map(Number);
    const dims = batching && !spec.isShapeTensor ? original.slice(1) : original;
    const configDims = spec.dims.map(Number);
    let matches = configDims.length === dims.length;
    for (let i = 0; matches && i < dims.length; i++) {
      if (dims[i] === -1) {
        throw invalidArgument(`${log}All input dimensions should be specified for input '${input.name}' for ${m}, got ${fmt(original)}`);
      }
      if (configDims[i] !== -1 && configDims[i] !== dims[i]) matches = false;
    }
    if (!matches) {
      const full = batching ? [-1, ...configDims] : configDims;
      throw invalidArgument(
        `${log}unexpected shape for input '${input.name}' for ${m}. Expected ${fmt(full)}, got ${fmt(original)}. ${batching ? BATCH_NOTE : ''}`,
      );
    }
    // Triton's shape with the batch dimension: the uint32 batch size, whatever dimension 0 said.
    const withBatch = batchSize === 0 || spec.isShapeTensor ? dims : [batchSize, ...dims];
    // A -1 was refused above, so the element count is the plain product (Triton's
    // GetElementCount), negative for a dimension like -2.
    const raw = data.get(input.name)!;
    if (expected === 'BYTES') {
      checkBytesElements(raw, input.name, model.name, product(withBatch), log);
    } else {
      const size = elementByteSize(expected) * product(withBatch);
      if (raw.byteLength !== size) {
        throw invalidArgument(`${log}input byte size mismatch for input '${input.name}' for ${m}. Expected ${size}, got ${raw.byteLength}`);
      }
    }
    inputs.set(input.name, { datatype: expected, shape: batching && batchSize > 0 ? withBatch : original, raw });
  }

  // Beyond Triton's checks: what Triton leaves to its backends, answered here before running.
  if (batching && batchSize === 0) throw invalidArgument(`${log}inference request batch-size must be >= 1 for '${model.name}'`);
  const missing = config.input.filter((i) => !i.optional && !inputs.has(i.name));
  if (missing.length > 0) throw invalidArgument(`${log}missing required input(s) ${missing.map((i) => `'${i.name}'`).join(',')} for ${m}`);
  const wanted = outputs.length > 0 ? outputs : config.output.map((o) => ({ name: o.name, classification: 0 }));
  for (const o of wanted) {
    if (o.classification > 0) assertClassifiable(o.name, datatypeFromConfig(config.output.find((x) => x.name === o.name)!.dataType)!);
  }

  return {
    job: {
      inputs: new Map([...req.inputs].map((i) => [i.name, inputs.get(i.name)!])),
      batchSize: batching ? batchSize : 1,
      outputNames: wanted.map((o) => o.name),
      priority: parameters.priority,
      timeoutUs: parameters.timeoutUs,
      sequence: parameters.sequence,
    },
    outputs: wanted,
    sequence: parameters.sequence,
  };
}

/** Triton's ValidateRequestInputs: the number of inputs only, names come after. */
function checkInputCount(req: ModelInferRequest, model: ServedModel, order: ModelInferRequest['inputs'], log: string): void {
  const { input } = model.config;
  const required = input.filter((i) => !i.optional);
  const given = req.inputs.length;
  if (given <= input.length && given >= required.length) return;
  const names = new Set(req.inputs.map((i) => i.name));
  const missing = required.filter((i) => !names.has(i.name)).map((i) => `'${i.name}'`);
  // Triton builds "[a,b," and drops the last character: with nothing missing that is the "[".
  const missingList = missing.length > 0 ? `[${missing.join(',')}]` : ']';
  const got = given > 0 ? `[${order.map((i) => `'${i.name}'`).join(',')}]` : '[]';
  const expected = input.length === required.length ? `expected ${input.length} inputs` : `expected number of inputs between ${required.length} and ${input.length}`;
  throw invalidArgument(
    `${log}${expected} but got ${given} inputs for model '${model.name}'. Got input(s) ${got}, but missing required input(s) ${missingList}. Please provide all required input(s).`,
  );
}

/**
 * Triton's ValidateBytesInputs over one buffer: every element needs its whole 4-byte length,
 * and the number of elements must be `count`. An element whose bytes run past the end passes
 * here, as in Triton; the backend refuses it (see {@link incompleteStringError}).
 */
function checkBytesElements(raw: Uint8Array, name: string, model: string, count: number, log: string): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let pos = 0;
  let remaining = raw.byteLength;
  let elementLeft = 0;
  let checked = 0;
  while (remaining > 0) {
    if (elementLeft === 0) {
      if (remaining < 4) {
        throw invalidArgument(
          `${log}incomplete string length indicator for inference input '${name}' for model '${model}', expecting 4 bytes but only ${remaining} bytes available. Please make sure the string length indicator is in one buffer.`,
        );
      }
      elementLeft = view.getUint32(pos, true);
      checked++;
      if (checked > count) {
        throw invalidArgument(`${log}unexpected number of string elements ${checked} for inference input '${name}' for model '${model}', expecting ${count}`);
      }
      pos += 4;
      remaining -= 4;
    }
    const taken = Math.min(remaining, elementLeft);
    pos += taken;
    remaining -= taken;
    elementLeft -= taken;
  }
  if (checked !== count) {
    throw invalidArgument(`${log}expected ${count} string elements for inference input '${name}' for model '${model}', got ${checked}`);
  }
}

/**
 * The error Triton's backends answer for a BYTES element whose bytes run past the end of the
 * tensor ("incomplete string data"), or undefined. It is a failed execution, not a refused
 * request: the caller counts it in the model's statistics, as Triton does.
 */
export function incompleteStringError(job: InferenceJob): string | undefined {
  for (const [name, t] of job.inputs) {
    if (t.datatype !== 'BYTES') continue;
    const view = new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength);
    let pos = 0;
    while (pos + 4 <= t.raw.byteLength) {
      const len = view.getUint32(pos, true);
      pos += 4;
      const left = t.raw.byteLength - pos;
      if (len > left) return `incomplete string data for inference input '${name}', expecting string of length ${len} but only ${left} bytes available`;
      pos += len;
    }
  }
  return undefined;
}
