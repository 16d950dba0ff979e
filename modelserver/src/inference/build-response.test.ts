/**
 * @module inference/build-response.test
 * The ModelInferResponse: the requested outputs in raw_output_contents, in the order asked for,
 * classified where the request said so (with the output's own labels, per batch item when the
 * model batches), the request id echoed and the concrete version named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseModelConfig, parseModelConfigText } from '../config/index.js';
import type { ServedModel } from '../models/served-model.js';
import { ModelStats } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';
import { buildInferResponse } from './build-response.js';

/** A loaded model as buildInferResponse sees it; it never runs one. */
function model(maxBatchSize: number, labels: Record<string, string[]> = {}): ServedModel {
  const text = `name: "m"\nbackend: "onnxruntime"\nmax_batch_size: ${maxBatchSize}
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "SCORES" data_type: TYPE_FP32 dims: [ 3 ] }, { name: "COUNTS" data_type: TYPE_INT32 dims: [ 3 ] } ]`;
  return {
    name: 'm',
    version: 7,
    config: normaliseModelConfig(parseModelConfigText(text, 'm/config.pbtxt'), 'm'),
    labels: new Map(Object.entries(labels)),
    stats: new ModelStats('m', '7'),
    infer: () => Promise.reject(new Error('not run in these tests')),
    unload: async () => {},
  };
}

const scores = (shape: number[], values: number[]): Tensor => ({ datatype: 'FP32', shape, raw: new Uint8Array(Float32Array.from(values).buffer) });
const counts = (shape: number[], values: number[]): Tensor => ({ datatype: 'INT32', shape, raw: new Uint8Array(Int32Array.from(values).buffer) });

function strings(raw: Uint8Array): string[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = [];
  for (let pos = 0; pos < raw.byteLength; pos += 4 + view.getUint32(pos, true)) {
    out.push(new TextDecoder().decode(raw.subarray(pos + 4, pos + 4 + view.getUint32(pos, true))));
  }
  return out;
}

describe('buildInferResponse', () => {
  it('answers the requested outputs raw, in the order asked, with the id and the concrete version', () => {
    const results = new Map([
      ['SCORES', scores([2, 3], [1, 2, 3, 4, 5, 6])],
      ['COUNTS', counts([2, 3], [1, 1, 2, 3, 5, 8])],
    ]);
    const res = buildInferResponse(model(4), 'req-9', [{ name: 'COUNTS', classification: 0 }, { name: 'SCORES', classification: 0 }], results);
    assert.equal(res.modelName, 'm');
    assert.equal(res.modelVersion, '7');
    assert.equal(res.id, 'req-9');
    assert.deepEqual(res.parameters, {});
    assert.deepEqual(res.outputs, [
      { name: 'COUNTS', datatype: 'INT32', shape: [2n, 3n], parameters: {}, contents: undefined },
      { name: 'SCORES', datatype: 'FP32', shape: [2n, 3n], parameters: {}, contents: undefined },
    ]);
    assert.deepEqual(res.rawOutputContents, [results.get('COUNTS')!.raw, results.get('SCORES')!.raw]);
  });

  it("classifies per batch item when the model batches, with the output's own labels", () => {
    const results = new Map([['SCORES', scores([2, 3], [0.5, 0.25, 1, 3, 2, 1])]]);
    const labelled = model(4, { SCORES: ['low', 'mid', 'high'], COUNTS: ['x', 'y', 'z'] });
    const res = buildInferResponse(labelled, '', [{ name: 'SCORES', classification: 2 }], results);
    assert.deepEqual(res.outputs[0], { name: 'SCORES', datatype: 'BYTES', shape: [2n, 2n], parameters: {}, contents: undefined });
    assert.deepEqual(strings(res.rawOutputContents[0]!), ['1.000000:2:high', '0.500000:0:low', '3.000000:0:low', '2.000000:1:mid']);
  });

  it('classifies the whole tensor of a model without batching', () => {
    const results = new Map([['COUNTS', counts([3], [4, 9, 6])]]);
    const res = buildInferResponse(model(0), '', [{ name: 'COUNTS', classification: 2 }], results);
    assert.deepEqual(res.outputs[0]!.shape, [2n]);
    assert.deepEqual(strings(res.rawOutputContents[0]!), ['9:1', '6:2']);
  });
});
