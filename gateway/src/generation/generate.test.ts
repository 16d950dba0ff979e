/**
 * @module generation/generate.test
 * `generate` picks greedy decoding for one beam and beam search for more, as transformers.js's
 * getSampler does, on a toy language model (a table of next-token probabilities: input data for
 * the algorithms, not a mock of the model server).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beamSearch } from './beam-search.js';
import { MYOPIC } from './fixtures/designed-tables.js';
import { A, B, BOS, EOS, toyConfig, toyLanguageModel, VOCAB_SIZE } from './fixtures/toy-language-model.js';
import { generate } from './generate.js';
import { greedyDecode } from './greedy-decode.js';
import { scoreLogits } from './score-logits.js';
import type { DecodeStep } from './types.js';

// MYOPIC: greedy ends at A eos (0.175); beam search finds B eos (0.36).

describe('generate', () => {
  it('decodes greedily with one beam: one sequence per step, greedy’s result', async () => {
    const model = toyLanguageModel(MYOPIC);
    const result = await generate(model.step, [BOS], toyConfig({ numBeams: 1 }));
    assert.deepEqual(result, await greedyDecode(toyLanguageModel(MYOPIC).step, [BOS], toyConfig()));
    assert.deepEqual(result.tokens, [A]);
    assert.ok(model.calls.every((call) => call.length === 1));
  });

  it('runs beam search with more beams: several sequences per step, beam search’s result', async () => {
    const model = toyLanguageModel(MYOPIC);
    const config = toyConfig({ numBeams: 3 });
    const result = await generate(model.step, [BOS], config);
    assert.deepEqual(result, await beamSearch(toyLanguageModel(MYOPIC).step, [BOS], config));
    assert.deepEqual(result.tokens, [B]);
    assert.ok(model.calls.some((call) => call.length > 1));
  });

  it('runs the repetition penalty on raw logits with one beam, as HF’s greedy search does', async () => {
    // Logits A 2, B 1.5 after A: greedy (HF's _sample) divides A's positive logit, 2 / 2 = 1 < 1.5,
    // and takes B. Beam search would penalise A's log-probability, -0.474 × 2 = -0.948 > B's -0.974,
    // and keep A: one beam must not mean beam search.
    const logits = scoreLogits(
      async (sequences) =>
        sequences.map(() => {
          const row = new Float32Array(VOCAB_SIZE).fill(-Infinity);
          row[A] = 2;
          row[B] = 1.5;
          return row;
        }),
      EOS,
    );
    const config = toyConfig({ numBeams: 1, maxNewTokens: 1, repetitionPenalty: 2 });
    assert.deepEqual((await generate(logits, [BOS, A], config)).tokens, [B]);
    assert.deepEqual((await beamSearch(logits, [BOS, A], config)).tokens, [A]);
  });

  it('rejects a numBeams that is not a positive integer', async () => {
    await assert.rejects(generate(toyLanguageModel(MYOPIC).step, [BOS], toyConfig({ numBeams: 0 })), RangeError);
  });

  it('propagates a rejection of step with either strategy', async () => {
    const boom = new Error('decoder unavailable');
    const failing: DecodeStep = {
      next: async () => {
        throw boom;
      },
      end: async () => {},
    };
    for (const numBeams of [1, 2]) {
      await assert.rejects(generate(failing, [BOS], toyConfig({ numBeams })), (error) => error === boom);
    }
  });
});
