/**
 * @module generation/generate.test
 * `generate` picks greedy decoding for one beam and beam search for more, as transformers.js's
 * getSampler does, on a toy language model (a table of next-token probabilities: input data for
 * the algorithms, not a mock of the model server).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beamSearch } from './beam-search.js';
import { A, B, BOS, C, D, EOS, type NextTokenTable, toyConfig, toyLanguageModel } from './fixtures/toy-language-model.js';
import { generate } from './generate.js';
import { greedyDecode } from './greedy-decode.js';
import type { DecodeStep } from './types.js';

/** Greedy ends at A eos (0.175); beam search finds B eos (0.36). */
const MYOPIC: NextTokenTable = {
  [BOS]: { [A]: 0.5, [B]: 0.4, [C]: 0.1 },
  [A]: { [EOS]: 0.35, [C]: 0.33, [D]: 0.32 },
  [B]: { [EOS]: 0.9, [C]: 0.1 },
  [C]: { [EOS]: 1 },
  [D]: { [EOS]: 1 },
};

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

  it('rejects a numBeams that is not a positive integer', async () => {
    await assert.rejects(generate(toyLanguageModel(MYOPIC).step, [BOS], toyConfig({ numBeams: 0 })), RangeError);
  });

  it('propagates a rejection of step with either strategy', async () => {
    const boom = new Error('decoder unavailable');
    const failing: DecodeStep = async () => {
      throw boom;
    };
    for (const numBeams of [1, 2]) {
      await assert.rejects(generate(failing, [BOS], toyConfig({ numBeams })), (error) => error === boom);
    }
  });
});
