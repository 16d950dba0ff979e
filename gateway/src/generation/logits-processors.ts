/**
 * @module generation/logits-processors
 * Logits processors in the manner of transformers: each does one job on a row of logits in
 * place, and `buildProcessors` adds one only when its setting is not neutral.
 */
import type { GenerationConfig } from './types.js';

export interface LogitsProcessor {
  /** `sequence` is the whole sequence so far (start token and prompt included). */
  process(sequence: readonly number[], generated: number, logits: Float32Array): void;
}

/** Divides positive and multiplies negative logits of tokens already present (CTRL, 2019). */
export class RepetitionPenalty implements LogitsProcessor {
  constructor(private readonly penalty: number) {}

  process(sequence: readonly number[], _generated: number, logits: Float32Array): void {
    for (const token of new Set(sequence)) {
      const v = logits[token]!;
      logits[token] = v > 0 ? v / this.penalty : v * this.penalty;
    }
  }
}

/** Forbids eos until `min` tokens were generated. */
export class MinNewTokens implements LogitsProcessor {
  constructor(
    private readonly min: number,
    private readonly eosTokenId: number,
  ) {}

  process(_sequence: readonly number[], generated: number, logits: Float32Array): void {
    if (generated < this.min) logits[this.eosTokenId] = -Infinity;
  }
}

/** The processors `config` asks for, in transformers' order. */
export function buildProcessors(config: GenerationConfig): LogitsProcessor[] {
  const list: LogitsProcessor[] = [];
  if (config.repetitionPenalty !== 1) list.push(new RepetitionPenalty(config.repetitionPenalty));
  if (config.minNewTokens > 0) list.push(new MinNewTokens(config.minNewTokens, config.eosTokenId));
  return list;
}

/** log(softmax(logits)) of a row, computed stably. */
export function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logSum = max + Math.log(sum);
  return logits.map((v) => v - logSum);
}
