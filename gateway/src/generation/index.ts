/**
 * @module generation
 * The caption decode loop over a DecodeStep: greedy decoding or beam search (chosen by
 * `generate` from numBeams), the logits processors they share, and the DecodeStep over a
 * stateless decoder's logits (scoreLogits).
 */
export { beamSearch } from './beam-search.js';
export { CaptionTokenizer } from './caption-tokenizer.js';
export { generate } from './generate.js';
export { greedyDecode } from './greedy-decode.js';
export { buildProcessors, logSoftmax, MinNewTokens, RepetitionPenalty } from './logits-processors.js';
export { logSumExp, scoreLogits, scoreRow, topK } from './score-logits.js';
export type { LogitsProcessor } from './logits-processors.js';
export type { DecodeStep, FinishReason, GenerationConfig, GenerationResult, LogitsStep, StepCandidates, StepRequest, StepScoring } from './types.js';
