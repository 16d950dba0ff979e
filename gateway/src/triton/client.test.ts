/**
 * TritonClient's control calls and call reporting against the embedded model server over real
 * gRPC (the committed models, the food models loaded, the ensemble not): readiness answers for
 * up, unknown and unreachable, ModelConfig and RepositoryIndex, what onCall hears for unary and
 * streamed calls that succeed, are refused or run out of time, and close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type RunningModelServer } from '../../../modelserver/src/index.js';
import { REPOSITORY } from '../../test/helpers.js';
import { GatewayError } from '../errors/index.js';
import { float32View, type ModelCallFailure, type RawTensor, TritonClient } from './client.js';

let server: RunningModelServer;
let client: TritonClient;
const calls: Array<{ model: string; seconds: number; failure?: ModelCallFailure }> = [];

before(async () => {
  server = await startModelServer({
    modelRepository: REPOSITORY,
    grpcPort: 0,
    host: '127.0.0.1',
    log: () => {},
    modelControlMode: 'explicit',
    loadModels: ['food_classifier'],
  });
  client = new TritonClient(server.address, { onCall: (model, seconds, failure) => calls.push({ model, seconds, ...(failure ? { failure } : {}) }) });
});
after(async () => {
  client.close();
  await server.stop();
});

const later = () => Date.now() + 10_000;
/** An address nothing listens on: a server started and stopped. */
async function deadAddress(): Promise<string> {
  const s = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {}, modelControlMode: 'explicit', loadModels: [] });
  await s.stop();
  return s.address;
}
const pixels = (): Record<string, RawTensor> => ({
  pixel_values: { datatype: 'FP32', shape: [1, 3, 64, 64], raw: new Uint8Array(new Float32Array(3 * 64 * 64).fill(0.25).buffer) },
});

describe('TritonClient control calls', () => {
  it('serverReady and modelReady: true when up and loaded, false for an unknown model and for no server', async () => {
    assert.equal(await client.serverReady(later()), true);
    assert.equal(await client.modelReady('food_classifier', later()), true);
    assert.equal(await client.modelReady('caption_encoder', later()), false, 'in the repository, not loaded');
    assert.equal(await client.modelReady('no_such_model', later()), false);
    const dead = new TritonClient(await deadAddress());
    try {
      assert.equal(await dead.serverReady(Date.now() + 2000), false);
      assert.equal(await dead.modelReady('food_classifier', Date.now() + 2000), false);
    } finally {
      dead.close();
    }
  });

  it("modelConfig gives the model's config; an unknown model is GW_ERR_TRITON_REJECTED naming it", async () => {
    const config = await client.modelConfig('food_classifier', later());
    assert.deepEqual([config.name, config.maxBatchSize, config.output.map((o) => o.name)], ['food_classifier', config.maxBatchSize, ['probabilities', 'embedding']]);
    assert.ok(config.maxBatchSize > 0);
    await assert.rejects(client.modelConfig('no_such_model', later()), (e: GatewayError) => e.code === 'GW_ERR_TRITON_REJECTED' && e.detail.startsWith("ModelConfig 'no_such_model': "));
  });

  it('repositoryIndex lists every model of the repository with its state', async () => {
    const index = await client.repositoryIndex(later());
    const state = Object.fromEntries(index.map((m) => [m.name, m.state]));
    assert.equal(state['food_classifier'], 'READY');
    for (const m of ['caption_encoder', 'caption_decoder', 'food_caption']) assert.ok(m in state && state[m] !== 'READY', `${m}: ${state[m]}`);
  });
});

describe('TritonClient call reporting (onCall)', () => {
  it('reports each successful call once, unary or streamed, with its model and a duration in seconds', async () => {
    calls.length = 0;
    const unary = await client.infer('food_classifier', pixels(), { deadline: later() });
    const streamed = await client.inferStreamed('food_classifier', pixels(), { deadline: later() });
    assert.deepEqual([...unary.keys()].sort(), ['embedding', 'probabilities']);
    assert.deepEqual(Array.from(float32View(streamed.get('probabilities')!.raw)), Array.from(float32View(unary.get('probabilities')!.raw)));
    assert.deepEqual(calls.map((c) => [c.model, c.failure]), [['food_classifier', undefined], ['food_classifier', undefined]]);
    // Seconds, not milliseconds: a call on loopback takes well under ten seconds and over a microsecond.
    for (const c of calls) assert.ok(c.seconds > 1e-6 && c.seconds < 10, String(c.seconds));
  });

  it('a refusal on the stream is reported once, by the unary call that names its gRPC status', async () => {
    calls.length = 0;
    // A model of the repository that is not loaded: Triton refuses it as an unknown model.
    await assert.rejects(client.inferStreamed('caption_encoder', pixels(), { deadline: later() }), (e: GatewayError) => e.code === 'GW_ERR_TRITON_REJECTED');
    assert.deepEqual(calls.map((c) => [c.model, c.failure]), [['caption_encoder', { grpcCode: 'NOT_FOUND', code: 'GW_ERR_TRITON_REJECTED' }]]);
  });

  it('a streamed call out of time is reported as DEADLINE_EXCEEDED', async () => {
    calls.length = 0;
    await assert.rejects(client.inferStreamed('food_classifier', pixels(), { deadline: Date.now() - 1 }), (e: GatewayError) => e.code === 'GW_ERR_TRITON_DEADLINE');
    assert.deepEqual(calls.map((c) => c.failure), [{ grpcCode: 'DEADLINE_EXCEEDED', code: 'GW_ERR_TRITON_DEADLINE' }]);
  });

  it('close fails what waits on a stream and every later call as UNAVAILABLE', async () => {
    const own = new TritonClient(server.address);
    await own.inferStreamed('food_classifier', pixels(), { deadline: later() });
    const waiting = own.inferStreamed('food_classifier', pixels(), { deadline: later() });
    own.close();
    await assert.rejects(waiting, (e: GatewayError) => e.code === 'GW_ERR_TRITON_UNAVAILABLE' && e.detail === "ModelStreamInfer 'food_classifier': client closed");
    await assert.rejects(own.infer('food_classifier', pixels(), { deadline: later() }), (e: GatewayError) => e.code === 'GW_ERR_TRITON_UNAVAILABLE' && e.detail === "ModelInfer 'food_classifier': Channel has been shut down");
    await assert.rejects(own.inferStreamed('food_classifier', pixels(), { deadline: later() }), (e: GatewayError) => e.code === 'GW_ERR_TRITON_UNAVAILABLE' && e.detail === "ModelStreamInfer 'food_classifier': client closed");
  });
});

describe('float32View', () => {
  it('views aligned bytes in place and copies unaligned ones', () => {
    const values = Float32Array.from([1.5, -2, 3.25]);
    const aligned = new Uint8Array(values.buffer);
    const view = float32View(aligned);
    assert.deepEqual(Array.from(view), [1.5, -2, 3.25]);
    assert.equal(view.buffer, values.buffer, 'no copy');
    const shifted = new Uint8Array(13);
    shifted.set(aligned, 1);
    const copy = float32View(shifted.subarray(1));
    assert.deepEqual(Array.from(copy), [1.5, -2, 3.25]);
    assert.notEqual(copy.buffer, shifted.buffer);
  });
});
