/**
 * @module test/unsupported-config
 * Config fields the embedded server cannot serve as Triton does fail that model's load with an
 * UNSUPPORTED reason naming the field, over real gRPC: the model is not ready, RepositoryIndex
 * shows why, and the other models keep serving. Triton 2.51 (python backend) loads every one of
 * these models; this server refuses rather than serve them with other semantics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addSubModel, identityModel } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

const head = (name: string) => `name: "${name}"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

/** Model name → the field its config sets and the reason must name. */
const REFUSED: Record<string, { extra: string; field: RegExp }> = {
  iterative: { extra: 'sequence_batching { iterative_sequence: true }', field: /'sequence_batching \{ iterative_sequence: true \}'/ },
  decoupled: { extra: 'model_transaction_policy { decoupled: true }', field: /'model_transaction_policy \{ decoupled: true \}'/ },
  batch_in: {
    extra: 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "COUNT" data_type: TYPE_FP32 source_input: "INPUT0" } ]',
    field: /'batch_input'/,
  },
  batch_out: {
    extra: 'batch_output [ { target_name: "OUTPUT0" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "INPUT0" } ]',
    field: /'batch_output'/,
  },
  openvino: {
    extra: 'optimization { execution_accelerators { cpu_execution_accelerator [ { name: "openvino" } ] } }',
    field: /'optimization\.execution_accelerators\.cpu_execution_accelerator'/,
  },
};

let t: TestServer;

before(async () => {
  t = await startTestServer({
    ...Object.fromEntries(Object.entries(REFUSED).map(([name, { extra }]) => [name, { config: head(name) + extra, versions: { 1: addSubModel() } }])),
    ragged: {
      config: `name: "ragged"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] allow_ragged_batch: true } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { }`,
      versions: { 1: identityModel('FP32', { batch: true, dims: [-1] }) },
    },
    // Accepted: Triton serves it uncached unless started with --cache-config, which this server has not.
    cached: { config: `${head('cached')}response_cache { enable: true }\noptimization { graph { level: 1 } }`, versions: { 1: addSubModel() } },
    plain: { config: head('plain'), versions: { 1: addSubModel() } },
  });
});
after(() => t.close());

const addSub = (model: string) =>
  t.call(
    'modelInfer',
    inferRequest({
      modelName: model,
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined })),
      rawInputContents: [f32([1, 2, 3, 4]), f32([1, 1, 1, 1])],
    }),
  );

describe('unsupported config fields', () => {
  it('fail only their own model, with a reason naming the field', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const refused = { ...REFUSED, ragged: { extra: '', field: /'allow_ragged_batch' on input 'INPUT0'/ } };
    for (const [name, { field }] of Object.entries(refused)) {
      const entry = index.models.find((m) => m.name === name);
      assert.equal(entry?.state, 'UNAVAILABLE', `${name}: ${JSON.stringify(entry)}`);
      assert.match(entry.reason, /UNSUPPORTED: model '\w+' sets /, name);
      assert.match(entry.reason, field, name);
      // Triton answers OK with ready=false for a model that failed to load; until the handlers
      // do too, an error counts as "not ready" here.
      const ready = await t.call('modelReady', { name, version: '' }).then(
        (r) => r.ready,
        () => false,
      );
      assert.equal(ready, false, name);
      await assert.rejects(addSub(name), name);
    }
    for (const name of ['plain', 'cached']) {
      assert.equal(index.models.find((m) => m.name === name)?.state, 'READY', name);
      const res = await addSub(name);
      assert.deepEqual(readF32(res.rawOutputContents[0]!), [2, 3, 4, 5], name);
    }
  });
});
