/**
 * @module triton/decode-step
 * A DecodeStep that runs the caption decoder on the model server: each step pads every sequence
 * to the decoder's fixed length L with its attention mask and sends it with the image's
 * embeddings. Steps of concurrent captions have identical shapes, so Triton's dynamic batcher
 * merges them into one execution.
 */
import type { DecodeStep } from '../generation/index.js';
import { float32View, type RawTensor, type TritonClient } from './client.js';
import { decoderInputs } from './decoder-inputs.js';
import type { DecoderSpec } from './model-spec.js';

export interface DecodeStepOptions {
  /** One image's `image_embeds` row, [N, D] FP32 as raw bytes. */
  readonly imageEmbeds: RawTensor;
  readonly deadline: number;
  readonly requestId?: string;
}

export function tritonDecodeStep(client: TritonClient, spec: DecoderSpec, options: DecodeStepOptions): DecodeStep {
  const L = spec.maxLength;
  const row = options.imageEmbeds.raw;
  const [tokens, hidden] = options.imageEmbeds.shape.slice(-2) as [number, number];
  return async (sequences) => {
    const n = sequences.length;
    const { inputIds, attentionMask } = decoderInputs(sequences, L, spec.padTokenId);
    const embeds = new Uint8Array(n * row.byteLength);
    for (let i = 0; i < n; i++) embeds.set(row, i * row.byteLength);
    const out = await client.infer(
      spec.model,
      {
        input_ids: { datatype: 'INT64', shape: [n, L], raw: new Uint8Array(inputIds.buffer) },
        attention_mask: { datatype: 'INT64', shape: [n, L], raw: new Uint8Array(attentionMask.buffer) },
        image_embeds: { datatype: 'FP32', shape: [n, tokens, hidden], raw: embeds },
      },
      { deadline: options.deadline, requestId: options.requestId, outputs: [{ name: 'logits' }] },
    );
    const logits = float32View(out.get('logits')!.raw);
    const v = spec.vocabSize;
    // Copies per row: processors edit rows in place and must not touch the response buffer.
    return sequences.map((_, i) => logits.slice(i * v, (i + 1) * v));
  };
}
