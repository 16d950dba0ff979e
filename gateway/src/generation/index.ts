/**
 * @module generation
 * The caption decode loop: greedy decoding and logits processors over a DecodeStep.
 */
export { CaptionTokenizer } from './caption-tokenizer.js';
export { greedyDecode } from './greedy-decode.js';
export { buildProcessors, logSoftmax, MinNewTokens, RepetitionPenalty } from './logits-processors.js';
export type { LogitsProcessor } from './logits-processors.js';
export type { DecodeStep, FinishReason, GenerationConfig, GenerationResult } from './types.js';
