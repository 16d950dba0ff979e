/**
 * @module generation/greedy-decode
 * Greedy decoding: one sequence, the most probable next token each step, until eos, the new
 * token budget, or the decoder's fixed length. The processors act on the raw logits, as
 * transformers' greedy search runs them.
 */
import type { DecodeStep, GenerationConfig, GenerationResult } from './types.js';

/** Generates after `prefix` (start token and prompt ids). */
export async function greedyDecode(step: DecodeStep, prefix: readonly number[], config: GenerationConfig): Promise<GenerationResult> {
  const sequence = [...prefix];
  const tokens: number[] = [];
  let logProbability = 0;
  let steps = 0;
  const more = () => tokens.length < config.maxNewTokens && sequence.length < config.maxLength;
  while (more()) {
    const scoring = { logSoftmaxFirst: false, repetitionPenalty: config.repetitionPenalty, suppressEos: tokens.length < config.minNewTokens, candidates: 1 };
    const last = tokens.length + 1 >= config.maxNewTokens || sequence.length + 1 >= config.maxLength;
    const [best] = await step.next({ sequences: [sequence], parents: [0], scoring, last });
    steps++;
    const token = best!.ids[0]!;
    // Rounded to float32, as log_softmax's values are: one-beam search sums the same numbers.
    logProbability += Math.fround(best!.scores[0]! - best!.logNormalizer);
    if (token === config.eosTokenId) return { tokens, finishReason: 'eos', logProbability, steps };
    tokens.push(token);
    sequence.push(token);
  }
  return { tokens, finishReason: 'length', logProbability, steps };
}
