/**
 * @module scheduler/dynamic-batcher.test
 * The dynamic batcher on real ONNX Runtime instances (kserve-v2-grpc.md §4.6, §4.8), judged by
 * what it did: the batch sizes its statistics recorded, which requests were answered or refused
 * and in what order. Nothing here races the clock: requests sent in one synchronous pass arrive
 * in that order behind a busy instance (its answer cannot be handled before the pass ends), and
 * where time must pass — a queue delay or timeout running out — the test holds the main thread
 * for several times that long ({@link spin}), so it has surely passed when the batcher next looks.
 * Delays that must not run out are 10 s, against tests that take milliseconds.
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import {
  batchCounts,
  context,
  dynamicBatching,
  InstanceFarm,
  job,
  output0,
  schedulerTest,
  SettleLog,
  sleep,
  SLOW_FEATURES,
  spin,
  startSchedulerInstances,
} from '../../test/fixtures/scheduler-harness.js';
import type { OnnxInstance } from '../backend/onnx-instance.js';
import { DynamicBatcher } from './dynamic-batcher.js';

const farm = new InstanceFarm();
/** The add/sub model and two instances of the slow one (see startSchedulerInstances). */
let fast: OnnxInstance;
let slow: OnnxInstance[];
before(async () => ({ fast, slow } = await startSchedulerInstances(farm)));
after(() => farm.closeAll());
const test = schedulerTest;

const HOLD = 'max_queue_delay_microseconds: 10000000';

function batcherOf(body: string, maxBatchSize: number, options: { raw?: boolean; instances?: OnnxInstance[] } = {}) {
  const ctx = context();
  const config = dynamicBatching(body, maxBatchSize, options.raw);
  return { batcher: new DynamicBatcher(options.instances ?? [fast], maxBatchSize, config, ctx), stats: ctx.stats };
}

/** Sends a full batch of `rows` (it goes at once, on an idle instance, and keeps it busy). */
const blocker = (b: DynamicBatcher, log: SettleLog, rows: number, priority = 0) =>
  log.track('blocker', b.infer(job(rows, -1, { priority })));

const refused = (message: string) => ({ ok: false, code: status.UNAVAILABLE, message });

describe('dynamic batcher: batches formed while the queue delay runs', () => {
  test('stop at the largest preferred size the queue reaches', async () => {
    const { batcher, stats } = batcherOf(`preferred_batch_size: [ 2, 4 ] ${HOLD}`, 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    for (let i = 1; i <= 6; i++) all.push(log.track(`r${i}`, batcher.infer(job(1, i))));
    await Promise.all(all);
    // Six queued: 4 (not 6: no preferred size), then the 2 left (a preferred size).
    assert.deepEqual(batchCounts(stats), [[2, 1], [4, 1], [8, 1]]);
    assert.deepEqual(log.order, ['blocker', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    for (let i = 1; i <= 6; i++) assert.deepEqual(log.outcomes.get(`r${i}`), { ok: true, value: i + 1 });
  });

  test('reaching no preferred size, stop before passing the largest one', async () => {
    // batching-triton.test.ts's past_preferred scenario, small: 3-row requests against [4].
    const { batcher, stats } = batcherOf(`preferred_batch_size: [ 4 ] ${HOLD}`, 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    for (const [label, rows] of [['a', 3], ['b', 3], ['c', 3], ['d', 1]] as const) all.push(log.track(label, batcher.infer(job(rows, rows))));
    await Promise.all(all);
    // a alone (a+b = 6 passes 4), b alone (b+c+d = 7), then c+d = 4.
    assert.deepEqual(batchCounts(stats), [[3, 2], [4, 1], [8, 1]]);
    assert.deepEqual(log.order, ['blocker', 'a', 'b', 'c', 'd']);
  });

  test('a request whose non-batch dims differ closes the batch', async () => {
    const { batcher, stats } = batcherOf(HOLD, 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    all.push(log.track('n1', batcher.infer(job(1, 1))), log.track('n2', batcher.infer(job(1, 2))));
    all.push(log.track('wide', batcher.infer(job(1, 10, { width: 5 }))));
    for (let i = 0; i < 8; i++) all.push(log.track(`m${i}`, batcher.infer(job(1, 20 + i))));
    // Without the closing, n1 n2 would wait for six more of their shape, out to the 10 s delay.
    await Promise.all(all);
    assert.deepEqual(batchCounts(stats), [[1, 1], [2, 1], [8, 2]]);
    assert.deepEqual(log.order.slice(0, 4), ['blocker', 'n1', 'n2', 'wide']);
    assert.deepEqual(log.outcomes.get('wide'), { ok: true, value: 11 });
  });

  test('requests with other inputs or another rank never share a batch', async () => {
    const { batcher, stats } = batcherOf('', 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    const base = job(1, 1);
    const extra = { ...base, inputs: new Map([...base.inputs, ['EXTRA', base.inputs.get('INPUT0')!]]) };
    const rank3 = { ...base, inputs: new Map([...base.inputs].map(([n, t]) => [n, { ...t, shape: [1, 4, 1] }])) };
    const sends = [
      ['a1', job(1, 1)],
      ['extra', extra], // ONNX Runtime ignores an extra input: it runs, but as its own batch
      ['a2', job(1, 2)],
      ['renamed', job(1, 3, { inputs: ['INPUT0', 'INPUT9'] })],
      ['a3', job(1, 4)],
      ['rank3', rank3],
      ['a4', job(1, 5)],
    ] as const;
    for (const [label, j] of sends) all.push(log.track(label, batcher.infer(j)));
    await Promise.all(all);
    assert.deepEqual(batchCounts(stats), [[1, 5], [8, 1]]);
    assert.deepEqual(log.outcomes.get('a4'), { ok: true, value: 6 });
    assert.match((log.outcomes.get('renamed') as { message: string }).message, /input 'INPUT1' is missing/);
    assert.match((log.outcomes.get('rank3') as { message: string }).message, /Invalid rank for input/);
    assert.equal(log.outcomes.get('extra')?.ok, true);
  });

  test('with no queue delay, the largest preferred size reached goes, then whatever is left', async () => {
    // batching-triton.test.ts's no_delay scenario, small.
    const { batcher, stats } = batcherOf('preferred_batch_size: [ 2, 4 ]', 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    for (let i = 1; i <= 7; i++) all.push(log.track(`r${i}`, batcher.infer(job(1, i))));
    await Promise.all(all);
    assert.deepEqual(batchCounts(stats), [[1, 1], [2, 1], [4, 1], [8, 1]]);
  });

  test('a raw config without preferred sizes batches up to max_batch_size', async () => {
    // Normalisation fills in [max_batch_size]; the batcher does the same for a config that skipped it.
    const { batcher, stats } = batcherOf(HOLD, 4, { raw: true });
    const answers = [1, 2, 3, 4].map((v) => batcher.infer(job(1, v)));
    assert.deepEqual((await Promise.all(answers)).map((o) => output0(o)[0]), [2, 3, 4, 5]);
    assert.deepEqual(batchCounts(stats), [[4, 1]]);
  });

  test('a request arriving at a higher priority level than the batch being formed restarts it', async () => {
    // Kept between passes, the pending batch resumes after its last request; a level-1 arrival
    // lands before it and must restart it, or it would wait out the delay on its own.
    const { batcher, stats } = batcherOf(`preferred_batch_size: [ 3 ] ${HOLD} priority_levels: 2 default_priority_level: 2`, 32);
    const low = [batcher.infer(job(1, 1)), batcher.infer(job(1, 2))];
    await new Promise((resolve) => setImmediate(resolve));
    const high = batcher.infer(job(1, 3, { priority: 1 }));
    assert.deepEqual((await Promise.all([...low, high])).map((o) => output0(o)[0]), [2, 3, 4]);
    assert.deepEqual(batchCounts(stats), [[3, 1]]);
  });
});

describe('dynamic batcher: when the queue delay runs out', () => {
  test('everything pending goes, up to max_batch_size, preferred sizes or not', async () => {
    // batching-triton.test.ts's delay_expired scenario, small.
    const { batcher, stats } = batcherOf('preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 2000', 8);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 8)];
    for (let i = 1; i <= 11; i++) all.push(log.track(`r${i}`, batcher.infer(job(1, i))));
    spin(10); // the 2 ms delay has run out when the blocker's answer is handled
    await Promise.all(all);
    assert.deepEqual(batchCounts(stats), [[3, 1], [8, 2]]);
  });

  test('a lone request waits out the delay, then goes; so does the next one', async () => {
    const { batcher, stats } = batcherOf('preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 20000', 4);
    for (const value of [1, 2]) {
      assert.deepEqual(output0(await batcher.infer(job(1, value))), Array(4).fill(value + 1));
    }
    const queue = stats.snapshot().inferenceStats!.queue!;
    assert.equal(queue.count, 2n);
    // Measured by the batcher's own clock: each request waited at least the 20 ms delay.
    assert.ok(queue.ns >= 40_000_000n, `queue time ${queue.ns} ns is under two 20 ms delays`);
    assert.deepEqual(batchCounts(stats), [[1, 2]]);
  });
});

describe('dynamic batcher: priority levels', () => {
  test('levels are served in order, requests of a level in arrival order', async () => {
    const { batcher } = batcherOf('priority_levels: 3 default_priority_level: 2', 1);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1, 1)];
    // 0 and a priority above priority_levels take the default level, as Triton's SetPriority does.
    for (const [label, priority] of [['p3', 3], ['p0', 0], ['p9', 9], ['p1', 1], ['p2', 2]] as const) {
      all.push(log.track(label, batcher.infer(job(1, priority, { priority }))));
    }
    await Promise.all(all);
    assert.deepEqual(log.order, ['blocker', 'p1', 'p0', 'p9', 'p2', 'p3']);
  });

  test('without default_priority_level (a raw config), the lowest level is the default', async () => {
    const { batcher } = batcherOf('priority_levels: 2', 1, { raw: true });
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1, 1), log.track('default', batcher.infer(job(1, 1))), log.track('p1', batcher.infer(job(1, 2, { priority: 1 })))];
    await Promise.all(all);
    assert.deepEqual(log.order, ['blocker', 'p1', 'default']);
  });

  test("each level's queue policy limits its own queue", async () => {
    const { batcher } = batcherOf(
      `priority_levels: 2 default_priority_level: 2
       priority_queue_policy { key: 1 value: { max_queue_size: 1 } }
       default_queue_policy { max_queue_size: 2 }`,
      1,
    );
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1)];
    for (const [label, priority] of [['h1', 1], ['h2', 1], ['l1', 2], ['l2', 2], ['l3', 2]] as const) {
      all.push(log.track(label, batcher.infer(job(1, 0, { priority }))));
    }
    await Promise.all(all);
    const full = refused('Exceeds maximum queue size');
    assert.deepEqual(log.outcomes.get('h2'), full);
    assert.deepEqual(log.outcomes.get('l3'), full);
    assert.deepEqual(log.order.slice(0, 2), ['h2', 'l3']);
    assert.deepEqual(log.order.slice(2), ['blocker', 'h1', 'l1', 'l2']);
  });
});

describe('dynamic batcher: queue policies', () => {
  test('REJECT refuses requests whose timeout passed in the queue; the rest and drain carry on', async () => {
    const { batcher, stats } = batcherOf('default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 1000 }', 1);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1), log.track('a', batcher.infer(job(1, 1))), log.track('b', batcher.infer(job(1, 2)))];
    spin(10);
    await Promise.all(all);
    const expired = refused('Request timeout expired');
    assert.deepEqual([log.outcomes.get('a'), log.outcomes.get('b')], [expired, expired]);
    assert.deepEqual(batchCounts(stats), [[1, 1]]);
    // The refused requests left the queue: a new one is served, and drain finds nothing waiting.
    assert.deepEqual(output0(await batcher.infer(job(1, 3))), [4, 4, 4, 4]);
    await batcher.drain();
  });

  test('a request may lower the timeout where allow_timeout_override permits, never raise it', async () => {
    const lowered = batcherOf('default_queue_policy { default_timeout_microseconds: 10000000 allow_timeout_override: true }', 1);
    let log = new SettleLog();
    let all = [
      blocker(lowered.batcher, log, 1),
      log.track('lowered', lowered.batcher.infer(job(1, 1, { timeoutUs: 1000 }))),
      log.track('none', lowered.batcher.infer(job(1, 2))),
      log.track('raised', lowered.batcher.infer(job(1, 3, { timeoutUs: 20_000_000 }))),
    ];
    spin(10);
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('lowered'), refused('Request timeout expired'));
    assert.deepEqual([log.outcomes.get('none'), log.outcomes.get('raised')], [{ ok: true, value: 3 }, { ok: true, value: 4 }]);

    // The default applies to a request that gives no timeout.
    const short = batcherOf('default_queue_policy { default_timeout_microseconds: 2000 allow_timeout_override: true }', 1);
    log = new SettleLog();
    all = [blocker(short.batcher, log, 1), log.track('none', short.batcher.infer(job(1, 2)))];
    spin(10);
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('none'), refused('Request timeout expired'));

    // Without allow_timeout_override, and with no default timeout to lower, a request's timeout is ignored.
    for (const policy of ['default_timeout_microseconds: 10000000', 'allow_timeout_override: true']) {
      const { batcher } = batcherOf(`default_queue_policy { ${policy} }`, 1);
      log = new SettleLog();
      all = [blocker(batcher, log, 1), log.track('ignored', batcher.infer(job(1, 5, { timeoutUs: 1000 })))];
      spin(10);
      await Promise.all(all);
      assert.deepEqual(log.outcomes.get('ignored'), { ok: true, value: 6 }, policy);
    }
  });

  test("DELAY moves a timed-out request behind its level's others, where it still counts against max_queue_size", async () => {
    const { batcher } = batcherOf(
      `priority_levels: 2 default_priority_level: 2
       priority_queue_policy { key: 2 value: { timeout_action: DELAY default_timeout_microseconds: 10000000 allow_timeout_override: true max_queue_size: 3 } }`,
      1,
    );
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1)];
    all.push(log.track('late', batcher.infer(job(1, 1, { timeoutUs: 1000 }))), log.track('b', batcher.infer(job(1, 2))));
    spin(10);
    // A level-1 arrival makes the batcher look at the queue: 'late' has timed out and moves.
    all.push(log.track('x', batcher.infer(job(1, 3, { priority: 1 }))));
    all.push(log.track('d', batcher.infer(job(1, 4))));
    // Level 2 now holds b, d and (delayed) late: a fourth is one too many.
    all.push(log.track('over', batcher.infer(job(1, 5))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('over'), refused('Exceeds maximum queue size'));
    assert.deepEqual(log.order, ['over', 'blocker', 'x', 'b', 'd', 'late']);
    assert.deepEqual(log.outcomes.get('late'), { ok: true, value: 2 });
  });

  test('a request that times out while its batch forms leaves the batch', async () => {
    const { batcher, stats } = batcherOf(
      `preferred_batch_size: [ 2 ] ${HOLD} default_queue_policy { default_timeout_microseconds: 10000000 allow_timeout_override: true }`,
      2,
    );
    const log = new SettleLog();
    const all = [log.track('gone', batcher.infer(job(1, 1, { timeoutUs: 1000 })))];
    spin(10);
    all.push(log.track('b', batcher.infer(job(1, 2))));
    all.push(log.track('c', batcher.infer(job(1, 3))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('gone'), refused('Request timeout expired'));
    // b waited for c: the batch that had held 'gone' was formed again from what is queued.
    assert.deepEqual(batchCounts(stats), [[2, 1]]);
    assert.deepEqual(log.order, ['gone', 'b', 'c']);
  });

  test('a timeout still times out after the timeouts of many sent requests were cleared away', async () => {
    // 96 sent requests leave their (10 s) timeouts behind in the heap; once they outnumber the
    // waiting ones the heap is rebuilt, and the one waiting request's timeout must survive it.
    const { batcher, stats } = batcherOf(
      `preferred_batch_size: [ 32 ] ${HOLD} priority_levels: 2 default_priority_level: 2
       default_queue_policy { default_timeout_microseconds: 10000000 allow_timeout_override: true }`,
      32,
    );
    const log = new SettleLog();
    // Another width, at the lower level, behind every level-1 request: no batch takes it in.
    const all = [log.track('waiting', batcher.infer(job(1, 0, { width: 5, timeoutUs: 200_000 })))];
    for (let i = 0; i < 96; i++) all.push(log.track(`r${i}`, batcher.infer(job(1, i, { priority: 1 }))));
    await Promise.all(all);
    assert.deepEqual(log.outcomes.get('waiting'), refused('Request timeout expired'));
    // r0 alone (the first pass sees 'waiting' next to it and closes), then 32, 32 and 31.
    assert.deepEqual(batchCounts(stats), [[1, 1], [31, 1], [32, 2]]);
  });
});

describe('dynamic batcher: timers', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  test('an earlier deadline replaces a later timer', async () => {
    const { batcher, stats } = batcherOf(
      `preferred_batch_size: [ 3 ] ${HOLD} default_queue_policy { default_timeout_microseconds: 10000000 allow_timeout_override: true }`,
      3,
    );
    const log = new SettleLog();
    const all = [log.track('a', batcher.infer(job(1, 1))), log.track('short', batcher.infer(job(1, 2, { timeoutUs: 10_000 })))];
    // Timers fire in deadline order: a batcher that kept its 10 s timer would time 'short' out
    // only when the requests below arrive, after this mark.
    await sleep(150);
    log.mark('150 ms');
    all.push(log.track('c', batcher.infer(job(1, 3))), log.track('d', batcher.infer(job(1, 4))));
    await Promise.all(all);
    assert.deepEqual(log.order, ['short', '150 ms', 'a', 'c', 'd']);
    assert.deepEqual(batchCounts(stats), [[3, 1]]);
  });

  test('the timer goes once nothing is left to wait for', async () => {
    const { batcher } = batcherOf(`preferred_batch_size: [ 2 ] ${HOLD}`, 2);
    const before = timers();
    const a = batcher.infer(job(1, 1));
    assert.equal(timers(), before + 1, 'a lone request waits on a timer');
    const b = batcher.infer(job(1, 2));
    // Left armed, the 10 s timer would keep the process alive after both were answered.
    assert.equal(timers(), before);
    await Promise.all([a, b]);
  });
});

describe('dynamic batcher: preserve_ordering', () => {
  // A 32-row request on one slow instance and a 1-row request on the other, sent together:
  // the 1-row execution ends long before the 32-row one.
  const slowJob = (rows: number, width = SLOW_FEATURES) => job(rows, 0.1, { inputs: ['INPUT0'], width });

  async function order(preserve: boolean, light = slowJob(1)) {
    const { batcher } = batcherOf(`preserve_ordering: ${preserve}`, 32, { instances: slow });
    const log = new SettleLog();
    await Promise.all([log.track('heavy', batcher.infer(slowJob(32))), log.track('light', batcher.infer(light))]);
    return log;
  }

  test('without it, answers go out as executions end; with it, in arrival order', async () => {
    assert.deepEqual((await order(false)).order, ['light', 'heavy']);
    assert.deepEqual((await order(true)).order, ['heavy', 'light']);
  });

  test('with it, a failed request is answered in its turn too', async () => {
    const log = await order(true, slowJob(1, SLOW_FEATURES - 1));
    assert.deepEqual(log.order, ['heavy', 'light']);
    assert.equal(log.outcomes.get('light')?.ok, false);
  });
});

describe('dynamic batcher: drain', () => {
  test('refuses new requests and resolves once queued and running ones are answered', async () => {
    const { batcher } = batcherOf('', 1);
    const log = new SettleLog();
    const all = [blocker(batcher, log, 1)];
    for (let i = 1; i <= 3; i++) all.push(log.track(`r${i}`, batcher.infer(job(1, i))));
    const drained = batcher.drain().then(() => log.mark('drained'));
    all.push(log.track('refused', batcher.infer(job(1, 9))));
    await Promise.all([...all, drained]);
    assert.deepEqual(log.outcomes.get('refused'), refused('Server is shutting down'));
    assert.deepEqual(log.order, ['refused', 'blocker', 'r1', 'r2', 'r3', 'drained']);
  });
});

describe('dynamic batcher: work', () => {
  const REQUESTS = 4096;

  test(`looks at each of ${REQUESTS} queued requests a bounded number of times`, async () => {
    // food_classifier's batching, with queue timeouts (a heap) and two priority levels.
    const { batcher, stats } = batcherOf(
      `preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000
       priority_levels: 2 default_priority_level: 2
       default_queue_policy { default_timeout_microseconds: 600000000 }`,
      32,
    );
    const first = batcher.infer(job(32, -1));
    const answers: Promise<number>[] = [];
    for (let i = 0; i < REQUESTS; i++) answers.push(batcher.infer(job(1, i)).then((o) => output0(o)[0]!));
    const queuedVisits = batcher.entryVisits;
    spin(10); // the 2 ms delay has run out when the first batch's answer is handled
    await first;
    const values = await Promise.all(answers);
    values.forEach((v, i) => assert.equal(v, i + 1, `request ${i} got another request's answer`));
    // Behind a busy instance an arrival forms no batch: the first request's own pass is all.
    assert.ok(queuedVisits <= 2, `queueing ${REQUESTS} requests visited ${queuedVisits} entries`);
    // Each request is looked at once when its batch forms and once when it is taken; a scan of
    // the whole queue per arrival would make this about REQUESTS² (≈ 1.7e7).
    assert.ok(batcher.entryVisits <= 3 * REQUESTS, `${REQUESTS} requests took ${batcher.entryVisits} entry visits`);
    // Once the delay has passed, every batch is full (Triton sends all pending up to max_batch_size).
    assert.deepEqual(batchCounts(stats), [[32, 1 + REQUESTS / 32]]);
  });
});
