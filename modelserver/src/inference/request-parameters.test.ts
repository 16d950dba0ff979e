/**
 * @module inference/request-parameters.test
 * Request, input and output parameters read as Triton's gRPC frontend reads them: the values a
 * request carries into the scheduler, and each refusal in Triton 2.51's words (checked against
 * tritonserver: conformance/cases.py and the cases listed in modelserver/test/request-errors.test.ts).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferParameter } from '../../../proto/gen/grpc_service.js';
import { InferenceServerError } from '../errors.js';
import { classificationCount, readRequestParameters, regionNotFound, sharedMemoryRegion } from './request-parameters.js';

type P = Record<string, InferParameter>;

/** Asserts `fn` throws an InferenceServerError with exactly `message` and status `code`. */
function throwsExactly(fn: () => unknown, message: string, code = status.INVALID_ARGUMENT): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InferenceServerError, String(err));
    assert.equal(err.message, message);
    assert.equal(err.code, code);
    return true;
  });
}

describe('readRequestParameters', () => {
  it('has no priority, no timeout and sequence id 0 when nothing is given', () => {
    assert.deepEqual(readRequestParameters({}), { priority: 0, timeoutUs: 0, sequence: { id: 0n, start: false, end: false } });
  });

  it('reads priority (int64 or uint64), timeout and the sequence parameters', () => {
    const p: P = {
      priority: { int64Param: 3n },
      timeout: { int64Param: 2500n },
      sequence_id: { int64Param: 42n },
      sequence_start: { boolParam: true },
      sequence_end: { boolParam: false },
    };
    assert.deepEqual(readRequestParameters(p), { priority: 3, timeoutUs: 2500, sequence: { id: 42n, start: true, end: false } });
    const q: P = { priority: { uint64Param: 2n }, sequence_id: { stringParam: 'abc' }, sequence_end: { boolParam: true } };
    assert.deepEqual(readRequestParameters(q), { priority: 2, timeoutUs: 0, sequence: { id: 'abc', start: false, end: true } });
  });

  it('reads a negative timeout as no timeout (Triton keeps it unsigned)', () => {
    assert.equal(readRequestParameters({ timeout: { int64Param: -5n } }).timeoutUs, 0);
  });

  it('passes custom parameters of any type but uint64, and the one allowed triton_ key', () => {
    const ok: P = {
      colour: { stringParam: 'blue' },
      answer: { int64Param: 42n },
      flag: { boolParam: false },
      ratio: { doubleParam: 0.5 },
      triton_enable_empty_final_response: { boolParam: true },
    };
    assert.deepEqual(readRequestParameters(ok), { priority: 0, timeoutUs: 0, sequence: { id: 0n, start: false, end: false } });
    throwsExactly(
      () => readRequestParameters({ big: { uint64Param: 1n } }),
      "invalid value type for 'big' parameter, expected int64_param, bool_param, or string_param.",
    );
    throwsExactly(() => readRequestParameters({ empty: {} }), "invalid value type for 'empty' parameter, expected int64_param, bool_param, or string_param.");
  });

  it("refuses wrong value types in Triton's words", () => {
    const cases: Array<[P, string]> = [
      [{ sequence_id: { boolParam: true } }, "invalid value type for 'sequence_id' parameter, expected int64_param or string_param."],
      [{ sequence_start: { int64Param: 1n } }, "invalid value type for 'sequence_start' parameter, expected bool_param."],
      [{ sequence_end: { stringParam: 'yes' } }, "invalid value type for 'sequence_end' parameter, expected bool_param."],
      [{ priority: { stringParam: 'high' } }, "invalid value type for 'priority' parameter, expected int64_param or uint64_param."],
      [{ priority: { int64Param: -1n } }, "invalid value for 'priority', expected value >= 0."],
      [{ timeout: { boolParam: true } }, "invalid value type for 'timeout' parameter, expected int64_param."],
      [{ triton_enable_empty_final_response: { int64Param: 1n } }, "invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param."],
      [
        { triton_x: { boolParam: true } },
        "parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys starting with 'triton_' are allowed: triton_enable_empty_final_response",
      ],
    ];
    for (const [p, message] of cases) throwsExactly(() => readRequestParameters(p), message);
  });

  it('accepts priority 0 from int64', () => {
    assert.equal(readRequestParameters({ priority: { int64Param: 0n } }).priority, 0);
  });
});

describe('sharedMemoryRegion', () => {
  it('is undefined without shared-memory parameters, the region name with them', () => {
    assert.equal(sharedMemoryRegion('IN', {}), undefined);
    assert.equal(sharedMemoryRegion('IN', { shared_memory_region: { stringParam: 'r' }, shared_memory_byte_size: { int64Param: 16n } }), 'r');
    const withOffset: P = { shared_memory_region: { stringParam: 'r' }, shared_memory_offset: { int64Param: 8n }, shared_memory_byte_size: { int64Param: 8n } };
    assert.equal(sharedMemoryRegion('IN', withOffset), 'r');
  });

  it("refuses incomplete or mistyped shared-memory parameters in Triton's words", () => {
    const cases: Array<[P, string]> = [
      [{ shared_memory_region: { int64Param: 1n } }, "invalid value type for 'shared_memory_region' parameter for tensor 'IN', expected string_param."],
      [{ shared_memory_offset: { int64Param: 0n } }, "'shared_memory_offset' can not be specified without 'shared_memory_region' parameter for tensor 'IN'"],
      [{ shared_memory_byte_size: { int64Param: 4n } }, "'shared_memory_byte_size' can not be specified without 'shared_memory_region' parameter for tensor 'IN'"],
      [
        { shared_memory_region: { stringParam: 'r' }, shared_memory_offset: { stringParam: '0' } },
        "invalid value type for 'shared_memory_offset' parameter for tensor 'IN', expected int64_param.",
      ],
      [
        { shared_memory_region: { stringParam: 'r' }, shared_memory_byte_size: { boolParam: true } },
        "invalid value type for 'shared_memory_byte_size' parameter for tensor 'IN', expected int64_param.",
      ],
      [{ shared_memory_region: { stringParam: 'r' } }, "'shared_memory_byte_size' must be specified along with 'shared_memory_region' parameter for tensor 'IN'"],
    ];
    for (const [p, message] of cases) throwsExactly(() => sharedMemoryRegion('IN', p), message);
  });

  it('names a region that was never registered as NOT_FOUND', () => {
    const err = regionNotFound('cache');
    assert.equal(err.code, status.NOT_FOUND);
    assert.equal(err.message, "Unable to find shared memory region: 'cache'");
  });
});

describe('classificationCount', () => {
  it('is 0 without the parameter and k with it, kept in a uint32 as Triton keeps it', () => {
    assert.equal(classificationCount({}), 0);
    assert.equal(classificationCount({ classification: { int64Param: 1n } }), 1);
    assert.equal(classificationCount({ classification: { int64Param: 7n } }), 7);
    assert.equal(classificationCount({ classification: { int64Param: (1n << 32n) + 3n } }), 3);
  });

  it("refuses k <= 0 and other value types in Triton's words", () => {
    throwsExactly(() => classificationCount({ classification: { int64Param: 0n } }), "invalid value for 'classification' parameter, expected >= 0");
    throwsExactly(() => classificationCount({ classification: { int64Param: -3n } }), "invalid value for 'classification' parameter, expected >= 0");
    throwsExactly(() => classificationCount({ classification: { stringParam: '2' } }), "invalid value type for 'classification' parameter, expected int64_param");
  });
});
