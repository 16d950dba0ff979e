/**
 * @module generation/types
 * The contract between the decode loop and whatever runs the decoder (Triton over gRPC, or
 * ONNX Runtime in-process): the loop only sees token sequences and logits.
 */

/**
 * One decoder step for several sequences of the same image: returns, per sequence, the logits
 * of its next token (length = vocabulary size). Implementations pad to the model's fixed
 * length and attach the image embeddings.
 */
export type DecodeStep = (sequences: ReadonlyArray<readonly number[]>) => Promise<Float32Array[]>;

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
