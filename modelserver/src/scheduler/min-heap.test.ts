/**
 * @module scheduler/min-heap.test
 * The heap pops smallest first, through pushes, pops and retain, against a sorted copy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrng } from '../../test/fixtures/models.js';
import { MinHeap } from './min-heap.js';

describe('MinHeap', () => {
  it('pops in ascending order after mixed pushes, pops and a retain', () => {
    const next = createPrng(7);
    const heap = new MinHeap<number>((a, b) => a < b);
    const model: number[] = [];
    for (let i = 0; i < 2000; i++) {
      if (next() < 0.3 && model.length > 0) {
        model.sort((a, b) => a - b);
        assert.equal(heap.pop(), model.shift());
      } else {
        const v = Math.floor(next() * 500);
        heap.push(v);
        model.push(v);
      }
      if (i === 1000) {
        heap.retain((v) => v % 3 !== 0);
        model.splice(0, model.length, ...model.filter((v) => v % 3 !== 0));
      }
    }
    assert.equal(heap.size, model.length);
    const drained: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) drained.push(v);
    assert.deepEqual(drained, model.sort((a, b) => a - b));
    assert.equal(heap.peek(), undefined);
  });
});
