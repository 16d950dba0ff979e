/**
 * The benchmarks' stability rule and windowed load, on synthetic windows and a real closed loop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LoadResult, loadUntilStable, stableWindows } from './measure.js';

/** A window of `n` requests taking `ms` each, sent one at a time. */
const window = (n: number, ms: number): LoadResult => ({ requests: n, errors: 0, seconds: (n * ms) / 1000, latenciesMs: Array(n).fill(ms) });

describe('stableWindows', () => {
  it('needs three windows', () => {
    assert.equal(stableWindows([window(10, 5), window(10, 5)]), false);
    assert.equal(stableWindows([window(10, 5), window(10, 5), window(10, 5)]), true);
  });

  it('looks only at the last three, each within 10 % of their mean in throughput and p50', () => {
    assert.equal(stableWindows([window(10, 50), window(10, 5), window(10, 5.4), window(10, 5.2)]), true);
    // 5, 5, 6.5: the mean is 5.5 and 6.5 lies 18 % above it.
    assert.equal(stableWindows([window(10, 5), window(10, 5), window(10, 6.5)]), false);
    assert.equal(stableWindows([window(10, 5), window(10, 5), window(10, 6.5)], 0.2), true);
  });

  it('compares latency as well as throughput', () => {
    // Same throughput, p50 doubled: 5 requests at 2 ms and 5 at 18 ms take as long as 10 at 10 ms.
    const skewed: LoadResult = { requests: 10, errors: 0, seconds: 0.1, latenciesMs: [...Array(5).fill(2), ...Array(5).fill(18)] };
    assert.equal(stableWindows([window(10, 10), window(10, 10), skewed]), false);
  });
});

describe('loadUntilStable', () => {
  it('runs windows until the last three agree, and reports them merged', async () => {
    // Requests speed up from 80 ms to 20 ms over the first windows, then stay at 20 ms. The
    // tolerance is wide so that timer jitter on a busy machine cannot keep the steady windows
    // apart, while the settling windows (80, 50 ms) still disagree with them.
    let sent = 0;
    let windows = 0;
    const send = () => new Promise((r) => setTimeout(r, Math.max(20, 80 - Math.floor(sent++ / 5) * 30)));
    const load = await loadUntilStable(1, send, 5, { tolerance: 0.5, onWindow: () => windows++ });
    assert.equal(load.stable, true);
    assert.equal(load.windows, windows);
    assert.ok(load.windows >= 3 && load.windows < 10, `ran ${load.windows} windows`);
    assert.equal(load.result.requests, 15);
    assert.ok(load.result.latenciesMs.every((ms) => ms < 50), 'the settling windows are left out');
  });

  it('stops at maxWindows when the load never settles', async () => {
    let sent = 0;
    // Each window's requests take 10 ms longer than the last window's: 0, 10, 20, 30 ms.
    const send = () => new Promise((r) => setTimeout(r, 10 * Math.floor(sent++ / 5)));
    const load = await loadUntilStable(1, send, 5, { maxWindows: 4 });
    assert.equal(load.windows, 4);
    assert.equal(load.stable, false);
  });
});
