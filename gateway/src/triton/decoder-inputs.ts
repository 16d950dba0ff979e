/**
 * @module triton/decoder-inputs
 * The caption decoder's fixed-length inputs: every sequence right-padded with the pad token to
 * length L (BLIP's absolute positions need right padding), and a mask of 1 on real tokens.
 */

export interface DecoderInputs {
  /** [n, L] INT64, row-major. */
  readonly inputIds: BigInt64Array;
  /** [n, L] INT64: 1 on real tokens, 0 on padding. */
  readonly attentionMask: BigInt64Array;
}

export function decoderInputs(sequences: ReadonlyArray<readonly number[]>, maxLength: number, padTokenId: number): DecoderInputs {
  const n = sequences.length;
  const inputIds = new BigInt64Array(n * maxLength).fill(BigInt(padTokenId));
  const attentionMask = new BigInt64Array(n * maxLength);
  sequences.forEach((seq, i) => {
    if (seq.length > maxLength) throw new Error(`sequence of ${seq.length} tokens exceeds the decoder's length ${maxLength}`);
    seq.forEach((t, j) => {
      inputIds[i * maxLength + j] = BigInt(t);
      attentionMask[i * maxLength + j] = 1n;
    });
  });
  return { inputIds, attentionMask };
}
