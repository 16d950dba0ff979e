/**
 * @module generation/beam-search
 * Beam search with Hugging Face's semantics for `num_beams` without sampling: `numBeams` live
 * hypotheses, one decoder call per step for all of them, the best 2 × numBeams continuations
 * kept, and length-normalised scores for finished captions.
 *
 * Follows transformers' `_beam_search` (generation/utils.py; compared with transformers 5.24's
 * own generate on toy models in hf-parity.test.ts):
 * - Scores are divided by the number of generated tokens, eos included (HF's
 *   `cur_len + 1 - decoder_prompt_len` for a hypothesis that ends in eos; a hypothesis cut by
 *   the limits counts its tokens). The prompt is not counted, so a caption's ranking does not
 *   depend on the prompt's length, and a caption that ends at once (length 1) stays finite.
 *   The length penalty is HF's default, 1.0 (`LENGTH_PENALTY`).
 * - Stopping is HF's default `early_stopping=False` heuristic: stop once numBeams hypotheses
 *   are finished and the best live beam, normalised by its current length, cannot beat the
 *   worst of them; otherwise run to the limits. Stopping at the first numBeams finished
 *   (`early_stopping=True`) would drop longer captions that the heuristic keeps looking for.
 * - Logits processors run after log-softmax, on the log-probabilities, as HF's beam search runs
 *   them (greedy decoding, HF's and `greedyDecode`, runs them on the raw logits). So a repetition
 *   penalty multiplies a repeated token's log-probability, and eos forbidden by min_new_tokens
 *   leaves the other log-probabilities as they were (not renormalised). Without processors,
 *   numBeams = 1 gives greedy's result to the bit; `generate` picks greedy for one beam anyway.
 *
 * Candidates with probability 0 (-Infinity, e.g. eos under `MinNewTokens`) are never kept,
 * so fewer than numBeams beams may run when the vocabulary is tiny.
 *
 * Each step asks the decoder for the best 2 × numBeams tokens of every beam, not the whole
 * vocabulary: the best 2 × numBeams continuations over all beams are each among their own
 * beam's best 2 × numBeams, so the search is the same, and a decoder that ranks on the server
 * sends a few dozen numbers per beam instead of the vocabulary.
 */
import type { DecodeStep, FinishReason, GenerationConfig, GenerationResult, StepCandidates } from './types.js';

/** HF's `length_penalty` default: scores are sum_logprobs / generated_length ** 1. */
export const LENGTH_PENALTY = 1.0;

/** A live hypothesis: generated tokens after the prefix and their summed log-probability. */
interface Beam {
  readonly tokens: readonly number[];
  readonly logProbability: number;
  /** The row of the previous step's sequences this beam continues (what a cached decoder reorders by). */
  readonly parent: number;
}

/** A continuation of one live beam by one token. */
interface Candidate {
  readonly beam: Beam;
  readonly token: number;
  readonly logProbability: number;
}

/** A hypothesis that left the beam: ended by eos, or cut by the limits. */
interface Hypothesis {
  readonly tokens: readonly number[];
  readonly logProbability: number;
  /** logProbability / generatedLength ** LENGTH_PENALTY. */
  readonly score: number;
  readonly finishReason: FinishReason;
}

/** HF's length-normalised score. `generatedLength` counts eos when the hypothesis ends in it. */
function normalisedScore(logProbability: number, generatedLength: number): number {
  // Only a hypothesis cut before any step has length 0; it is then the only one.
  return generatedLength === 0 ? logProbability : logProbability / generatedLength ** LENGTH_PENALTY;
}

/** The best `capacity` finished hypotheses by score, best first (HF's BeamHypotheses). */
class FinishedHypotheses {
  private readonly list: Hypothesis[] = [];

  constructor(private readonly capacity: number) {}

  get isFull(): boolean {
    return this.list.length >= this.capacity;
  }

  /** Score of the worst kept hypothesis; -Infinity while not full, so anything gets in. */
  get worstScore(): number {
    return this.isFull ? this.list[this.list.length - 1]!.score : -Infinity;
  }

  get best(): Hypothesis | undefined {
    return this.list[0];
  }

  add(hypothesis: Hypothesis): void {
    if (this.isFull && !(hypothesis.score > this.worstScore)) return;
    // After equal scores, so that among ties the earlier hypothesis stays ahead.
    let at = this.list.length;
    while (at > 0 && this.list[at - 1]!.score < hypothesis.score) at--;
    this.list.splice(at, 0, hypothesis);
    if (this.list.length > this.capacity) this.list.pop();
  }
}

/**
 * The `count` most probable continuations over all (beam, token) pairs, best first. Ties keep
 * beam then rank order (a decoder ranks equal scores by token id), so with one beam the first
 * is greedy's argmax.
 */
function topCandidates(beams: readonly Beam[], rows: readonly StepCandidates[], count: number): Candidate[] {
  const top: Candidate[] = [];
  beams.forEach((beam, b) => {
    const { ids, scores } = rows[b]!;
    for (let r = 0; r < ids.length; r++) {
      const logProbability = beam.logProbability + scores[r]!;
      // Also drops NaN; a zero-probability continuation is never worth a beam.
      if (!(logProbability > -Infinity)) continue;
      if (top.length === count && !(logProbability > top[count - 1]!.logProbability)) continue;
      let at = top.length;
      while (at > 0 && top[at - 1]!.logProbability < logProbability) at--;
      top.splice(at, 0, { beam, token: ids[r]!, logProbability });
      if (top.length > count) top.pop();
    }
  });
  return top;
}

/**
 * Generates after `prefix` (start token and prompt ids) with `config.numBeams` beams and returns
 * the best hypothesis by length-normalised score. Each step calls `step` once with every live
 * sequence (the first step with `prefix` alone, as all beams start equal), so a batching decoder
 * runs them as one batch. Rejections of `step` propagate.
 *
 * @example
 * ```ts
 * const result = await beamSearch(step, tokenizer.prefix('a picture of'), { ...config, numBeams: 3 });
 * tokenizer.decode(result.tokens); // the caption; result.finishReason is 'eos' or 'length'
 * ```
 */
export async function beamSearch(step: DecodeStep, prefix: readonly number[], config: GenerationConfig): Promise<GenerationResult> {
  const { numBeams, eosTokenId } = config;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new RangeError(`numBeams must be a positive integer, got ${numBeams}`);
  const finished = new FinishedHypotheses(numBeams);
  let live: Beam[] = [{ tokens: [], logProbability: 0, parent: 0 }];
  let generated = 0;
  let steps = 0;
  let done = false;

  while (!done && live.length > 0 && generated < config.maxNewTokens && prefix.length + generated < config.maxLength) {
    const sequences = live.map((beam) => [...prefix, ...beam.tokens]);
    // As HF's _beam_search: log-softmax first, then the processors on the log-probabilities.
    const scoring = { logSoftmaxFirst: true, repetitionPenalty: config.repetitionPenalty, suppressEos: generated < config.minNewTokens, candidates: 2 * numBeams };
    const last = generated + 1 >= config.maxNewTokens || prefix.length + generated + 1 >= config.maxLength;
    const rows = await step.next({ sequences, parents: live.map((beam) => beam.parent), scoring, last });
    steps++;
    if (rows.length !== sequences.length) {
      throw new Error(`decode step returned ${rows.length} rows of candidates for ${sequences.length} sequences`);
    }
    const candidates = topCandidates(live, rows, 2 * numBeams);
    generated++;

    const next: Beam[] = [];
    candidates.forEach((candidate, rank) => {
      if (candidate.token === eosTokenId) {
        // As HF: an eos outside the top numBeams would not have been a beam, so it may not finish one.
        if (rank < numBeams) {
          finished.add({
            tokens: candidate.beam.tokens,
            logProbability: candidate.logProbability,
            score: normalisedScore(candidate.logProbability, generated),
            finishReason: 'eos',
          });
        }
      } else if (next.length < numBeams) {
        next.push({ tokens: [...candidate.beam.tokens, candidate.token], logProbability: candidate.logProbability, parent: live.indexOf(candidate.beam) });
      }
    });
    live = next;

    // HF's early_stopping=False heuristic: the best live beam, scored at its current length,
    // must beat the worst of numBeams finished hypotheses to keep going.
    const bestLive = live[0];
    done = finished.isFull && (bestLive === undefined || finished.worstScore >= normalisedScore(bestLive.logProbability, generated));
  }

  // Cut by the limits before the search was done: live beams compete with the finished ones.
  if (!done) {
    for (const beam of live) {
      finished.add({
        tokens: beam.tokens,
        logProbability: beam.logProbability,
        score: normalisedScore(beam.logProbability, beam.tokens.length),
        finishReason: 'length',
      });
    }
  }

  const best = finished.best;
  if (best === undefined) throw new Error('beam search found no continuation with non-zero probability');
  return { tokens: [...best.tokens], finishReason: best.finishReason, logProbability: best.logProbability, steps };
}
