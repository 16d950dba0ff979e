/**
 * @module inference/classification.test
 * The classification extension's top-k strings for every classifiable datatype, written out by
 * hand: `<value>:<index>[:<label>]`, highest first, ties in index order, floats as C++
 * std::to_string prints them (checked against tritonserver 2.51, see test/classification.test.ts).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceServerError } from '../errors.js';
import type { Datatype } from '../tensors/datatype.js';
import type { Tensor } from '../tensors/tensor.js';
import { assertClassifiable, classify } from './classification.js';

/** The strings of a BYTES tensor. */
function strings(t: Tensor): string[] {
  const view = new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength);
  const out: string[] = [];
  for (let pos = 0; pos < t.raw.byteLength; ) {
    const len = view.getUint32(pos, true);
    out.push(new TextDecoder().decode(t.raw.subarray(pos + 4, pos + 4 + len)));
    pos += 4 + len;
  }
  return out;
}

const tensor = (datatype: Datatype, shape: number[], array: { buffer: ArrayBufferLike; byteLength: number }): Tensor => ({
  datatype,
  shape,
  raw: new Uint8Array(array.buffer, 0, array.byteLength),
});

describe('classify', () => {
  it('reads every integer and float datatype', () => {
    const cases: Array<[Datatype, { buffer: ArrayBufferLike; byteLength: number }, string[]]> = [
      ['UINT8', Uint8Array.of(3, 250, 7), ['250:1', '7:2', '3:0']],
      ['UINT16', Uint16Array.of(3, 65000, 7), ['65000:1', '7:2', '3:0']],
      ['UINT32', Uint32Array.of(3, 4_000_000_000, 7), ['4000000000:1', '7:2', '3:0']],
      ['UINT64', BigUint64Array.of(3n, 18_000_000_000_000_000_000n, 7n), ['18000000000000000000:1', '7:2', '3:0']],
      ['INT8', Int8Array.of(-3, -120, 7), ['7:2', '-3:0', '-120:1']],
      ['INT16', Int16Array.of(-3, -32000, 7), ['7:2', '-3:0', '-32000:1']],
      ['INT32', Int32Array.of(-3, -2_000_000_000, 7), ['7:2', '-3:0', '-2000000000:1']],
      ['INT64', BigInt64Array.of(-3n, -9_000_000_000_000_000_000n, 7n), ['7:2', '-3:0', '-9000000000000000000:1']],
      ['FP32', Float32Array.of(0.25, -1.5, 3), ['3.000000:2', '0.250000:0', '-1.500000:1']],
      ['FP64', Float64Array.of(0.1234567, -1e-7, 1234.5), ['1234.500000:2', '0.123457:0', '-0.000000:1']],
    ];
    for (const [datatype, values, expected] of cases) {
      const out = classify('OUT', tensor(datatype, [3], values), 3, false, undefined);
      assert.deepEqual({ datatype: out.datatype, shape: out.shape, strings: strings(out) }, { datatype: 'BYTES', shape: [3], strings: expected }, datatype);
    }
  });

  it('prints nan, inf and floats of 1e21 and above as %f does', () => {
    assert.deepEqual(strings(classify('OUT', tensor('FP32', [1], Float32Array.of(Number.NaN)), 1, false, undefined)), ['nan:0']);
    const values = Float64Array.of(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e21, 2.5e22, 999999999999999900000);
    assert.deepEqual(strings(classify('OUT', tensor('FP64', [5], values), 5, false, undefined)), [
      'inf:0',
      '24999999999999997902848.000000:3', // the double nearest to 2.5e22, every digit (printf's, not JS's)
      '1000000000000000000000.000000:2',
      '999999999999999868928.000000:4', // the double nearest to 9.999999999999999e20, in full
      '-inf:1',
    ]);
  });

  it('takes the top k of each batch item, ties in index order, with labels where given', () => {
    const values = Float32Array.of(1, 5, 5, 2, /* item 2 */ 9, 0, 9, 9);
    const labels = ['a', '', 'c'];
    const out = classify('OUT', tensor('FP32', [2, 4], values), 3, true, labels);
    assert.deepEqual(out.shape, [2, 3]);
    // Index 1's label is empty and index 3 has none: neither gets a suffix.
    assert.deepEqual(strings(out), ['5.000000:1', '5.000000:2:c', '2.000000:3', '9.000000:0:a', '9.000000:2:c', '9.000000:3']);
  });

  it('keeps k within the number of classes, and answers nothing for an empty batch', () => {
    const out = classify('OUT', tensor('INT32', [1, 2], Int32Array.of(4, 8)), 5, true, undefined);
    assert.deepEqual({ shape: out.shape, strings: strings(out) }, { shape: [1, 2], strings: ['8:1', '4:0'] });
    // Unreachable through the server (a batch of 0 is refused first); the division is guarded.
    const none = classify('OUT', tensor('INT32', [0, 2], new Int32Array(0)), 2, true, undefined);
    assert.deepEqual({ shape: none.shape, strings: strings(none) }, { shape: [0, 0], strings: [] });
  });

  it('refuses what cannot be classified', () => {
    const invalid = (message: string) => (err: unknown) =>
      err instanceof InferenceServerError && err.code === status.INVALID_ARGUMENT && err.message === message;
    const bytes = tensor('BYTES', [1], Uint8Array.of(1, 0, 0, 0, 65));
    assert.throws(() => classify('OUT', bytes, 1, false, undefined), invalid("class result not available for output 'OUT' due to unsupported type 'BYTES'"));
    assert.throws(() => assertClassifiable('OUT', 'BOOL'), invalid("class result not available for output 'OUT' due to unsupported type 'BOOL'"));
    assert.doesNotThrow(() => assertClassifiable('OUT', 'FP32'));
    const huge: Tensor = { datatype: 'UINT8', shape: [1, 1_000_001], raw: new Uint8Array(1_000_001) };
    assert.throws(() => classify('OUT', huge, 1, true, undefined), invalid("output 'OUT' has more than 1000000 elements to classify"));
    const limit: Tensor = { datatype: 'UINT8', shape: [1, 1_000_000], raw: new Uint8Array(1_000_000) };
    assert.deepEqual(strings(classify('OUT', limit, 1, true, undefined)), ['0:0']);
  });
});
