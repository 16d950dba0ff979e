/**
 * @module scheduler/dynamic-batcher.test
 * The dynamic batcher's scheduling work grows with the requests it handles, not with the
 * length of its queue: a 16k-request burst behind a busy instance, on a real ONNX Runtime
 * instance, counted through {@link DynamicBatcher.entryVisits} rather than timed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addSubModel } from '../../test/fixtures/models.js';
import { OnnxInstance } from '../backend/onnx-instance.js';
import { normaliseModelConfig, parseModelConfigText } from '../config/index.js';
import { ModelStats } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';
import { DynamicBatcher } from './dynamic-batcher.js';
import type { InferenceJob } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'dynamic-batcher-'));
let instance: OnnxInstance;

before(async () => {
  const modelPath = join(dir, 'model.onnx');
  writeFileSync(modelPath, addSubModel());
  instance = await OnnxInstance.start('add_sub_0', { modelPath, intraOpThreads: 1, executionProviders: ['cpu'] });
});
after(async () => {
  await instance.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A batcher over the one instance, configured by a `dynamic_batching { ... }` body. */
function batcherWith(batching: string): { batcher: DynamicBatcher; stats: ModelStats } {
  const text = `name: "add_sub"\nbackend: "onnxruntime"\nmax_batch_size: 32\ndynamic_batching { ${batching} }`;
  const config = normaliseModelConfig(parseModelConfigText(text, 'add_sub/config.pbtxt'), 'add_sub');
  const stats = new ModelStats('add_sub', '1');
  const ctx = { batching: true, inputReshapes: new Map(), outputReshapes: new Map(), stats };
  return { batcher: new DynamicBatcher([instance], config.maxBatchSize, config.dynamicBatching!, ctx), stats };
}

const f32 = (rows: number, value: number): Tensor => ({
  datatype: 'FP32',
  shape: [rows, 4],
  raw: new Uint8Array(new Float32Array(rows * 4).fill(value).buffer),
});

const job = (rows: number, value: number, priority = 0): InferenceJob => ({
  inputs: new Map([
    ['INPUT0', f32(rows, value)],
    ['INPUT1', f32(rows, 1)],
  ]),
  batchSize: rows,
  outputNames: ['OUTPUT0'],
  priority,
  timeoutUs: 0,
});

const batchCounts = (stats: ModelStats) => stats.snapshot().batchStats.map((b) => [Number(b.batchSize), Number(b.computeInfer!.count)]);

const firstValue = (outputs: ReadonlyMap<string, Tensor>) => new Float32Array(Uint8Array.from(outputs.get('OUTPUT0')!.raw).buffer)[0];

/**
 * Sends a 32-row request (a full batch: it runs at once and keeps the instance busy), then
 * `count` one-row requests in one synchronous loop, so all of them queue behind it. Returns the
 * batcher's entry visits after the loop and after every request was answered.
 */
async function burst(batcher: DynamicBatcher, count: number) {
  const blocker = batcher.infer(job(32, -1));
  const answers: Promise<number | undefined>[] = [];
  for (let i = 0; i < count; i++) answers.push(batcher.infer(job(1, i)).then(firstValue));
  const queuedVisits = batcher.entryVisits;
  await blocker;
  const values = await Promise.all(answers);
  values.forEach((v, i) => assert.equal(v, i + 1, `request ${i} got another request's answer`));
  return { queuedVisits, totalVisits: batcher.entryVisits };
}

const REQUESTS = 16_384;

describe('dynamic batcher work', () => {
  it(`looks at each of ${REQUESTS} queued requests a bounded number of times`, async () => {
    // food_classifier's batching, with queue timeouts (a heap) and two priority levels.
    const { batcher, stats } = batcherWith(`preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000
      priority_levels: 2 default_priority_level: 2
      default_queue_policy { default_timeout_microseconds: 600000000 }`);
    const { queuedVisits, totalVisits } = await burst(batcher, REQUESTS);
    // Behind a busy instance an arrival forms no batch: the blocker's own pass is all.
    assert.ok(queuedVisits <= 2, `queueing ${REQUESTS} requests visited ${queuedVisits} entries`);
    // Each request is looked at once when its batch forms and once when it is taken; the
    // old scan of the whole queue per arrival made this about REQUESTS² (≈ 2.7e8).
    assert.ok(totalVisits <= 3 * REQUESTS, `${REQUESTS} requests took ${totalVisits} entry visits`);
    // Once the delay has passed, every batch is full (Triton sends all pending up to max_batch_size).
    assert.deepEqual(batchCounts(stats), [[32, 1 + REQUESTS / 32]]);
  });
});

describe('dynamic batcher pending batch', () => {
  it('takes in a request that arrives at a higher priority level than the batch being formed', async () => {
    // Kept between passes, the pending batch resumes after its last request; a level-1 arrival
    // lands before it and must restart it, or it would wait out the delay on its own.
    const { batcher, stats } = batcherWith(`preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 3000000
      priority_levels: 2 default_priority_level: 2`);
    const low = [batcher.infer(job(1, 1)), batcher.infer(job(1, 2))];
    await new Promise((resolve) => setImmediate(resolve));
    const high = batcher.infer(job(1, 3, 1));
    assert.deepEqual((await Promise.all([...low, high])).map(firstValue), [2, 3, 4]);
    assert.deepEqual(batchCounts(stats), [[3, 1]]);
  });
});
