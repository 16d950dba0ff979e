import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../errors/index.js';
import { AdaptiveLimit } from './adaptive-limit.js';
import { type Admission, AdmissionController, type AdmissionOptions, type AdmissionRequest, type WorkClass } from './admission-controller.js';

/** A controller on a clock the test moves: service times are whatever the test says they were. */
function controller(options: Partial<AdmissionOptions> = {}) {
  let t = 1_000_000;
  const decisions: string[] = [];
  const c = new AdmissionController({
    initial: 2,
    min: 1,
    max: 2,
    maxQueued: 100,
    clock: () => t,
    onDecision: (workClass, decision) => decisions.push(`${workClass}:${decision}`),
    ...options,
  });
  return {
    c,
    decisions,
    at: (ms: number) => (t = 1_000_000 + ms),
    now: () => t,
  };
}

const FAR = 3_600_000;
const req = (now: number, over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({ workClass: 'caption', kind: 'k', cost: 1, deadline: now + FAR, ...over });
const refusal = (p: Promise<unknown>) => p.then(() => assert.fail('admitted'), (e: unknown) => e as GatewayError);
const isWaiting = async (p: Promise<unknown>) => (await Promise.race([p.then(() => false, () => false), new Promise((r) => setImmediate(() => r(true)))])) as boolean;

describe('AdmissionController', () => {
  it('admits up to the limit at once, queues the rest and starts them as units are released', async () => {
    const { c, now } = controller();
    const a = await c.admit(req(now()));
    const b = await c.admit(req(now()));
    const third = c.admit(req(now()));
    assert.ok(await isWaiting(third));
    assert.deepEqual(c.snapshot(), { queued: 1, queuedCost: 1, inServiceCost: 2, limit: 2 });
    a.release('ok');
    (await third).release('ok');
    b.release('ok');
    assert.deepEqual(c.snapshot(), { queued: 0, queuedCost: 0, inServiceCost: 0, limit: 2 });
  });

  it('weighs work by cost: a beam-8 caption holds what eight greedy ones would', async () => {
    const { c, now } = controller({ initial: 8, max: 8 });
    const beams = await c.admit(req(now(), { cost: 8, kind: 'caption:beams=8' }));
    const greedy = c.admit(req(now()));
    assert.ok(await isWaiting(greedy));
    beams.release('ok');
    const g = await greedy;
    const more = await Promise.all(Array.from({ length: 7 }, () => c.admit(req(now()))));
    assert.equal(c.snapshot().inServiceCost, 8);
    // Too big for the room left, but it runs alone rather than never.
    const big = c.admit(req(now(), { cost: 20 }));
    assert.ok(await isWaiting(big));
    for (const x of [g, ...more]) x.release('ok');
    (await big).release('ok');
  });

  it('refuses at once what cannot finish by its deadline behind the queue, with a Retry-After that follows the queue', async () => {
    const { c, at, now, decisions } = controller();
    // One request of kind k took 1000 ms.
    const first = await c.admit(req(now()));
    at(1000);
    first.release('ok');
    const inService = [await c.admit(req(now())), await c.admit(req(now()))];
    // Two units in service at 1000 ms each leave at 2 units/s: one queued request waits 500 ms
    // (750 with the margin for estimates), then runs 1000.
    const fits = c.admit(req(now(), { deadline: now() + 1750 }));
    assert.ok(await isWaiting(fits));
    const late = await refusal(c.admit(req(now(), { deadline: now() + 1999 })));
    assert.equal(late.code, 'GW_ERR_OVERLOADED');
    assert.equal(late.status, 503);
    assert.match(late.detail, /expected to wait 1000 ms and run 1000 ms/);
    assert.equal(late.retryAfterSeconds, 1);
    // Ten more waiting: the queue takes 5.5 s to enter service.
    const queued = Array.from({ length: 10 }, () => c.admit(req(now())));
    assert.equal(c.retryAfterSeconds(), 6);
    assert.equal((await refusal(c.admit(req(now(), { deadline: now() + 2000 })))).retryAfterSeconds, 6);
    assert.deepEqual(decisions.filter((d) => d.endsWith('deadline')), ['caption:deadline', 'caption:deadline']);
    for (const a of inService) a.release('ok');
    (await fits).release('ok');
    for (const q of queued) (await q).release('ok');
  });

  it('never refuses for the deadline while there is room and no queue', async () => {
    const { c, at, now } = controller();
    const first = await c.admit(req(now()));
    at(1000);
    first.release('ok');
    // Its deadline is shorter than the kind's service time, but nothing stands in its way.
    (await c.admit(req(now(), { deadline: now() + 10 }))).release('failed');
  });

  it('refuses when maxQueued requests already wait, whatever their deadline', async () => {
    const { c, now } = controller({ maxQueued: 2 });
    const held = [await c.admit(req(now())), await c.admit(req(now()))];
    const waiting = [c.admit(req(now())), c.admit(req(now()))];
    const full = await refusal(c.admit(req(now())));
    assert.match(full.detail, /2 requests are already waiting/);
    for (const h of held) h.release('ok');
    for (const w of waiting) (await w).release('ok');
  });

  it('shares service fairly between routes: turns alternate by units served', async () => {
    const { c, now } = controller({ initial: 1, max: 1 });
    const blocker = await c.admit(req(now()));
    const order: WorkClass[] = [];
    const waiters = (['caption', 'caption', 'caption', 'classify', 'classify', 'classify'] as const).map((workClass) =>
      c.admit(req(now(), { workClass })).then((a) => {
        order.push(workClass);
        return a;
      }),
    );
    blocker.release('ok');
    let pending = [...waiters];
    while (pending.length > 0) {
      const next: Admission = await Promise.race(pending.map((p) => p.then((a) => a)));
      const index = await Promise.race(pending.map((p, i) => p.then((a) => (a === next ? i : -1))));
      pending = pending.filter((_, i) => i !== index);
      next.release('ok');
    }
    // classify was idle while caption was served: it resumes level with caption (no banked
    // credit), and the turns alternate.
    assert.deepEqual(order, ['caption', 'classify', 'caption', 'classify', 'caption', 'classify']);
  });

  it('a route that keeps its queue full cannot crowd out the other', async () => {
    const { c, now } = controller({ initial: 1, max: 1 });
    const blocker = await c.admit(req(now()));
    const started: WorkClass[] = [];
    const queue = (workClass: WorkClass, cost = 1) =>
      c.admit(req(now(), { workClass, cost })).then((a) => {
        started.push(workClass);
        a.release('ok');
      });
    // Eight cost-1 captions queued before one classification: it starts second, not ninth.
    const all = [...Array.from({ length: 8 }, () => queue('caption')), queue('classify')];
    blocker.release('ok');
    await Promise.all(all);
    assert.equal(started.indexOf('classify'), 1);
  });

  it('a waiter whose client leaves is dropped and rejects with the reason; one that can no longer finish is refused', async () => {
    const { c, at, now, decisions } = controller();
    const first = await c.admit(req(now()));
    at(10);
    first.release('ok'); // kind k takes 10 ms
    const held = [await c.admit(req(now())), await c.admit(req(now()))];
    const gone = new AbortController();
    const leaving = c.admit(req(now(), { signal: gone.signal }));
    const reason = new Error('client closed');
    gone.abort(reason);
    await assert.rejects(leaving, (e) => e === reason);
    assert.equal(c.snapshot().queued, 0);
    // Admitted to the queue with 25 ms left (wait 5, 7.5 with the margin, + run 10), it is refused
    // once 10 ms are left.
    const expiring = await refusal(c.admit(req(now(), { deadline: now() + 25 })));
    assert.match(expiring.detail, /could no longer finish/);
    assert.ok(decisions.includes('caption:expired'));
    for (const h of held) h.release('ok');
  });

  it('an already aborted request is not admitted', async () => {
    const { c, now } = controller();
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    await assert.rejects(c.admit(req(now(), { signal: gone.signal })), /gone/);
    assert.equal(c.snapshot().inServiceCost, 0);
  });
});

describe('AdaptiveLimit', () => {
  it('grows while latency stays within tolerance of the long run and the limit is used', () => {
    const limit = new AdaptiveLimit({ initial: 4, min: 1, max: 64 });
    for (let i = 0; i < 50; i++) limit.sample('k', 100, limit.limit);
    assert.ok(limit.limit > 16, `limit ${limit.limit}`);
    assert.equal(limit.serviceMs('k'), 100);
  });

  it('holds when the work in service is well under the limit', () => {
    const limit = new AdaptiveLimit({ initial: 16, min: 1, max: 64 });
    for (let i = 0; i < 50; i++) limit.sample('k', 100, 2);
    assert.equal(limit.limit, 16);
  });

  it('shrinks when latency climbs past tolerance, and on overload, never below min', () => {
    const limit = new AdaptiveLimit({ initial: 32, min: 2, max: 64 });
    for (let i = 0; i < 20; i++) limit.sample('k', 100, 32);
    const before = limit.limit;
    for (let i = 0; i < 20; i++) limit.sample('k', 1000, limit.limit);
    assert.ok(limit.limit < before, `${limit.limit} after ${before}`);
    for (let i = 0; i < 100; i++) limit.overloaded();
    assert.equal(limit.limit, 2);
  });

  it('keeps each kind\'s service time apart', () => {
    const limit = new AdaptiveLimit({ initial: 4, min: 1, max: 8 });
    limit.sample('greedy', 100, 4);
    limit.sample('beams', 400, 4);
    limit.sample('greedy', 200, 4);
    assert.equal(limit.serviceMs('greedy'), 150);
    assert.equal(limit.serviceMs('beams'), 400);
  });
});
