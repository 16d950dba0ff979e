/**
 * @module preprocess/decode-limiter.test
 * DecodeLimiter with tasks the test finishes by hand and a clock it sets: the slots, the order,
 * refusals when the queue is full, Retry-After from the queue and the recent decode times,
 * failures, aborts while waiting, and argument checks. No wall-clock judgement.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../errors/index.js';
import { DecodeLimiter } from './decode-limiter.js';

/** A task that runs until the test settles it, recording that it started. */
function heldTask(log: string[], name: string) {
  let finish!: (value: string) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return {
    task: () => {
      log.push(name);
      return done;
    },
    finish: () => finish(name),
    fail: (err: Error) => fail(err),
  };
}

/** Lets the limiter's promise chains run (a freed slot starts the next task a few ticks later). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function clock() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return err instanceof GatewayError && err.code === 'GW_ERR_OVERLOADED' && err.status === 503;
  });
  return caught as GatewayError;
}

describe('DecodeLimiter slots and queue', () => {
  it('runs at most `concurrency` tasks at once and starts waiting ones first come, first served', async () => {
    const limiter = new DecodeLimiter({ concurrency: 2, maxQueued: 3 });
    const started: string[] = [];
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((n) => heldTask(started, n));
    const results = tasks.map((t) => limiter.run(t.task));
    await settle();
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [2, 3]);

    tasks[1]!.finish();
    await settle();
    assert.deepEqual(started, ['a', 'b', 'c']);
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [2, 2]);
    tasks[0]!.finish();
    tasks[2]!.finish();
    await settle();
    assert.deepEqual(started, ['a', 'b', 'c', 'd', 'e']);
    tasks[3]!.finish();
    tasks[4]!.finish();
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued, limiter.stats().completed], [0, 0, 5]);
  });

  it('refuses at once, without running the task, when every slot is taken and the queue is full', async () => {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 1 });
    const started: string[] = [];
    const running = heldTask(started, 'running');
    const waiting = heldTask(started, 'waiting');
    const first = limiter.run(running.task);
    const second = limiter.run(waiting.task);
    let ranRefused = false;
    const err = await refusal(limiter.run(async () => (ranRefused = true)));
    assert.equal(ranRefused, false);
    assert.equal(err.detail, 'Image decoding is at its limit (1 decoding, 1 waiting); retry after 1 s.');
    assert.equal(err.retryAfterSeconds, 1);
    assert.equal(limiter.stats().shed, 1);

    // Once a slot frees, the queue has room again.
    running.finish();
    await first;
    const third = heldTask(started, 'third');
    const accepted = limiter.run(third.task);
    waiting.finish();
    await second;
    third.finish();
    assert.equal(await accepted, 'third');
    assert.deepEqual(started, ['running', 'waiting', 'third']);
  });

  it('refuses a decode whose expected wait passes maxWaitMs while the queue still has room', async () => {
    // Before any decode has finished there is no mean to go by: only maxQueued bounds the queue.
    const fresh = new DecodeLimiter({ concurrency: 2, maxQueued: 10, maxWaitMs: 2500 });
    const first = Array.from({ length: 12 }, (_, i) => heldTask([], String(i)));
    const firstRuns = first.map((t) => fresh.run(t.task));
    await refusal(fresh.run(async () => 'thirteenth'));
    for (const t of first) t.finish();
    await Promise.all(firstRuns);

    const time = clock();
    const limiter = new DecodeLimiter({ concurrency: 2, maxQueued: 10, maxWaitMs: 2500, now: time.now });
    for (let i = 0; i < 2; i++) await limiter.run(async () => void time.advance(1000));
    assert.equal(limiter.stats().meanDecodeMs, 1000);
    // Slots free every 1000 / 2 = 500 ms on average: the 5th in line expects 2500 ms, the 6th 3000.
    const held = Array.from({ length: 7 }, (_, i) => heldTask([], String(i)));
    const runs = held.map((t) => limiter.run(t.task));
    await settle();
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [2, 5]);
    const err = await refusal(limiter.run(async () => 'sixth in line'));
    assert.equal(err.detail, 'Image decoding is at its limit (2 decoding, 5 waiting); retry after 4 s.');
    for (const t of held) t.finish();
    await Promise.all(runs);
    assert.deepEqual([fresh.stats().shed, limiter.stats().shed], [1, 1]);
  });

  it('with maxQueued 0, refuses whenever every slot is taken', async () => {
    const limiter = new DecodeLimiter({ concurrency: 2, maxQueued: 0 });
    const held = [heldTask([], 'a'), heldTask([], 'b')];
    const running = held.map((t) => limiter.run(t.task));
    await refusal(limiter.run(async () => 'c'));
    for (const t of held) t.finish();
    await Promise.all(running);
    assert.equal(await limiter.run(async () => 'd'), 'd');
  });

  it('frees the slot of a task that fails and passes its error on', async () => {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 1 });
    const started: string[] = [];
    const failing = heldTask(started, 'failing');
    const next = heldTask(started, 'next');
    const a = limiter.run(failing.task);
    const b = limiter.run(next.task);
    failing.fail(new Error('corrupt'));
    await assert.rejects(a, { message: 'corrupt' });
    await settle();
    assert.deepEqual(started, ['failing', 'next']);
    next.finish();
    assert.equal(await b, 'next');
    assert.equal(limiter.stats().completed, 2);
    // A task that throws before returning a promise frees its slot too.
    await assert.rejects(limiter.run(() => { throw new Error('sync'); }), { message: 'sync' });
    assert.equal(limiter.stats().inFlight, 0);
  });
});

describe('DecodeLimiter aborts', () => {
  it('drops a waiting task whose signal aborts, rejecting with the reason, and never runs it', async () => {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 2 });
    const started: string[] = [];
    const running = heldTask(started, 'running');
    const first = limiter.run(running.task);
    const controller = new AbortController();
    const abandoned = limiter.run(heldTask(started, 'abandoned').task, controller.signal);
    const kept = heldTask(started, 'kept');
    const keptResult = limiter.run(kept.task);
    controller.abort(new Error('client left'));
    await assert.rejects(abandoned, { message: 'client left' });
    assert.equal(limiter.stats().queued, 1);
    running.finish();
    await first;
    await settle();
    kept.finish();
    assert.equal(await keptResult, 'kept');
    assert.deepEqual(started, ['running', 'kept']);
  });

  it('refuses a signal already aborted, and lets a running task keep its slot when its signal aborts', async () => {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 1 });
    await assert.rejects(limiter.run(async () => 'x', AbortSignal.abort(new Error('gone'))), { message: 'gone' });
    assert.equal(limiter.stats().inFlight, 0);
    const controller = new AbortController();
    const running = heldTask([], 'running');
    const result = limiter.run(running.task, controller.signal);
    await settle();
    controller.abort(new Error('late'));
    assert.equal(limiter.stats().inFlight, 1);
    running.finish();
    assert.equal(await result, 'running');
  });
});

describe('DecodeLimiter Retry-After', () => {
  it('is the decodes running and waiting times the recent mean, over the slots, rounded up to seconds', async () => {
    const time = clock();
    const limiter = new DecodeLimiter({ concurrency: 2, maxQueued: 4, now: time.now });
    // No decode has finished: nothing to go by, so the least a client is told is 1 s.
    assert.equal(limiter.retryAfterSeconds(), 1);
    // Two decodes of 2 s and 3 s: the mean is 2.5 s.
    const a = heldTask([], 'a');
    const b = heldTask([], 'b');
    const pa = limiter.run(a.task);
    const pb = limiter.run(b.task);
    time.advance(2000);
    a.finish();
    await pa;
    time.advance(1000);
    b.finish();
    await pb;
    assert.equal(limiter.stats().meanDecodeMs, 2500);
    assert.equal(limiter.retryAfterSeconds(), 1); // nothing running or waiting

    const held = Array.from({ length: 6 }, (_, i) => heldTask([], String(i)));
    const runs = held.map((t) => limiter.run(t.task));
    await settle();
    // 2 running + 4 waiting = 6 decodes × 2.5 s / 2 slots = 7.5 s → 8.
    assert.equal(limiter.retryAfterSeconds(), 8);
    const err = await refusal(limiter.run(async () => 'refused'));
    assert.equal(err.retryAfterSeconds, 8);
    assert.equal(err.detail, 'Image decoding is at its limit (2 decoding, 4 waiting); retry after 8 s.');

    // One finishes (at 0 ms on this clock: the mean drops to 5000/3) and the queue shrinks by one.
    held[0]!.finish();
    await runs[0];
    await settle();
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [2, 3]);
    // 5 decodes × 1666.7 ms / 2 = 4.17 s → 5.
    assert.equal(limiter.retryAfterSeconds(), 5);
    for (const t of held) t.finish();
    await Promise.all(runs);
  });

  it('averages only the latest `window` durations', async () => {
    const time = clock();
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 0, window: 2, now: time.now });
    for (const ms of [10_000, 1000, 3000]) {
      await limiter.run(async () => {
        time.advance(ms);
      });
    }
    assert.equal(limiter.stats().meanDecodeMs, 2000);
  });
});

describe('DecodeLimiter arguments', () => {
  it('refuses a concurrency, queue length, wait or window out of range, naming the value', () => {
    for (const concurrency of [0, -1, 1.5]) {
      assert.throws(() => new DecodeLimiter({ concurrency, maxQueued: 1 }), { name: 'RangeError', message: `concurrency must be a positive integer, got ${concurrency}` });
    }
    for (const maxQueued of [-1, 0.5]) {
      assert.throws(() => new DecodeLimiter({ concurrency: 1, maxQueued }), { name: 'RangeError', message: `maxQueued must be a non-negative integer, got ${maxQueued}` });
    }
    for (const maxWaitMs of [-1, Number.NaN]) {
      assert.throws(() => new DecodeLimiter({ concurrency: 1, maxQueued: 1, maxWaitMs }), { name: 'RangeError', message: `maxWaitMs must be a non-negative number, got ${maxWaitMs}` });
    }
    assert.throws(() => new DecodeLimiter({ concurrency: 1, maxQueued: 1, window: 0 }), { name: 'RangeError', message: 'window must be a positive integer, got 0' });
  });
});
