/**
 * @module generation/score-logits
 * The DecodeStep over a stateless decoder that returns whole rows of logits: the processors
 * and the choice of the best tokens run here, in the gateway, exactly as the cached decoder
 * runs them inside its graph (model-tools/cached-decoder.md), so both give the same captions.
 */
import { logSoftmax, RepetitionPenalty } from './logits-processors.js';
import type { DecodeStep, LogitsStep, StepCandidates, StepScoring } from './types.js';

/** `logits` as a DecodeStep; nothing is held between steps, so `end` does nothing. */
export function scoreLogits(logits: LogitsStep, eosTokenId: number): DecodeStep {
  return {
    async next({ sequences, scoring }) {
      const rows = await logits(sequences);
      if (rows.length !== sequences.length) throw new Error(`decode step returned ${rows.length} rows of logits for ${sequences.length} sequences`);
      return rows.map((row, i) => scoreRow(row, sequences[i]!, scoring, eosTokenId));
    },
    end: async () => {},
  };
}

/** One row's candidates: processors in transformers' order, then the best `candidates` tokens. */
export function scoreRow(logits: Float32Array, sequence: readonly number[], scoring: StepScoring, eosTokenId: number): StepCandidates {
  const scores = scoring.logSoftmaxFirst ? logSoftmax(logits) : logits;
  if (scoring.repetitionPenalty !== 1) new RepetitionPenalty(scoring.repetitionPenalty).process(sequence, 0, scores);
  if (scoring.suppressEos) scores[eosTokenId] = -Infinity;
  return { ...topK(scores, scoring.candidates), logNormalizer: logSumExp(scores) };
}

/** The `k` largest values and their indices, best first; equal values keep the lower index first (as ONNX TopK). */
export function topK(values: Float32Array, k: number): { ids: Int32Array; scores: Float32Array } {
  const n = Math.min(k, values.length);
  const ids = new Int32Array(n);
  const scores = new Float32Array(n).fill(-Infinity);
  let filled = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // NaN never enters; -Infinity enters only while there is room, as TopK returns them too.
    if (filled === n && !(v > scores[n - 1]!)) continue;
    if (Number.isNaN(v)) continue;
    let at = filled < n ? filled++ : n - 1;
    while (at > 0 && scores[at - 1]! < v) {
      scores[at] = scores[at - 1]!;
      ids[at] = ids[at - 1]!;
      at--;
    }
    scores[at] = v;
    ids[at] = i;
  }
  return { ids, scores };
}

/** log(sum(exp(values))), computed stably; -Infinity when every value is. */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}
