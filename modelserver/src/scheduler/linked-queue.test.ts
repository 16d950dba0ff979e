/**
 * @module scheduler/linked-queue.test
 * The queue keeps arrival order through pushes, shifts and removals from anywhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkedQueue, type QueueLinks } from './linked-queue.js';

interface Node extends QueueLinks<Node> {
  readonly id: number;
}

const node = (id: number): Node => ({ id, prev: undefined, next: undefined });

function ids(q: LinkedQueue<Node>): number[] {
  const out: number[] = [];
  for (let n = q.head; n; n = n.next) out.push(n.id);
  return out;
}

describe('LinkedQueue', () => {
  it('removes from the head, the middle and the tail, then is reusable', () => {
    const q = new LinkedQueue<Node>();
    const nodes = [1, 2, 3, 4, 5].map(node);
    nodes.forEach((n) => q.push(n));
    q.remove(nodes[2]!);
    q.remove(nodes[0]!);
    q.remove(nodes[4]!);
    assert.deepEqual(ids(q), [2, 4]);
    assert.equal(q.size, 2);
    assert.equal(q.tail, nodes[3]);
    assert.equal(q.shift(), nodes[1]);
    assert.equal(q.shift(), nodes[3]);
    assert.equal(q.shift(), undefined);
    assert.equal(q.head, undefined);
    assert.equal(q.tail, undefined);
    q.push(nodes[2]!);
    assert.deepEqual(ids(q), [3]);
    assert.equal(q.size, 1);
  });
});
