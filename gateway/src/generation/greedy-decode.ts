/**
 * @module generation/greedy-decode
 * Greedy decoding: one sequence, the most probable next token each step, until eos, the new
 * token budget, or the decoder's fixed length.
 */
import { buildProcessors, logSoftmax } from './logits-processors.js';
import type { DecodeStep, GenerationConfig, GenerationResult } from './types.js';

/** Generates after `prefix` (start token and prompt ids). */
export async function greedyDecode(step: DecodeStep, prefix: readonly number[], config: GenerationConfig): Promise<GenerationResult> {
  const processors = buildProcessors(config);
  const sequence = [...prefix];
  const tokens: number[] = [];
  let logProbability = 0;
  let steps = 0;
  while (tokens.length < config.maxNewTokens && sequence.length < config.maxLength) {
    const [logits] = await step([sequence]);
    steps++;
    for (const p of processors) p.process(sequence, tokens.length, logits!);
    const logProbs = logSoftmax(logits!);
    let best = 0;
    for (let i = 1; i < logProbs.length; i++) if (logProbs[i]! > logProbs[best]!) best = i;
    logProbability += logProbs[best]!;
    if (best === config.eosTokenId) return { tokens, finishReason: 'eos', logProbability, steps };
    tokens.push(best);
    sequence.push(best);
  }
  return { tokens, finishReason: 'length', logProbability, steps };
}
