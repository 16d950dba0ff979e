/**
 * @module generation/generate
 * The single entry point for captioning: picks greedy decoding or beam search from the
 * configuration, as transformers.js's `getSampler` does from `num_beams`.
 */
import { beamSearch } from './beam-search.js';
import { greedyDecode } from './greedy-decode.js';
import type { DecodeStep, GenerationConfig, GenerationResult } from './types.js';

/**
 * Generates after `prefix` (start token and prompt ids): greedy decoding when
 * `config.numBeams` is 1, beam search with that many beams otherwise. There is no sampling
 * (`do_sample` is always false), so these are the only two strategies. An invalid numBeams
 * (not a positive integer) is rejected with a RangeError by beam search.
 *
 * @example
 * ```ts
 * const result = await generate(step, tokenizer.prefix(''), config);
 * const caption = tokenizer.decode(result.tokens);
 * ```
 */
export function generate(step: DecodeStep, prefix: readonly number[], config: GenerationConfig): Promise<GenerationResult> {
  return config.numBeams === 1 ? greedyDecode(step, prefix, config) : beamSearch(step, prefix, config);
}
