/**
 * @module triton/cached-decode-step
 * The DecodeStep of the cached decoder (model-tools/cached-decoder.md): one caption is one
 * Triton sequence, whose keys, values, image and tokens the model server keeps between steps
 * (sequence batching with implicit state). The first request carries the prefix and the image's
 * embeddings; each later one carries one token per beam and the beams' reorder (`beam_idx`), and
 * the answer is each beam's best tokens after the processors, not the vocabulary: bytes per
 * step instead of the stateless decoder's megabytes.
 *
 * What the sequence batcher asks of a client (shared/reference/triton-sequence-batcher.md §7):
 * every request has batch size 1, so each caption sends its own request per step (the server's
 * `oldest` strategy batches steps of different captions); one request of a sequence at a time
 * (the decode loop awaits each step); all of them over one stream, so they reach the same server
 * process; a string id unique per caption; and an end: `sequence_end` rides on the step that the
 * limits make the last, and a caption that stops earlier (eos, beam search done) sends one more
 * request with it, whose answer is ignored, so its slot is free at once instead of after
 * max_sequence_idle_microseconds.
 */
import { randomUUID } from 'node:crypto';
import type { DecodeStep, StepCandidates, StepRequest } from '../generation/index.js';
import { abortReason, GatewayError } from '../errors/index.js';
import { float32View, type RawTensor, type TritonClient } from './client.js';
import { asRequestDeadline, callDeadline } from './deadlines.js';
import type { DecodeStepOptions } from './decode-step.js';
import type { DecoderSpec } from './model-spec.js';

/** The DecodeStep of one caption over the cached decoder. */
export function cachedDecodeStep(client: TritonClient, spec: DecoderSpec, options: DecodeStepOptions): DecodeStep {
  if (spec.stepping.kind !== 'cached') throw new Error(`model '${spec.model}' is not a cached decoder`);
  const candidates = spec.stepping.candidates;
  const [n, d] = spec.embedsShape;
  if (options.imageEmbeds.raw.byteLength !== n * d * 4) {
    throw new GatewayError('GW_ERR_TRITON_INTERNAL', `image_embeds of shape [${options.imageEmbeds.shape.join(',')}] do not fit the decoder's [${n},${d}]`);
  }
  const id = randomUUID();
  const stream = client.pinStream();
  let started = false;
  let ended = false;

  const send = async (inputs: Record<string, RawTensor>, end: boolean, deadline: number, signal: AbortSignal | undefined) => {
    const sequence = { id, start: !started, end };
    started = true;
    ended ||= end;
    return client.inferStreamed(spec.model, inputs, {
      deadline,
      signal,
      stream,
      sequence,
      requestId: options.requestId,
      outputs: [{ name: 'top_ids' }, { name: 'top_scores' }, { name: 'log_normalizer' }],
    });
  };

  return {
    async next(request: StepRequest): Promise<StepCandidates[]> {
      if (ended) throw new Error(`sequence ${id} has ended`);
      const rows = request.sequences.length;
      if (request.scoring.candidates > candidates) {
        throw new GatewayError('GW_ERR_OPTION_INVALID', `${request.scoring.candidates} candidates per beam exceed the ${candidates} that '${spec.model}' returns`);
      }
      const deadline = callDeadline(options.deadline, options.callTimeoutMs ?? Infinity);
      const inputs = stepInputs(request, started, options.imageEmbeds, [n, d]);
      try {
        const out = await send(inputs, request.last, deadline, options.signal);
        return readCandidates(out, rows, request.scoring.candidates, candidates, spec.model);
      } catch (error) {
        if (options.signal?.aborted) throw abortReason(options.signal);
        throw asRequestDeadline(error, deadline, options.deadline);
      }
    },

    async end(): Promise<void> {
      if (!started || ended) return;
      // A pad token for one beam: the graph runs one cheap step, and the server frees the slot.
      const request: StepRequest = {
        sequences: [[spec.padTokenId]],
        parents: [0],
        scoring: { logSoftmaxFirst: false, repetitionPenalty: 1, suppressEos: false, candidates: 1 },
        last: true,
      };
      // Not bound to the caption's signal: a caption abandoned by its client still frees its slot.
      const deadline = Date.now() + (options.callTimeoutMs ?? 10_000);
      await send(stepInputs(request, true, options.imageEmbeds, [n, d]), true, deadline, undefined);
    },
  };
}

/** The request tensors of one step; every one has batch size 1 (the sequence batcher's rule). */
function stepInputs(request: StepRequest, started: boolean, image: RawTensor, [n, d]: readonly [number, number]): Record<string, RawTensor> {
  const beams = request.sequences.length;
  // At START the whole prefix (the same for every beam); afterwards each beam's newest token.
  const width = started ? 1 : request.sequences[0]!.length;
  const ids = new BigInt64Array(beams * width);
  request.sequences.forEach((s, b) => {
    for (let t = 0; t < width; t++) ids[b * width + t] = BigInt(s[s.length - width + t]!);
  });
  const parents = BigInt64Array.from(started ? request.parents : request.parents.map(() => 0), BigInt);
  const { scoring } = request;
  return {
    input_ids: { datatype: 'INT64', shape: [1, beams, width], raw: bytes(ids) },
    beam_idx: { datatype: 'INT64', shape: [1, beams], raw: bytes(parents) },
    // Later steps send a [1, 1] placeholder: the image lives in the server's state, and the other
    // shape keeps token steps out of the batches of first steps (states in one batch must agree).
    image_embeds: started ? { datatype: 'FP32', shape: [1, 1, 1], raw: new Uint8Array(4) } : { datatype: 'FP32', shape: [1, n, d], raw: image.raw },
    repetition_penalty: { datatype: 'FP32', shape: [1, 1], raw: bytes(Float32Array.of(scoring.repetitionPenalty)) },
    suppress_eos: { datatype: 'INT64', shape: [1, 1], raw: bytes(BigInt64Array.of(scoring.suppressEos ? 1n : 0n)) },
    normalize_scores: { datatype: 'INT64', shape: [1, 1], raw: bytes(BigInt64Array.of(scoring.logSoftmaxFirst ? 1n : 0n)) },
  };
}

function bytes(a: BigInt64Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Each beam's first `wanted` of the `k` candidates the model returned. */
function readCandidates(out: Map<string, RawTensor>, beams: number, wanted: number, k: number, model: string): StepCandidates[] {
  const ids = out.get('top_ids');
  const scores = out.get('top_scores');
  const norm = out.get('log_normalizer');
  if (!ids || !scores || !norm || ids.raw.byteLength !== beams * k * 8 || scores.raw.byteLength !== beams * k * 4 || norm.raw.byteLength !== beams * 4) {
    throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${model}' returned no top_ids/top_scores [${beams},${k}] and log_normalizer [${beams}]`);
  }
  const idValues = new BigInt64Array(Uint8Array.from(ids.raw).buffer);
  const scoreValues = float32View(scores.raw);
  const normValues = float32View(norm.raw);
  return Array.from({ length: beams }, (_, b) => ({
    ids: Array.from(idValues.subarray(b * k, b * k + wanted), Number),
    scores: scoreValues.subarray(b * k, b * k + wanted),
    logNormalizer: normValues[b]!,
  }));
}
