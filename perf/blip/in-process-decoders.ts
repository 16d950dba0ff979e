/**
 * @module perf/blip/in-process-decoders
 * The two caption decoders run in this process on ONNX Runtime, greedy with eos suppressed so
 * every caption has the same number of steps: the limit of each decoder without gRPC or HTTP.
 *  - stateless: the whole right-padded prefix and the image every step, logits back, argmax here;
 *  - cached (model-tools/cached-decoder.md): the state fed back by hand as Triton's onnxruntime
 *    backend feeds implicit state (zeros at START, each output state the next input), one token
 *    per caption per step, the graph's top token taken.
 * Both return a `step()` that runs one decoder step for the whole batch.
 */
import * as ort from 'onnxruntime-node';
import { decoderInputs } from '../../gateway/src/triton/decoder-inputs.js';
import type { StatelessDecoderSpec } from '../../gateway/src/triton/model-spec.js';
import type { ModelConfig } from '../../proto/gen/model_config.js';
import { DataType } from '../../proto/gen/model_config.js';

export type BatchDecoder = () => Promise<void>;

/** The stateless decoder over `embeds` [B, N, D]. */
export function statelessDecoder(session: ort.InferenceSession, decoder: StatelessDecoderSpec, embeds: ort.Tensor): BatchDecoder {
  const batch = embeds.dims[0]!;
  const seqs = Array.from({ length: batch }, () => [decoder.bosTokenId]);
  return async () => {
    const { inputIds, attentionMask } = decoderInputs(seqs, decoder.maxLength, decoder.padTokenId);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', inputIds, [batch, decoder.maxLength]),
      attention_mask: new ort.Tensor('int64', attentionMask, [batch, decoder.maxLength]),
      image_embeds: embeds,
    });
    const logits = out['logits']!.data as Float32Array;
    const v = decoder.vocabSize;
    seqs.forEach((s, i) => {
      let best = -1;
      for (let t = 0, top = -Infinity; t < v; t++) if (t !== decoder.eosTokenId && logits[i * v + t]! > top) [top, best] = [logits[i * v + t]!, t];
      s.push(best);
    });
  };
}

/** The cached decoder over `embeds` [B, N, D]: B captions of one beam each, batched as the sequence batcher batches them. */
export function cachedDecoder(session: ort.InferenceSession, config: ModelConfig, bosTokenId: number, embeds: ort.Tensor): BatchDecoder {
  const batch = embeds.dims[0]!;
  const states = config.sequenceBatching!.state;
  // Zeros of the initial state's dims (-1 read as 1), one per caption.
  let past: Record<string, ort.Tensor> = Object.fromEntries(
    states.map((s) => {
      const dims = [batch, ...(s.initialState[0]?.dims ?? s.dims).map((d) => Math.max(1, Number(d)))];
      const n = dims.reduce((a, b) => a * b, 1);
      return [s.inputName, s.dataType === DataType.TYPE_INT64 ? new ort.Tensor('int64', new BigInt64Array(n), dims) : new ort.Tensor('float32', new Float32Array(n), dims)];
    }),
  );
  let next = new BigInt64Array(batch).fill(BigInt(bosTokenId));
  let started = false;
  const int64 = (value: bigint) => new ort.Tensor('int64', new BigInt64Array(batch).fill(value), [batch, 1]);
  return async () => {
    const out = await session.run({
      input_ids: new ort.Tensor('int64', next, [batch, 1, 1]),
      beam_idx: new ort.Tensor('int64', new BigInt64Array(batch), [batch, 1]),
      image_embeds: started ? new ort.Tensor('float32', new Float32Array(batch), [batch, 1, 1]) : embeds,
      repetition_penalty: new ort.Tensor('float32', new Float32Array(batch).fill(1), [batch, 1]),
      // eos suppressed: every caption runs all its steps.
      suppress_eos: int64(1n),
      normalize_scores: int64(0n),
      START: new ort.Tensor('float32', new Float32Array(batch).fill(started ? 0 : 1), [batch, 1]),
      ...past,
    });
    started = true;
    past = Object.fromEntries(states.map((s) => [s.inputName, out[s.outputName]!]));
    const top = out['top_ids']!;
    const k = top.dims[2]!;
    const ids = top.data as BigInt64Array;
    next = BigInt64Array.from({ length: batch }, (_, b) => ids[b * k]!);
  };
}
