import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceEstimates } from './service-estimates.js';

describe('ServiceEstimates', () => {
  it('measures the drain rate over the last second once eight requests have completed in it', () => {
    const e = new ServiceEstimates();
    for (let i = 0; i < 7; i++) e.record('k', 2, 100, 1000 + i * 10);
    assert.equal(e.drainUnitsPerMs(1100), undefined);
    e.record('k', 2, 100, 1100);
    assert.equal(e.drainUnitsPerMs(1100), 16 / 1000);
    // A second later the window holds none of them.
    assert.equal(e.drainUnitsPerMs(2100), undefined);
  });

  it("follows a kind's recent service time: a plain mean at first, then an average over 16", () => {
    const e = new ServiceEstimates();
    e.record('k', 1, 100, 0);
    e.record('k', 1, 300, 0);
    assert.equal(e.serviceMs('k'), 200);
    for (let i = 0; i < 100; i++) e.record('k', 1, 1000, 0);
    assert.ok(Math.abs(e.serviceMs('k')! - 1000) < 1);
    assert.equal(e.serviceMs('other'), undefined);
  });
});
