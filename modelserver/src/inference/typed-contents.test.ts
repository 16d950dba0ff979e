/**
 * @module inference/typed-contents.test
 * Typed `contents` turned into raw little-endian bytes as Triton's gRPC frontend does, with the
 * expected bytes written out by hand (not recomputed with the typed arrays the code uses), and
 * its refusals in Triton 2.51's words.
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferTensorContents } from '../../../proto/gen/grpc_service.js';
import { InferenceServerError } from '../errors.js';
import { noContents } from '../../test/helpers.js';
import { rawFromContents } from './typed-contents.js';

const contents = (fields: Partial<InferTensorContents>): InferTensorContents => ({ ...noContents(), ...fields });

const bytes = (datatype: string, fields: Partial<InferTensorContents>) => Array.from(rawFromContents('IN', 'm', datatype, contents(fields)));

describe('rawFromContents', () => {
  it('lays out each datatype little-endian', () => {
    assert.deepEqual(bytes('BOOL', { boolContents: [true, false, true] }), [1, 0, 1]);
    assert.deepEqual(bytes('INT32', { intContents: [1, -2] }), [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    assert.deepEqual(bytes('INT64', { int64Contents: [-2n] }), [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual(bytes('UINT32', { uintContents: [0x01020304] }), [4, 3, 2, 1]);
    assert.deepEqual(bytes('UINT64', { uint64Contents: [0x0102030405060708n] }), [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.deepEqual(bytes('FP32', { fp32Contents: [1.5] }), [0, 0, 0xc0, 0x3f]);
    assert.deepEqual(bytes('FP64', { fp64Contents: [-2] }), [0, 0, 0, 0, 0, 0, 0, 0xc0]);
    // BYTES: a 4-byte length before each element.
    assert.deepEqual(bytes('BYTES', { bytesContents: [Uint8Array.of(7, 8), new Uint8Array(0)] }), [2, 0, 0, 0, 7, 8, 0, 0, 0, 0]);
  });

  it('keeps the low 1 or 2 bytes of each 32-bit value for the narrow integer types', () => {
    const wide = [300, -129, 70000, 65543, -1, 1 << 20];
    assert.deepEqual(bytes('INT8', { intContents: wide }), [44, 127, 112, 7, 0xff, 0]);
    assert.deepEqual(bytes('INT16', { intContents: wide }), [0x2c, 0x01, 0x7f, 0xff, 0x70, 0x11, 7, 0, 0xff, 0xff, 0, 0]);
    const unsigned = [300, 0xffffff7f, 70000, 65543, 0xffffffff, 1 << 20];
    assert.deepEqual(bytes('UINT8', { uintContents: unsigned }), [44, 0x7f, 112, 7, 0xff, 0]);
    assert.deepEqual(bytes('UINT16', { uintContents: unsigned }), [0x2c, 0x01, 0x7f, 0xff, 0x70, 0x11, 7, 0, 0xff, 0xff, 0, 0]);
  });

  it('is empty when every field is empty', () => {
    assert.deepEqual(bytes('FP32', {}), []);
  });

  it("refuses a field of another type, naming the field's type as Triton does", () => {
    const cases: Array<[string, Partial<InferTensorContents>, string]> = [
      ['FP32', { intContents: [1] }, 'INT32'],
      ['INT8', { int64Contents: [1n] }, 'INT64'],
      ['UINT8', { intContents: [1] }, 'INT32'], // int_contents carry INT8/INT16/INT32 only
      ['INT16', { uintContents: [1] }, 'UINT32'],
      ['INT32', { uint64Contents: [1n] }, 'UINT64'],
      ['FP64', { fp32Contents: [1] }, 'FP32'],
      ['FP32', { fp64Contents: [1] }, 'FP64'],
      ['INT32', { boolContents: [true] }, 'BOOL'],
      ['FP32', { bytesContents: [Uint8Array.of(1)] }, 'BYTES'],
      ['<invalid>', { fp32Contents: [1] }, 'FP32'],
    ];
    for (const [datatype, fields, type] of cases) {
      assert.throws(
        () => rawFromContents('IN', 'm', datatype, contents(fields)),
        (err: unknown) =>
          err instanceof InferenceServerError &&
          err.code === status.INVALID_ARGUMENT &&
          err.message === `unexpected explicit tensor data for input tensor 'IN' for model 'm' of type '${type}', expected datatype '${datatype}'`,
        `${datatype} with ${Object.keys(fields)[0]}`,
      );
    }
  });

  it('refuses a second non-empty field', () => {
    assert.throws(
      () => rawFromContents('IN', 'm', 'FP32', contents({ fp32Contents: [1], fp64Contents: [2] })),
      (err: unknown) =>
        err instanceof InferenceServerError &&
        err.message === "unexpected explicit tensor data for input tensor 'IN' for model 'm', binary data was already supplied.",
    );
  });
});
