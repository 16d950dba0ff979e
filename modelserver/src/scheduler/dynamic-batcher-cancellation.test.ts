/**
 * @module scheduler/dynamic-batcher-cancellation.test
 * Cancelled requests in the dynamic batcher, on real ONNX Runtime instances, as tritonserver 2.51
 * handles them (core scheduler_utils.cc PolicyQueue::ApplyPolicy; test/cancellation.test.ts
 * checks the same over gRPC on both servers): a request cancelled while queued is dropped,
 * answered CANCELLED and never executed; until batch forming reaches it, it keeps its place in
 * the queue. One the pending batch has already taken in is dropped only when that batch is
 * formed again: at once without queue timeouts, not before its closest member timeout with them
 * (PriorityQueue::IsCursorValid). Judged by recorded batch sizes and outcomes; requests sent and cancelled in one
 * synchronous pass are all queued behind the busy instance (its answer cannot be handled before
 * the pass ends).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe } from 'node:test';
import {
  batchCounts,
  context,
  dynamicBatching,
  InstanceFarm,
  job,
  schedulerTest,
  SettleLog,
  spin,
  startSchedulerInstances,
} from '../../test/fixtures/scheduler-harness.js';
import type { OnnxInstance } from '../backend/onnx-instance.js';
import { DynamicBatcher } from './dynamic-batcher.js';
import type { InferenceJob } from './types.js';

const farm = new InstanceFarm();
let fast: OnnxInstance;
before(async () => ({ fast } = await startSchedulerInstances(farm)));
after(() => farm.closeAll());
const test = schedulerTest;

function batcherOf(body: string, maxBatchSize: number) {
  const ctx = context();
  return { batcher: new DynamicBatcher([fast], maxBatchSize, dynamicBatching(body, maxBatchSize), ctx), stats: ctx.stats };
}

/** `base` with a signal of its own, and the controller that cancels it. */
function cancellable(base: InferenceJob): { job: InferenceJob; controller: AbortController } {
  const controller = new AbortController();
  return { job: { ...base, signal: controller.signal }, controller };
}

const CANCELLED = { ok: false, code: status.CANCELLED, message: '' };
const queueCount = (b: ReturnType<typeof batcherOf>) => b.stats.snapshot().inferenceStats!.queue!.count;

describe('dynamic batcher: cancelled requests', () => {
  test('a request cancelled behind a busy instance is left out of the next batch and answered CANCELLED', async () => {
    const b = batcherOf('', 8);
    const log = new SettleLog();
    const gone = cancellable(job(1, 2));
    const all = [
      log.track('blocker', b.batcher.infer(job(8, -1))),
      log.track('a', b.batcher.infer(job(1, 1))),
      log.track('gone', b.batcher.infer(gone.job)),
      log.track('c', b.batcher.infer(job(1, 3))),
    ];
    gone.controller.abort();
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('gone'), CANCELLED);
    assert.deepEqual([log.outcomes.get('a'), log.outcomes.get('c')], [{ ok: true, value: 2 }, { ok: true, value: 4 }]);
    // a and c shared one batch; the cancelled request was never executed nor counted as queued.
    assert.deepEqual(batchCounts(b.stats), [[2, 1], [8, 1]]);
    assert.equal(queueCount(b), 3n);
    // Dropped once the instance came free (as the blocker was answered), before a and c ran.
    assert.deepEqual(log.order, ['blocker', 'gone', 'a', 'c']);
  });

  test('a request cancelled before it arrives is dropped at once on an idle instance', async () => {
    const b = batcherOf('', 8);
    const gone = cancellable(job(1, 1));
    gone.controller.abort();
    await assert.rejects(b.batcher.infer(gone.job), (err: Error & { code?: number }) => err.code === status.CANCELLED);
    assert.deepEqual(batchCounts(b.stats), []);
    await b.batcher.drain(); // nothing left queued
  });

  test('a cancelled request keeps its place against max_queue_size until batch forming reaches it', async () => {
    const b = batcherOf('default_queue_policy { max_queue_size: 1 }', 1);
    const log = new SettleLog();
    const gone = cancellable(job(1, 1));
    const all = [log.track('blocker', b.batcher.infer(job(1, -1))), log.track('gone', b.batcher.infer(gone.job))];
    gone.controller.abort();
    // As in Triton: the cancelled request still fills the queue while the instance is busy.
    all.push(log.track('over', b.batcher.infer(job(1, 2))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('over'), { ok: false, code: status.UNAVAILABLE, message: 'Exceeds maximum queue size' });
    assert.deepEqual(log.outcomes.get('gone'), CANCELLED);
    // Dropped once the instance came free; then the queue has room again.
    assert.deepEqual(log.order, ['over', 'blocker', 'gone']);
    await log.track('later', b.batcher.infer(job(1, 3)));
    assert.deepEqual(log.outcomes.get('later'), { ok: true, value: 4 });
  });

  test('cancelling a request the pending batch has taken in forms that batch again', async () => {
    // batching-triton's scenario on tritonserver: a and b wait for a preferred size of 3 (the
    // 10 s delay never runs out); a is cancelled, c and d arrive: b, c and d go together.
    const b = batcherOf('preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 10000000', 8);
    const log = new SettleLog();
    const gone = cancellable(job(1, 1));
    const all = [log.track('gone', b.batcher.infer(gone.job)), log.track('b', b.batcher.infer(job(1, 2)))];
    gone.controller.abort();
    all.push(log.track('c', b.batcher.infer(job(1, 3))), log.track('d', b.batcher.infer(job(1, 4))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('gone'), CANCELLED);
    // Kept as it was, the batch {gone, b, c} would have reached 3 and run a cancelled request.
    assert.deepEqual(batchCounts(b.stats), [[3, 1]]);
    assert.deepEqual(log.order, ['gone', 'b', 'c', 'd']);
  });

  // Triton keeps its pending-batch cursor while now < the closest queue timeout of the batch's
  // members (scheduler_utils.cc PriorityQueue::IsCursorValid) and only checks cancellation where
  // the cursor walks (PolicyQueue::ApplyPolicy): a member cancelled meanwhile runs.
  for (const [what, policy, timeoutUs] of [
    ['default_timeout_microseconds', 'default_timeout_microseconds: 20000000', 0],
    ['a request timeout under allow_timeout_override', 'default_timeout_microseconds: 60000000 allow_timeout_override: true', 15_000_000],
  ] as const) {
    test(`while a member has a queue timeout (${what}), a member cancelled after the pending batch took it in runs`, async () => {
      const b = batcherOf(`preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 10000000 default_queue_policy { ${policy} }`, 8);
      const log = new SettleLog();
      const gone = cancellable(job(1, 1, { timeoutUs }));
      const all = [log.track('gone', b.batcher.infer(gone.job)), log.track('b', b.batcher.infer(job(1, 2)))];
      gone.controller.abort();
      all.push(log.track('c', b.batcher.infer(job(1, 3))));
      await Promise.all(all);
      // The batch {gone, b, c} was kept as it was: it reached 3 and ran the cancelled request.
      assert.deepEqual(log.outcomes.get('gone'), { ok: true, value: 2 });
      assert.deepEqual(batchCounts(b.stats), [[3, 1]]);
      assert.equal(queueCount(b), 3n);
    });
  }

  test('once the closest member timeout has passed, the pending batch is formed again without the cancelled member', async () => {
    // b's own timeout (20 ms) is the batch's closest; when it passes b is DELAYed behind the
    // others and the cursor is invalid: the walk from the head drops the cancelled request.
    const b = batcherOf(
      'preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 10000000 default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 20000000 allow_timeout_override: true }',
      8,
    );
    const log = new SettleLog();
    const gone = cancellable(job(1, 1));
    const all = [log.track('b', b.batcher.infer(job(1, 2, { timeoutUs: 20_000 }))), log.track('gone', b.batcher.infer(gone.job))];
    gone.controller.abort();
    spin(40);
    all.push(log.track('c', b.batcher.infer(job(1, 3))), log.track('d', b.batcher.infer(job(1, 4))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('gone'), CANCELLED);
    assert.deepEqual(batchCounts(b.stats), [[3, 1]]);
    assert.deepEqual(log.order, ['gone', 'c', 'd', 'b']);
  });

  test('cancelling after the request was sent changes nothing: it runs to the end', async () => {
    const b = batcherOf('', 8);
    const running = cancellable(job(8, 5));
    const answer = b.batcher.infer(running.job);
    running.controller.abort();
    assert.equal((await answer).size, 1);
    assert.deepEqual(batchCounts(b.stats), [[8, 1]]);
  });

  test("a request stops listening to its signal once it leaves the batcher, however it leaves", async () => {
    const b = batcherOf('default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 1000 }', 1);
    const [sent, expired] = [cancellable(job(1, 1)), cancellable(job(1, 2))];
    const log = new SettleLog();
    const all = [log.track('sent', b.batcher.infer(sent.job)), log.track('expired', b.batcher.infer(expired.job))];
    assert.equal(getEventListeners(expired.job.signal!, 'abort').length, 1);
    spin(10); // 'expired' times out in the queue
    await Promise.all(all);
    assert.equal(log.outcomes.get('expired')?.ok, false);
    for (const j of [sent, expired]) assert.equal(getEventListeners(j.job.signal!, 'abort').length, 0);
    const dropped = cancellable(job(1, 3));
    const blocker = b.batcher.infer(job(1, 4));
    const answer = b.batcher.infer(dropped.job).catch(() => undefined);
    dropped.controller.abort();
    await Promise.all([blocker, answer]);
    assert.equal(getEventListeners(dropped.job.signal!, 'abort').length, 0);
  });

  test('cancelled requests cost one visit each: work stays proportional to the requests', async () => {
    const b = batcherOf('preferred_batch_size: [ 8 ]', 8);
    const REQUESTS = 1024;
    const blocker = b.batcher.infer(job(8, -1));
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const c = cancellable(job(1, i));
      answers.push(b.batcher.infer(c.job).then(() => 'ok', () => 'cancelled'));
      if (i % 2 === 1) c.controller.abort();
    }
    await blocker;
    const outcomes = await Promise.all(answers);
    assert.equal(outcomes.filter((o) => o === 'cancelled').length, REQUESTS / 2);
    assert.deepEqual(batchCounts(b.stats), [[8, 1 + REQUESTS / 16]]);
    assert.ok(b.batcher.entryVisits <= 3 * REQUESTS, `${REQUESTS} requests took ${b.batcher.entryVisits} entry visits`);
  });
});
