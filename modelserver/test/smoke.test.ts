import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addSubModel, simpleModelConfig } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({
    simple: {
      config: simpleModelConfig('simple', 'dynamic_batching { max_queue_delay_microseconds: 1000 }'),
      versions: { 1: addSubModel() },
    },
  });
});
after(() => t.close());

test('simple add/sub over gRPC', async () => {
  const res = await t.call('modelInfer', inferRequest({
    modelName: 'simple',
    id: 'req-1',
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined },
      { name: 'INPUT1', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined },
    ],
    rawInputContents: [f32([1, 2, 3, 4]), f32([10, 20, 30, 40])],
  }));
  assert.equal(res.id, 'req-1');
  assert.equal(res.modelVersion, '1');
  const byName = new Map(res.outputs.map((o, i) => [o.name, readF32(res.rawOutputContents[i]!)]));
  assert.deepEqual(byName.get('OUTPUT0'), [11, 22, 33, 44]);
  assert.deepEqual(byName.get('OUTPUT1'), [-9, -18, -27, -36]);
});
