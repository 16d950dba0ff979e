/**
 * @module inference/request-parameters
 * The parameters of a ModelInferRequest, its input tensors and its requested outputs, read as
 * Triton's gRPC frontend reads them (server/src/grpc/infer_handler.cc SetInferenceRequestMetadata,
 * grpc_utils.h ParseSharedMemoryParams, grpc_utils.cc ParseClassificationParams), with its
 * INVALID_ARGUMENT messages word for word. These errors carry no "[request id: …]" prefix: the
 * frontend raises them before the request reaches Triton's core.
 */
import type { InferParameter } from '../../../proto/gen/grpc_service.js';
import { invalidArgument, notFound } from '../errors.js';
import type { SequenceFlags } from '../scheduler/types.js';

/** `triton_`-prefixed request parameters Triton accepts (TRITON_RESERVED_REQUEST_PARAMS). */
const RESERVED = ['triton_enable_empty_final_response'];

/** `sequence_id` (int64 or string; 0 when absent, as Triton's correlation id) and the flags. */
export type SequenceParameters = SequenceFlags;

export interface RequestParameters {
  readonly priority: number;
  readonly timeoutUs: number;
  readonly sequence: SequenceParameters;
}

/** Reads the request-level parameters; throws Triton's frontend errors for wrong value types. */
export function readRequestParameters(parameters: Record<string, InferParameter>): RequestParameters {
  let priority = 0;
  let timeoutUs = 0;
  let id: bigint | string = 0n;
  let start = false;
  let end = false;
  for (const [key, p] of Object.entries(parameters)) {
    if (key === 'sequence_id') {
      if (p.int64Param !== undefined) id = p.int64Param;
      else if (p.stringParam !== undefined) id = p.stringParam;
      else throw invalidArgument(`invalid value type for 'sequence_id' parameter, expected int64_param or string_param.`);
    } else if (key === 'sequence_start' || key === 'sequence_end') {
      if (p.boolParam === undefined) throw invalidArgument(`invalid value type for '${key}' parameter, expected bool_param.`);
      if (key === 'sequence_start') start = p.boolParam;
      else end = p.boolParam;
    } else if (key === 'priority') {
      if (p.int64Param !== undefined) {
        if (p.int64Param < 0n) throw invalidArgument(`invalid value for 'priority', expected value >= 0.`);
        priority = Number(p.int64Param);
      } else if (p.uint64Param !== undefined) {
        priority = Number(p.uint64Param);
      } else {
        throw invalidArgument(`invalid value type for 'priority' parameter, expected int64_param or uint64_param.`);
      }
    } else if (key === 'timeout') {
      if (p.int64Param === undefined) throw invalidArgument(`invalid value type for 'timeout' parameter, expected int64_param.`);
      timeoutUs = Number(p.int64Param);
    } else if (key.startsWith('triton_')) {
      if (!RESERVED.includes(key)) {
        throw invalidArgument(
          `parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys starting with 'triton_' are allowed: ${RESERVED.join(' ')}`,
        );
      }
      if (p.boolParam === undefined) throw invalidArgument(`invalid value type for '${key}' parameter, expected bool_param.`);
    } else if (p.int64Param === undefined && p.boolParam === undefined && p.stringParam === undefined && p.doubleParam === undefined) {
      // Any other parameter is passed to the model; Triton refuses only uint64 (or none).
      throw invalidArgument(`invalid value type for '${key}' parameter, expected int64_param, bool_param, or string_param.`);
    }
  }
  // Triton reads a negative timeout as an unsigned number of microseconds: no timeout at all.
  return { priority, timeoutUs: Math.max(0, timeoutUs), sequence: { id, start, end } };
}

/**
 * The shared-memory region an input or output names, if any, after Triton's checks of the
 * `shared_memory_*` parameters. This server registers no shared memory (it has no shared-memory
 * RPCs), so a region named is never found: see {@link regionNotFound}.
 */
export function sharedMemoryRegion(tensor: string, parameters: Record<string, InferParameter>): string | undefined {
  const region = parameters['shared_memory_region'];
  if (region !== undefined && region.stringParam === undefined) {
    throw invalidArgument(`invalid value type for 'shared_memory_region' parameter for tensor '${tensor}', expected string_param.`);
  }
  for (const key of ['shared_memory_offset', 'shared_memory_byte_size']) {
    const p = parameters[key];
    if (p === undefined) continue;
    if (region === undefined) throw invalidArgument(`'${key}' can not be specified without 'shared_memory_region' parameter for tensor '${tensor}'`);
    if (p.int64Param === undefined) throw invalidArgument(`invalid value type for '${key}' parameter for tensor '${tensor}', expected int64_param.`);
  }
  if (region !== undefined && parameters['shared_memory_byte_size'] === undefined) {
    throw invalidArgument(`'shared_memory_byte_size' must be specified along with 'shared_memory_region' parameter for tensor '${tensor}'`);
  }
  return region?.stringParam;
}

/** What Triton answers for a region that was never registered. */
export function regionNotFound(region: string) {
  return notFound(`Unable to find shared memory region: '${region}'`);
}

/** Top-k of an output's `classification` parameter, 0 when it has none. */
export function classificationCount(parameters: Record<string, InferParameter>): number {
  const p = parameters['classification'];
  if (p === undefined) return 0;
  if (p.int64Param === undefined) throw invalidArgument(`invalid value type for 'classification' parameter, expected int64_param`);
  if (p.int64Param <= 0n) throw invalidArgument(`invalid value for 'classification' parameter, expected >= 0`);
  // Triton keeps it in a uint32.
  return Number(BigInt.asUintN(32, p.int64Param));
}
