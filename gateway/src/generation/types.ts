/**
 * @module generation/types
 * The contract between the decode loop and whatever runs the decoder (Triton over gRPC, or
 * ONNX Runtime in-process): the loop sends token sequences and gets each one's best next tokens.
 */

/**
 * One decoder call for several sequences of the same image: per sequence, the logits of its
 * next token (length = vocabulary size). What the stateless decoder returns; {@link scoreLogits}
 * turns it into a {@link DecodeStep}.
 */
export type LogitsStep = (sequences: ReadonlyArray<readonly number[]>) => Promise<Float32Array[]>;

/** How a step scores the next token, as transformers' generation loops do. */
export interface StepScoring {
  /**
   * false: the processors act on the raw logits (greedy decoding); true: on log_softmax(logits)
   * (beam search). transformers does each, and a repetition penalty gives other scores in each.
   */
  readonly logSoftmaxFirst: boolean;
  /** CTRL's penalty on every token already in the sequence; 1 = off. */
  readonly repetitionPenalty: number;
  /** eos gets -Infinity (min_new_tokens not reached yet). */
  readonly suppressEos: boolean;
  /** How many of the best tokens to return per sequence. */
  readonly candidates: number;
}

export interface StepRequest {
  /** Every live sequence, whole: start token, prompt and the tokens generated so far. */
  readonly sequences: ReadonlyArray<readonly number[]>;
  /**
   * For each sequence, the index in the previous request's `sequences` it continues (beam
   * search reorders and repeats beams); all zeros on the first step.
   */
  readonly parents: readonly number[];
  readonly scoring: StepScoring;
  /** No step follows this one (the limits are reached after it), so the step may end the caption. */
  readonly last: boolean;
}

/** A sequence's best next tokens after the processors. */
export interface StepCandidates {
  /** Token ids, best first (ties: lower id first). */
  readonly ids: ArrayLike<number>;
  /** Their processed scores. */
  readonly scores: ArrayLike<number>;
  /** logsumexp of the processed scores over the whole vocabulary: score - this = log-probability. */
  readonly logNormalizer: number;
}

/**
 * The decoder as the decode loop sees it, for one caption: `next` runs one step for all live
 * sequences; `end` tells the decoder the caption is over (a stateful decoder frees what it
 * holds; a stateless one has nothing to do). Implementations: {@link scoreLogits} over the
 * stateless decoder, the cached decoder's in triton/cached-decode-step.ts.
 */
export interface DecodeStep {
  next(request: StepRequest): Promise<StepCandidates[]>;
  end(): Promise<void>;
}

/** Generation settings, with Hugging Face's names and defaults. */
export interface GenerationConfig {
  /** Token the decoder starts from (BLIP's [DEC]). */
  readonly bosTokenId: number;
  /** Token that ends a caption (BLIP's [SEP]). */
  readonly eosTokenId: number;
  /** The decoder's fixed input length L: prompt + generated tokens never exceed it. */
  readonly maxLength: number;
  /** Most tokens to generate after the prompt (default 20). */
  readonly maxNewTokens: number;
  /** Fewest tokens before eos is allowed (default 0). */
  readonly minNewTokens: number;
  /** 1 = greedy; more = beam search with that many beams. */
  readonly numBeams: number;
  /** > 1 discourages repeating tokens (CTRL's penalty, as transformers applies it); 1 = off. */
  readonly repetitionPenalty: number;
}

export type FinishReason = 'eos' | 'length';

export interface GenerationResult {
  /** Generated token ids after the prompt, without the eos token. */
  readonly tokens: number[];
  readonly finishReason: FinishReason;
  /** Sum of the chosen tokens' log-probabilities (after logits processing). */
  readonly logProbability: number;
  /** Decoder steps run. */
  readonly steps: number;
}
