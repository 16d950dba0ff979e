/**
 * @module scheduler/execute-batch.test
 * One batch on a real ONNX Runtime instance: inputs joined along the batch dimension, each
 * request given back its own rows of the outputs it asked for, config reshapes applied both
 * ways, statistics recorded, and failures answered as INTERNAL errors.
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addSubAnyWidthModel, context, InstanceFarm, job } from '../../test/fixtures/scheduler-harness.js';
import type { OnnxInstance } from '../backend/onnx-instance.js';
import { parseModelConfigText } from '../config/index.js';
import { InferenceServerError } from '../errors.js';
import type { Tensor } from '../tensors/tensor.js';
import { type BatchContext, executeBatch, type QueuedJob, reshapesOf } from './execute-batch.js';
import type { InferenceJob } from './types.js';

const farm = new InstanceFarm();
let instance: OnnxInstance;
before(async () => {
  instance = await farm.start(addSubAnyWidthModel());
});
after(() => farm.closeAll());

type Result = { outputs: ReadonlyMap<string, Tensor> } | { error: Error };

/** Runs `jobs` as one batch; resolves with what each request was given. */
async function run(jobs: InferenceJob[], ctx: BatchContext): Promise<Result[]> {
  const results: Result[] = [];
  const queued: QueuedJob[] = jobs.map((j, i) => ({
    job: j,
    enqueuedNs: process.hrtime.bigint(),
    resolve: (outputs) => (results[i] = { outputs }),
    reject: (error) => (results[i] = { error }),
  }));
  await executeBatch(instance, queued, ctx);
  return results;
}

/** A config whose tensors have dims [2, 2] and the given `reshape` (OUTPUT1 has none). */
function reshapingConfig(maxBatchSize: number, reshape: string) {
  const tensor = (name: string) => `{ name: "${name}" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: ${reshape} } }`;
  const text = `name: "m"\nbackend: "onnxruntime"\nmax_batch_size: ${maxBatchSize}
input [ ${tensor('INPUT0')}, ${tensor('INPUT1')} ]
output [ ${tensor('OUTPUT0')}, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]`;
  return parseModelConfigText(text, 'm/config.pbtxt');
}

const values = (t: Tensor | undefined) => Array.from(new Float32Array(Uint8Array.from(t!.raw).buffer));
const view = (r: Result) => {
  assert.ok('outputs' in r, `request failed: ${'error' in r ? r.error.message : ''}`);
  return Object.fromEntries([...r.outputs].map(([name, t]) => [name, { shape: t.shape, values: values(t) }]));
};

describe('executeBatch', () => {
  it('gives each request its own rows of the outputs it asked for, and records one execution', async () => {
    const ctx = context();
    const a = job(2, 5, { outputs: ['OUTPUT0'] });
    const b = job(1, 7, { outputs: ['OUTPUT1'] });
    const c = job(1, 9, { outputs: ['OUTPUT1', 'OUTPUT0'] });
    const [ra, rb, rc] = await run([a, b, c], ctx);
    assert.deepEqual(view(ra!), { OUTPUT0: { shape: [2, 4], values: Array(8).fill(6) } });
    assert.deepEqual(view(rb!), { OUTPUT1: { shape: [1, 4], values: Array(4).fill(6) } });
    assert.deepEqual(view(rc!), { OUTPUT1: { shape: [1, 4], values: Array(4).fill(8) }, OUTPUT0: { shape: [1, 4], values: Array(4).fill(10) } });
    const s = ctx.stats.snapshot();
    assert.equal(s.executionCount, 1n);
    assert.equal(s.inferenceCount, 4n); // rows, not requests
    assert.equal(s.inferenceStats!.queue!.count, 3n);
    assert.equal(s.inferenceStats!.computeInfer!.count, 3n);
    assert.deepEqual(s.batchStats.map((x) => [Number(x.batchSize), Number(x.computeInfer!.count)]), [[4, 1]]);
  });

  it("applies the config's reshape: request dims in and out, the backend's shape in between", async () => {
    // The request speaks [2, 2] per row, the model [4].
    const batched = reshapingConfig(8, '[ 4 ]');
    const ctx = { ...context(), inputReshapes: reshapesOf(batched.input), outputReshapes: reshapesOf(batched.output) };
    const square = (rows: number, value: number): InferenceJob => {
      const j = job(rows, value);
      return { ...j, inputs: new Map([...j.inputs].map(([n, t]) => [n, { ...t, shape: [rows, 2, 2] }])) };
    };
    const [r1, r2] = await run([square(1, 1), square(2, 2)], ctx);
    assert.deepEqual(view(r1!), { OUTPUT0: { shape: [1, 2, 2], values: [2, 2, 2, 2] } });
    assert.deepEqual(view(r2!), { OUTPUT0: { shape: [2, 2, 2], values: Array(8).fill(3) } });

    // Without batching the shapes are the whole tensor: [2, 2] in the request, [1, 4] in the model.
    const whole = reshapingConfig(0, '[ 1, 4 ]');
    const flat = { ...context(false), inputReshapes: reshapesOf(whole.input), outputReshapes: reshapesOf(whole.output) };
    const one = job(1, 4);
    const unbatched = { ...one, inputs: new Map([...one.inputs].map(([n, t]) => [n, { ...t, shape: [2, 2] }])) };
    const [r3] = await run([unbatched], flat);
    assert.deepEqual(view(r3!), { OUTPUT0: { shape: [2, 2], values: [5, 5, 5, 5] } });
    assert.deepEqual(flat.stats.snapshot().batchStats.map((x) => Number(x.batchSize)), [1]);
  });

  it('refuses an output whose batch dimension does not match the rows sent', async () => {
    const ctx = context();
    // COLLAPSED is [1, w] whatever the batch: right for one row, wrong for three.
    const [one] = await run([job(1, 3, { outputs: ['COLLAPSED'] })], ctx);
    assert.deepEqual(view(one!), { COLLAPSED: { shape: [1, 4], values: [3, 3, 3, 3] } });
    const results = await run([job(1, 3, { outputs: ['COLLAPSED'] }), job(2, 3)], ctx);
    for (const r of results) {
      assert.ok('error' in r);
      assert.ok(r.error instanceof InferenceServerError);
      assert.equal(r.error.code, status.INTERNAL);
      assert.equal(r.error.message, "output 'COLLAPSED' has batch dimension 1, expected 3");
    }
    assert.equal(ctx.stats.snapshot().executionCount, 1n, 'a failed batch is not an execution');
  });

  it("answers the backend's own failure as INTERNAL with its message", async () => {
    const ctx = context();
    const results = await run([job(1, 1, { inputs: ['INPUT0'] })], ctx);
    const r = results[0]!;
    assert.ok('error' in r && r.error instanceof InferenceServerError);
    assert.equal(r.error.code, status.INTERNAL);
    assert.match(r.error.message, /input 'INPUT1' is missing in 'feeds'/);
    // Queue time is recorded for every request, whatever became of it.
    assert.equal(ctx.stats.snapshot().inferenceStats!.queue!.count, 1n);
  });

  it('concatenates the inputs in request order', async () => {
    const ctx = context();
    const rows = [job(1, 1), job(3, 2), job(1, 3)];
    const results = await run(rows, ctx);
    assert.deepEqual(results.map((r) => values(('outputs' in r ? r.outputs : new Map()).get('OUTPUT0'))), [
      Array(4).fill(2),
      Array(12).fill(3),
      Array(4).fill(4),
    ]);
  });
});
