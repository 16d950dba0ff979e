/**
 * @module generation/beam-search.test
 * Beam search on toy language models whose right answers are worked out by hand or recorded from
 * transformers' own generate: it finds sequences greedy misses, answers as HF does (scoring,
 * stopping, ties, processors), equals greedy with one beam and no processors, honours the limits,
 * and batches every live beam into one decoder call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beamSearch } from './beam-search.js';
import {
  DESIGNED_TABLES,
  EAGER,
  ENDLESS,
  EOS_AMONG_TOP,
  LONGER_WINS,
  MYOPIC,
  NARROW,
  PEAKED,
  REPEATING,
  THREE_FINISH,
  TIES,
} from './fixtures/designed-tables.js';
import { differenceFromHf, hfCases, ourAnswer, recordedResults } from './fixtures/hf-cases.js';
import { A, B, BOS, C, D, EOS, randomToyTable, toyConfig, toyLanguageModel, VOCAB_SIZE } from './fixtures/toy-language-model.js';
import { greedyDecode } from './greedy-decode.js';
import { scoreLogits } from './score-logits.js';
import type { DecodeStep } from './types.js';

// The toy models are tables of next-token probabilities (input data for a pure algorithm, not a
// mock of the model server), in fixtures/designed-tables.ts with the sums worked out by hand.

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

  it('keeps greedy’s answer where greedy is already best (PEAKED: A eos, 0.72)', async () => {
    for (const numBeams of [2, 3, 5]) {
      const beam = await beamSearch(toyLanguageModel(PEAKED).step, PREFIX, toyConfig({ numBeams }));
      assert.deepEqual(beam.tokens, [A], `numBeams ${numBeams}`);
      assert.ok(Math.abs(beam.logProbability - Math.log(0.72)) < 1e-6);
    }
  });

  it('stops as soon as no live beam can beat the worst finished one (2 steps on MYOPIC, not 20)', async () => {
    const model = toyLanguageModel(MYOPIC);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.equal(result.steps, 2);
    assert.equal(model.calls.length, 2);
  });
});

describe('beamSearch answers as transformers’ generate does', () => {
  // hf-generate.json holds transformers 5.24's answers (hf_generate.py); hf-parity.test.ts checks
  // them against a live run. Designed and seeded random tables, 1-4 beams, with and without
  // max_new_tokens, min_new_tokens and repetition_penalty.
  it('on every recorded case: the same caption, finish reason and normalised score', async () => {
    const recorded = recordedResults();
    const cases = hfCases();
    assert.ok(cases.length > 600);
    const differences: string[] = [];
    for (const c of cases) {
      const hf = recorded[c.name];
      assert.ok(hf, `${c.name} is recorded (record again: see fixtures/hf-cases.ts)`);
      const difference = differenceFromHf(c, await ourAnswer(c), hf);
      if (difference) differences.push(difference);
    }
    assert.deepEqual(differences, []);
  });

  it('where each setting changes the caption (so none of them could be ignored and still agree)', async () => {
    const byName = new Map(hfCases().map((c) => [c.name, c]));
    const differing = async (a: string, b: string) => {
      let n = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const [x, y] = await Promise.all([ourAnswer(byName.get(`seed ${seed} ${a}`)!), ourAnswer(byName.get(`seed ${seed} ${b}`)!)]);
        if (x.tokens.join() !== y.tokens.join()) n++;
      }
      return n;
    };
    // Of the 30 seeded tables (16, 13, 9 and 11 when written).
    assert.ok((await differing('{"numBeams":1}', '{"numBeams":3}')) >= 5);
    assert.ok((await differing('{"numBeams":3}', '{"numBeams":3,"repetitionPenalty":1.5}')) >= 5);
    assert.ok((await differing('{"numBeams":3}', '{"numBeams":3,"minNewTokens":3}')) >= 5);
    assert.ok((await differing('{"numBeams":1}', '{"numBeams":1,"repetitionPenalty":1.5}')) >= 5);
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
    }
  });

  it('keeps only the best numBeams finished: a third, worse one does not keep the search going (THREE_FINISH)', async () => {
    const model = toyLanguageModel(THREE_FINISH);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.deepEqual(result.tokens, [A]);
    assert.equal(result.finishReason, 'eos');
    assert.equal(result.steps, 2);
    assert.equal(model.calls.length, 2);
  });

  it('stops on a tie between the best live beam and the worst finished (HF: worst >= best possible)', async () => {
    const model = toyLanguageModel(TIES);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 1 }));
    assert.deepEqual(result.tokens, []);
    assert.equal(result.finishReason, 'eos');
    assert.equal(result.steps, 1);
  });

  it('keeps the first found of two equally scored captions (TIES: A B before A C)', async () => {
    const result = await beamSearch(toyLanguageModel(TIES).step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.deepEqual(result.tokens, [A, B]);
    assert.ok(Math.abs(result.logProbability - Math.log(0.25)) < 1e-6);
  });

  it('refuses when no continuation has any probability, rather than inventing a caption', async () => {
    const impossible = scoreLogits(async (sequences) => sequences.map(() => new Float32Array(VOCAB_SIZE).fill(-Infinity)), EOS);
    await assert.rejects(beamSearch(impossible, PREFIX, toyConfig({ numBeams: 2 })), /no continuation with non-zero probability/);
    // The only caption is C, and min_new_tokens 2 forbids ending after one token.
    await assert.rejects(
      beamSearch(toyLanguageModel({ [BOS]: { [C]: 1 }, [C]: { [EOS]: 1 } }).step, PREFIX, toyConfig({ numBeams: 2, minNewTokens: 2 })),
      /no continuation/,
    );
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

describe('beamSearch with one beam and no processors is greedy decoding', () => {
  // With processors they differ as HF's do: beam search runs them on log-probabilities, greedy on
  // raw logits (generate.test.ts shows the difference; generate picks greedy for one beam).
  const configs = [toyConfig(), toyConfig({ maxNewTokens: 3 }), toyConfig({ maxNewTokens: 0 }), toyConfig({ maxLength: 4 })];

  it('on the designed tables', async () => {
    for (const [name, table] of Object.entries(DESIGNED_TABLES)) {
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
    for (const [name, table] of Object.entries(DESIGNED_TABLES)) {
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

  it('keeps numBeams live beams when an eos that may not finish takes a place among the best 2 × numBeams', async () => {
    const model = toyLanguageModel(EOS_AMONG_TOP);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.deepEqual(model.calls.map((call) => call.length), [1, 2, 2]);
    assert.deepEqual(model.calls[2], [[BOS, A, C], [BOS, B, D]]);
    assert.deepEqual(result.tokens, [A, C]);
  });

  it('stops once no beam is live, without calling the decoder on an empty batch (NARROW)', async () => {
    const model = toyLanguageModel(NARROW);
    const result = await beamSearch(model.step, PREFIX, toyConfig({ numBeams: 2 }));
    assert.deepEqual(model.calls, [[[BOS]], [[BOS, A]]]);
    assert.deepEqual([result.tokens, result.finishReason, result.steps], [[A], 'eos', 2]);
  });

  it('propagates a rejection of step', async () => {
    const boom = new Error('decoder unavailable');
    const inner = toyLanguageModel(MYOPIC).logits;
    let calls = 0;
    const failing = scoreLogits(async (sequences) => {
      if (++calls === 2) throw boom;
      return inner(sequences);
    }, EOS);
    await assert.rejects(beamSearch(failing, PREFIX, toyConfig({ numBeams: 3 })), (error) => error === boom);
  });

  it('rejects a step that returns the wrong number of rows', async () => {
    const short: DecodeStep = { next: async () => [], end: async () => {} };
    await assert.rejects(beamSearch(short, PREFIX, toyConfig({ numBeams: 2 })), /0 rows of candidates for 1 sequences/);
    // Over a stateless decoder, the logits' row count is checked first.
    await assert.rejects(beamSearch(scoreLogits(async () => [], EOS), PREFIX, toyConfig({ numBeams: 2 })), /0 rows of logits for 1 sequences/);
  });

  it('rejects a numBeams that is not a positive integer, naming it', async () => {
    for (const numBeams of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        beamSearch(toyLanguageModel(MYOPIC).step, PREFIX, toyConfig({ numBeams })),
        (error) => error instanceof RangeError && error.message === `numBeams must be a positive integer, got ${numBeams}`,
      );
    }
  });
});
