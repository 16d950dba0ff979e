/**
 * @module generation/logits-processors.test
 * The logits processors on rows worked out by hand, with HF's rules: the repetition penalty
 * divides a repeated token's positive logit and multiplies a negative one (once per token, however
 * often it repeats), min_new_tokens forbids eos until enough tokens were generated, and neutral
 * settings add no processor; logSoftmax is stable for large logits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toyConfig } from './fixtures/toy-language-model.js';
import { buildProcessors, logSoftmax, MinNewTokens, RepetitionPenalty } from './logits-processors.js';

describe('RepetitionPenalty', () => {
  it('divides positive and multiplies negative logits of tokens in the sequence, and leaves the rest', () => {
    const logits = Float32Array.of(3, 2, -2, 0.5, -1);
    // Token 1 three times and token 2 twice: each is penalised once, as HF's gather/scatter does.
    new RepetitionPenalty(2).process([1, 2, 1, 1, 2, 4], 3, logits);
    assert.deepEqual(Array.from(logits), [3, 1, -4, 0.5, -2]);
  });

  it('makes a repeated token less likely whatever the sign of its logit', () => {
    for (const v of [4, 0.25, -0.25, -4]) {
      const logits = Float32Array.of(v, 0);
      new RepetitionPenalty(1.5).process([0], 0, logits);
      assert.ok(logits[0]! < v, `${v} → ${logits[0]}`);
    }
  });
});

describe('MinNewTokens', () => {
  it('forbids eos before min tokens were generated, and only eos', () => {
    const processor = new MinNewTokens(2, 1);
    for (const [generated, eos] of [[0, -Infinity], [1, -Infinity], [2, 0.5], [5, 0.5]] as const) {
      const logits = Float32Array.of(1, 0.5, 2);
      processor.process([0, 7, 7], generated, logits);
      assert.deepEqual(Array.from(logits), [1, eos, 2], `generated ${generated}`);
    }
  });
});

describe('buildProcessors', () => {
  it('adds nothing for neutral settings, and each processor only when its setting asks', () => {
    assert.deepEqual(buildProcessors(toyConfig()), []);
    const penalty = buildProcessors(toyConfig({ repetitionPenalty: 1.3 }));
    assert.equal(penalty.length, 1);
    assert.ok(penalty[0] instanceof RepetitionPenalty);
    const min = buildProcessors(toyConfig({ minNewTokens: 1 }));
    assert.equal(min.length, 1);
    assert.ok(min[0] instanceof MinNewTokens);
    // The eos id is the config's: eos (1) is forbidden at first, token 0 is not.
    const logits = Float32Array.of(0, 0);
    min[0]!.process([0], 0, logits);
    assert.deepEqual(Array.from(logits), [0, -Infinity]);
    assert.equal(buildProcessors(toyConfig({ repetitionPenalty: 2, minNewTokens: 3 })).length, 2);
  });
});

describe('logSoftmax', () => {
  it('gives log-probabilities that sum to 1, also for logits far beyond exp’s range', () => {
    const a = logSoftmax(Float32Array.of(1000, 1000, 999));
    const expected = [1000, 1000, 999].map((v) => v - (1000 + Math.log(2 + Math.exp(-1))));
    a.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${v} vs ${expected[i]}`));
    const b = logSoftmax(Float32Array.of(-1000, -Infinity, -1001));
    assert.equal(b[1], -Infinity);
    assert.ok(Math.abs(Math.exp(b[0]!) + Math.exp(b[2]!) - 1) < 1e-6);
    assert.ok(Math.abs(b[0]! - b[2]! - 1) < 1e-4);
  });

  it('leaves its input alone', () => {
    const logits = Float32Array.of(1, 2, 3);
    logSoftmax(logits);
    assert.deepEqual(Array.from(logits), [1, 2, 3]);
  });
});
