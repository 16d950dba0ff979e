/**
 * scoreRow/topK/logSumExp: the gateway's side of what the cached decoder's graph computes
 * (model-tools/cached-decoder.md §4), checked against the full-vocabulary rules they replace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logSoftmax } from './logits-processors.js';
import { logSumExp, scoreRow, topK } from './score-logits.js';

const row = (...v: number[]) => Float32Array.from(v);

describe('topK', () => {
  it('returns the k largest, best first, equal values lower index first (as ONNX TopK)', () => {
    const { ids, scores } = topK(row(1, 5, 3, 5, -2, 4), 4);
    assert.deepEqual([...ids], [1, 3, 5, 2]);
    assert.deepEqual([...scores], [5, 5, 4, 3]);
  });

  it('matches a full sort on random rows, and keeps -Infinity only while there is room', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 10 - 5;
    for (let t = 0; t < 50; t++) {
      const v = Float32Array.from({ length: 200 }, () => Math.round(rand() * 4) / 4);
      const k = 1 + (t % 16);
      const expected = [...v.keys()].sort((a, b) => v[b]! - v[a]! || a - b).slice(0, k);
      assert.deepEqual([...topK(v, k).ids], expected);
    }
    const { ids, scores } = topK(row(-Infinity, 2, -Infinity), 3);
    assert.deepEqual([...ids], [1, 0, 2]);
    assert.deepEqual([...scores], [2, -Infinity, -Infinity]);
    // NaN never enters: the slot it would take stays at -Infinity.
    const withNaN = topK(row(Number.NaN, 1), 2);
    assert.deepEqual([withNaN.ids[0], ...withNaN.scores], [1, 1, -Infinity]);
  });
});

describe('logSumExp', () => {
  it('is log(sum(exp)) without overflow, and -Infinity for an empty distribution', () => {
    assert.ok(Math.abs(logSumExp([0, 0]) - Math.log(2)) < 1e-12);
    assert.ok(Math.abs(logSumExp([1000, 1000]) - (1000 + Math.log(2))) < 1e-9);
    assert.equal(logSumExp([-Infinity, -Infinity]), -Infinity);
  });
});

describe('scoreRow', () => {
  const eos = 0;
  it('greedy: processors on raw logits; log-probability = score - logNormalizer', () => {
    const c = scoreRow(row(0.5, 2, 1.5, -1), [3, 1], { logSoftmaxFirst: false, repetitionPenalty: 2, suppressEos: true, candidates: 2 }, eos);
    // Token 1 (2 → 1) and token 3 (-1 → -2) are penalised; eos is forbidden.
    assert.deepEqual(Array.from(c.ids), [2, 1]);
    assert.deepEqual(Array.from(c.scores), [1.5, 1]);
    const expected = logSoftmax(row(-Infinity, 1, 1.5, -2));
    assert.ok(Math.abs(c.scores[0]! - c.logNormalizer - expected[2]!) < 1e-6);
  });

  it('beam search: log-softmax first, then the processors on the log-probabilities (not renormalised)', () => {
    const logits = row(0.5, 2, 1.5, -1);
    const lp = logSoftmax(logits);
    const c = scoreRow(row(0.5, 2, 1.5, -1), [1], { logSoftmaxFirst: true, repetitionPenalty: 2, suppressEos: false, candidates: 4 }, eos);
    const penalised = [lp[0]!, lp[1]! * 2, lp[2]!, lp[3]!];
    const order = [0, 1, 2, 3].sort((a, b) => penalised[b]! - penalised[a]!);
    assert.deepEqual(Array.from(c.ids), order);
    assert.ok(Math.abs(c.scores[0]! - Math.fround(penalised[order[0]!]!)) < 1e-7);
    assert.ok(Math.abs(c.logNormalizer - logSumExp(Float32Array.from(penalised))) < 1e-6);
  });
});
