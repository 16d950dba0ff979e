/**
 * @module scheduler/default-scheduler.test
 * Triton's default scheduler on real ONNX Runtime instances: one request per execution, in
 * arrival order, on whichever instance is free; cancelled requests run too; draining. Judged
 * by recorded batch sizes and the order answers arrive in, with requests sent in one
 * synchronous pass.
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { batchCounts, context, InstanceFarm, job, schedulerTest, SettleLog, SLOW_FEATURES, startSchedulerInstances } from '../../test/fixtures/scheduler-harness.js';
import type { OnnxInstance } from '../backend/onnx-instance.js';
import { DefaultScheduler } from './default-scheduler.js';

const farm = new InstanceFarm();
let fast: OnnxInstance;
let slow: OnnxInstance[];
before(async () => ({ fast, slow } = await startSchedulerInstances(farm)));
after(() => farm.closeAll());
const test = schedulerTest;

describe('default scheduler', () => {
  test('runs each request as its own execution, in arrival order', async () => {
    const ctx = context();
    const scheduler = new DefaultScheduler([fast], ctx);
    const log = new SettleLog();
    const all = [1, 2, 3, 4, 5].map((i) => log.track(`r${i}`, scheduler.infer(job(i === 3 ? 3 : 1, i))));
    await Promise.all(all);
    assert.deepEqual(log.order, ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.deepEqual([...log.outcomes.values()].map((o) => o.ok && o.value), [2, 3, 4, 5, 6]);
    // A request's rows make its batch size; nothing is batched together.
    assert.deepEqual(batchCounts(ctx.stats), [[1, 4], [3, 1]]);
    assert.equal(ctx.stats.snapshot().inferenceStats!.queue!.count, 5n);
  });

  test('runs requests side by side, one per free instance', async () => {
    // A 32-row request and then a 1-row one: on two instances the 1-row answer comes first,
    // long before the 32-row execution ends; a third request waits for a free instance.
    const scheduler = new DefaultScheduler(slow, context());
    const slowJob = (rows: number) => job(rows, 0.1, { inputs: ['INPUT0'], width: SLOW_FEATURES });
    const log = new SettleLog();
    await Promise.all([
      log.track('heavy', scheduler.infer(slowJob(32))),
      log.track('light', scheduler.infer(slowJob(1))),
      log.track('third', scheduler.infer(slowJob(1))),
    ]);
    assert.deepEqual(log.order, ['light', 'third', 'heavy']);
  });

  test('runs a request cancelled while queued anyway, as Triton without dynamic batching does', async () => {
    // Triton hands such requests straight to its rate limiter, which never looks at
    // cancellation (checked on tritonserver 2.51 by test/cancellation.test.ts).
    const ctx = context();
    const scheduler = new DefaultScheduler([fast], ctx);
    const controller = new AbortController();
    const answers = [scheduler.infer(job(1, 1)), scheduler.infer({ ...job(1, 2), signal: controller.signal })];
    controller.abort();
    const [, cancelled] = await Promise.all(answers);
    assert.equal(cancelled!.size, 1);
    assert.deepEqual(batchCounts(ctx.stats), [[1, 2]]);
  });

  test('drain refuses new requests and resolves once queued and running ones are answered', async () => {
    const scheduler = new DefaultScheduler([fast], context());
    await scheduler.drain(); // nothing to wait for
    const busy = new DefaultScheduler([fast], context());
    const log = new SettleLog();
    const all = [1, 2, 3].map((i) => log.track(`r${i}`, busy.infer(job(1, i))));
    const drained = busy.drain().then(() => log.mark('drained'));
    all.push(log.track('refused', busy.infer(job(1, 9))));
    await Promise.all([...all, drained]);
    assert.deepEqual(log.outcomes.get('refused'), { ok: false, code: status.UNAVAILABLE, message: 'Server is shutting down' });
    assert.deepEqual(log.order, ['refused', 'r1', 'r2', 'r3', 'drained']);
    await assert.rejects(scheduler.infer(job(1, 1)), /Server is shutting down/);
  });
});
