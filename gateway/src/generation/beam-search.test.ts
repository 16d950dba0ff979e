/**
 * @module generation/beam-search.test
 * Beam search on toy language models whose right answers can be worked out by hand: it finds
 * sequences greedy misses, equals greedy with one beam, keeps HF's scoring and stopping, honours
 * the limits and processors, and batches every live beam into one decoder call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beamSearch } from './beam-search.js';
import { A, B, BOS, C, D, EOS, type NextTokenTable, randomToyTable, toyConfig, toyLanguageModel } from './fixtures/toy-language-model.js';
import { greedyDecode } from './greedy-decode.js';
import type { DecodeStep } from './types.js';

// The toy models are tables of next-token probabilities (input data for a pure algorithm, not a
// mock of the model server). Comments give the sums worked out by hand.

/** Greedy takes A (0.5) and then ends at 0.5 × 0.35 = 0.175; B then eos is 0.4 × 0.9 = 0.36. */
const MYOPIC: NextTokenTable = {
  [BOS]: { [A]: 0.5, [B]: 0.4, [C]: 0.1 },
  [A]: { [EOS]: 0.35, [C]: 0.33, [D]: 0.32 },
  [B]: { [EOS]: 0.9, [C]: 0.1 },
  [C]: { [EOS]: 1 },
  [D]: { [EOS]: 1 },
};

/** Greedy is already best here: A then eos, 0.9 × 0.8 = 0.72. */
const PEAKED: NextTokenTable = {
  [BOS]: { [A]: 0.9, [B]: 0.1 },
  [A]: { [EOS]: 0.8, [C]: 0.2 },
  [B]: { [EOS]: 1 },
  [C]: { [EOS]: 1 },
};

/** A likes to repeat itself: greedy gives A A A … until the limit. */
const REPEATING: NextTokenTable = {
  [BOS]: { [A]: 0.6, [B]: 0.3, [EOS]: 0.1 },
  [A]: { [A]: 0.5, [EOS]: 0.3, [B]: 0.2 },
  [B]: { [EOS]: 0.6, [A]: 0.4 },
};

/** eos is the most probable token everywhere, at once too (0.7). */
const EAGER: NextTokenTable = {
  [BOS]: { [EOS]: 0.7, [A]: 0.2, [B]: 0.1 },
  [A]: { [EOS]: 0.6, [A]: 0.3, [B]: 0.1 },
  [B]: { [EOS]: 0.5, [A]: 0.3, [B]: 0.2 },
};

/** eos never has probability: every caption runs to the limits. */
const ENDLESS: NextTokenTable = {
  [BOS]: { [A]: 0.7, [B]: 0.3 },
  [C]: { [A]: 0.7, [B]: 0.3 },
  [A]: { [A]: 0.6, [B]: 0.4 },
  [B]: { [A]: 0.5, [B]: 0.5 },
};

/**
 * Length normalisation decides: ending at once has the highest probability (0.5, score
 * log 0.5 / 1 = -0.69), but A C eos (0.45 × 0.99 × 0.99 = 0.441) scores log 0.441 / 3 = -0.27.
 * With 2 beams, two hypotheses are finished after step 2 (eos, and B eos at -1.55), yet A C's
 * best possible score (log 0.4455 / 2 = -0.40) beats the worse of them, so HF's heuristic goes on.
 */
const LONGER_WINS: NextTokenTable = {
  [BOS]: { [EOS]: 0.5, [A]: 0.45, [B]: 0.05 },
  [A]: { [C]: 0.99, [EOS]: 0.01 },
  [B]: { [EOS]: 0.9, [C]: 0.1 },
  [C]: { [EOS]: 0.99, [C]: 0.01 },
};

const PREFIX = [BOS];

describe('beamSearch finds what greedy misses', () => {
  it('finds B eos (0.36) where greedy stops at A eos (0.175)', async () => {
    const greedy = await greedyDecode(toyLanguageModel(MYOPIC).step, PREFIX, toyConfig());
    assert.deepEqual(greedy.tokens, [A]);
    assert.ok(Math.abs(greedy.logProbability - Math.log(0.175)) < 1e-6);
    for (const numBeams of [2, 3, 4]) {
      const beam = await beamSearch(toyLanguageModel(MYOPIC).step, PREFIX, toyConfig({ numBeams }));
      assert.deepEqual(beam.tokens, [B], `numBeams ${numBeams}`);
      assert.equal(beam.finishReason, 'eos');
      assert.ok(Math.abs(beam.logProbability - Math.log(0.36)) < 1e-6);
      assert.ok(beam.logProbability > greedy.logProbability, `numBeams ${numBeams}: not more probable than greedy`);
    }
  });

  it('is never less probable than greedy on the designed tables', async () => {
    for (const [name, table] of Object.entries({ MYOPIC, PEAKED, EAGER })) {
      const greedy = await greedyDecode(toyLanguageModel(table).step, PREFIX, toyConfig());
      for (const numBeams of [2, 3, 5]) {
        const beam = await beamSearch(toyLanguageModel(table).step, PREFIX, toyConfig({ numBeams }));
        assert.ok(beam.logProbability >= greedy.logProbability, `${name}, numBeams ${numBeams}`);
      }
    }
    const peaked = await beamSearch(toyLanguageModel(PEAKED).step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.deepEqual(peaked.tokens, [A]);
  });

  it('stops as soon as no live beam can beat the worst finished one (2 steps on MYOPIC, not 20)', async () => {
    const model = toyLanguageModel(MYOPIC);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.equal(result.steps, 2);
    assert.equal(model.calls.length, 2);
  });
});

describe('beamSearch scores and stops as Hugging Face does', () => {
  it('divides by the generated length with eos counted, and keeps searching while a live beam can win', async () => {
    const model = toyLanguageModel(LONGER_WINS);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    // Stopping at the first 2 finished hypotheses would have returned the empty caption after step 2.
    assert.deepEqual(result.tokens, [A, C]);
    assert.equal(result.finishReason, 'eos');
    assert.equal(result.steps, 3);
    assert.ok(Math.abs(result.logProbability - Math.log(0.45 * 0.99 * 0.99)) < 1e-6);
    // Summed log-probability is not what is maximised: greedy's empty caption is more probable.
    const greedy = await greedyDecode(toyLanguageModel(LONGER_WINS).step, PREFIX, toyConfig());
    assert.deepEqual(greedy.tokens, []);
    assert.ok(greedy.logProbability > result.logProbability);
  });

  it('returns the empty caption with finishReason eos when eos comes first', async () => {
    for (const numBeams of [1, 2, 3]) {
      const result = await beamSearch(toyLanguageModel(EAGER).step, PREFIX, toyConfig({ numBeams }));
      assert.deepEqual(result.tokens, [], `numBeams ${numBeams}`);
      assert.equal(result.finishReason, 'eos');
      assert.ok(Math.abs(result.logProbability - Math.log(0.7)) < 1e-6);
      assert.ok(Number.isFinite(result.logProbability));
    }
  });

  it('reports a logProbability equal to the sum of its tokens’ log-probabilities (random tables)', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const table = randomToyTable(seed, 8);
      for (const numBeams of [2, 4]) {
        const model = toyLanguageModel(table, 8);
        const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams, maxNewTokens: 6 }));
        const expected = model.logProbabilityOf(PREFIX, result.tokens, result.finishReason === 'eos');
        assert.ok(Math.abs(result.logProbability - expected) < 1e-5, `seed ${seed}, numBeams ${numBeams}`);
        assert.ok(!result.tokens.includes(EOS), `seed ${seed}: eos inside the tokens`);
        assert.ok(result.tokens.length <= 6);
        if (result.finishReason === 'length') assert.equal(result.tokens.length, 6, `seed ${seed}: 'length' before the limit`);
      }
    }
  });
});

describe('beamSearch with one beam is greedy decoding', () => {
  const configs = [
    toyConfig(),
    toyConfig({ maxNewTokens: 3 }),
    toyConfig({ minNewTokens: 2 }),
    toyConfig({ repetitionPenalty: 1.5 }),
    toyConfig({ repetitionPenalty: 2, minNewTokens: 1, maxNewTokens: 4 }),
    toyConfig({ maxLength: 4 }),
  ];

  it('on the designed tables', async () => {
    for (const [name, table] of Object.entries({ MYOPIC, PEAKED, REPEATING, EAGER, ENDLESS, LONGER_WINS })) {
      for (const config of configs) {
        const greedy = await greedyDecode(toyLanguageModel(table).step, PREFIX, config);
        const beam = await beamSearch(toyLanguageModel(table).step, PREFIX, { ...config, numBeams: 1 });
        assert.deepEqual(beam, greedy, `${name}, ${JSON.stringify(config)}`);
      }
    }
  });

  it('on random tables, bit for bit', async () => {
    for (let seed = 100; seed < 160; seed++) {
      const table = randomToyTable(seed, 10);
      for (const config of configs) {
        const greedy = await greedyDecode(toyLanguageModel(table, 10).step, PREFIX, config);
        const beam = await beamSearch(toyLanguageModel(table, 10).step, PREFIX, { ...config, numBeams: 1 });
        assert.deepEqual(beam, greedy, `seed ${seed}, ${JSON.stringify(config)}`);
      }
    }
  });
});

describe('beamSearch limits and processors', () => {
  it('respects maxNewTokens', async () => {
    for (const maxNewTokens of [0, 1, 3, 5]) {
      for (const numBeams of [2, 3]) {
        const model = toyLanguageModel(ENDLESS);
        const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams, maxNewTokens }));
        assert.equal(result.tokens.length, maxNewTokens, `maxNewTokens ${maxNewTokens}, numBeams ${numBeams}`);
        assert.equal(result.finishReason, 'length');
        assert.equal(result.steps, maxNewTokens);
        assert.equal(model.calls.length, maxNewTokens);
      }
    }
    const repeating = await beamSearch(toyLanguageModel(REPEATING).step, PREFIX, toyConfig({ numBeams: 2, maxNewTokens: 3 }));
    assert.deepEqual(repeating.tokens, [A, A, A]);
    assert.equal(repeating.finishReason, 'length');
  });

  it('respects maxLength: prompt and caption fit the decoder, and no longer sequence is sent', async () => {
    const prefix = [BOS, C];
    const model = toyLanguageModel(ENDLESS);
    const result = await beamSearch(model.step, prefix, toyConfig({ numBeams: 3, maxLength: 5 }));
    assert.equal(prefix.length + result.tokens.length, 5);
    assert.equal(result.finishReason, 'length');
    for (const call of model.calls) for (const sequence of call) assert.ok(sequence.length < 5);
  });

  it('forbids eos until minNewTokens and takes it right after', async () => {
    for (const numBeams of [2, 3]) {
      const result = await beamSearch(toyLanguageModel(EAGER).step, PREFIX, toyConfig({ numBeams, minNewTokens: 2 }));
      assert.equal(result.tokens.length, 2, `numBeams ${numBeams}`);
      assert.equal(result.finishReason, 'eos');
    }
    const greedy = await greedyDecode(toyLanguageModel(EAGER).step, PREFIX, toyConfig({ minNewTokens: 2 }));
    assert.deepEqual(greedy.tokens, [A, A]);
    assert.equal(greedy.finishReason, 'eos');
  });

  it('lets the repetition penalty break a repeating caption', async () => {
    const plain = await greedyDecode(toyLanguageModel(REPEATING).step, PREFIX, toyConfig({ maxNewTokens: 5 }));
    assert.deepEqual(plain.tokens, [A, A, A, A, A]);
    assert.equal(plain.finishReason, 'length');
    // A's logit log 0.5 becomes 2 × log 0.5 = log 0.25 < log 0.3 (eos) once A is in the sequence.
    const penalised = await greedyDecode(toyLanguageModel(REPEATING).step, PREFIX, toyConfig({ maxNewTokens: 5, repetitionPenalty: 2 }));
    assert.deepEqual(penalised.tokens, [A]);
    assert.equal(penalised.finishReason, 'eos');
    // The reported probability is after processing: eos is 0.3 / (0.25 + 0.3 + 0.2) there.
    assert.ok(Math.abs(penalised.logProbability - Math.log(0.6 * 0.4)) < 1e-6);

    const beamPlain = await beamSearch(toyLanguageModel(REPEATING).step, PREFIX, toyConfig({ numBeams: 2, maxNewTokens: 5 }));
    const beamPenalised = await beamSearch(toyLanguageModel(REPEATING).step, PREFIX, toyConfig({ numBeams: 2, maxNewTokens: 5, repetitionPenalty: 2 }));
    assert.deepEqual(beamPlain.tokens, [A, A, A, A, A]);
    assert.notDeepEqual(beamPenalised.tokens, beamPlain.tokens);
    assert.equal(beamPenalised.finishReason, 'eos');
  });
});

describe('beamSearch and the decoder', () => {
  it('calls step once per step with every live beam, never more than numBeams', async () => {
    for (const [name, table] of Object.entries({ MYOPIC, REPEATING, EAGER, ENDLESS, LONGER_WINS })) {
      for (const numBeams of [2, 3, 4]) {
        const model = toyLanguageModel(table);
        const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams, maxNewTokens: 6 }));
        assert.equal(model.calls.length, result.steps, name);
        assert.deepEqual(model.calls[0], [PREFIX], `${name}: the first step runs the prefix alone`);
        model.calls.forEach((call, i) => {
          assert.ok(call.length >= 1 && call.length <= numBeams, `${name}, numBeams ${numBeams}, step ${i}: ${call.length} sequences`);
          assert.equal(new Set(call.map((s) => s.join(','))).size, call.length, `${name}: a beam sent twice`);
          for (const sequence of call) {
            assert.deepEqual(sequence.slice(0, PREFIX.length), PREFIX);
            assert.equal(sequence.length, PREFIX.length + i, `${name}: beams of one step have one length`);
          }
        });
      }
    }
    const model = toyLanguageModel(ENDLESS);
    await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 3, maxNewTokens: 4 }));
    assert.deepEqual(model.calls.map((call) => call.length), [1, 2, 3, 3], 'ENDLESS keeps 3 beams once it has them');
  });

  it('propagates a rejection of step', async () => {
    const boom = new Error('decoder unavailable');
    const inner = toyLanguageModel(MYOPIC).step;
    let calls = 0;
    const failing: DecodeStep = async (sequences) => {
      if (++calls === 2) throw boom;
      return inner(sequences);
    };
    await assert.rejects(beamSearch(failing, PREFIX, toyConfig({ numBeams: 3 })), (error) => error === boom);
  });

  it('rejects a step that returns the wrong number of rows', async () => {
    const short: DecodeStep = async () => [];
    await assert.rejects(beamSearch(short, PREFIX, toyConfig({ numBeams: 2 })), /0 rows of logits for 1 sequences/);
  });

  it('rejects a numBeams that is not a positive integer', async () => {
    for (const numBeams of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(beamSearch(toyLanguageModel(MYOPIC).step, PREFIX, toyConfig({ numBeams })), RangeError);
    }
  });
});
