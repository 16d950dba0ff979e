/**
 * @module generation/hf-parity.test
 * The decode loop against transformers' own generate, live: hf_generate.py runs HF 5.24 (the
 * project's .venv) on every case of fixtures/hf-cases.ts, and `generate` must give the same
 * captions and scores. It also checks hf-generate.json, the recording that beam-search.test.ts
 * (and the mutation run) compare with, so the fast tests cannot drift from HF. About 15 s, most
 * of it starting torch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { differenceFromHf, hfCases, ourAnswer, recordedResults, transformersGenerate } from './fixtures/hf-cases.js';

describe('generate against transformers’ generate (live)', () => {
  const cases = hfCases();
  const live = transformersGenerate(cases);

  it('gives HF’s caption, finish reason and score on every case', async () => {
    const differences: string[] = [];
    for (const [i, c] of cases.entries()) {
      const difference = differenceFromHf(c, await ourAnswer(c), live[i]!);
      if (difference) differences.push(difference);
    }
    assert.deepEqual(differences, []);
  });

  it('matches the recording the fast tests use', () => {
    const recorded = recordedResults();
    assert.deepEqual(Object.keys(recorded), cases.map((c) => c.name), 'the recorded cases are hfCases(): record again');
    cases.forEach((c, i) => {
      const [r, l] = [recorded[c.name]!, live[i]!];
      assert.deepEqual([r.tokens, r.finishReason], [l.tokens, l.finishReason], c.name);
      assert.ok(r.score === l.score || Math.abs(r.score! - l.score!) < 1e-6, `${c.name}: score ${r.score} recorded, ${l.score} live`);
    });
  });
});
