/**
 * @module triton/decode-step
 * Runs caption decoder steps on the model server.
 *
 * Each step pads every sequence to the decoder's fixed length L with its attention mask and
 * attaches its image's embeddings, so steps of different captions have identical shapes and
 * batch together. Steps issued in the same turn of the event loop (concurrent captions whose
 * previous steps came back in one read) travel as one ModelInfer request of batch n: one RPC
 * instead of n, which is most of the gateway's CPU per token under load. A caption alone still
 * goes out at once (the wait is one `setImmediate`, microseconds). Triton's dynamic batcher
 * merges these requests further, with those of other gateway replicas.
 */
import type { LogitsStep } from '../generation/index.js';
import { abortReason, GatewayError } from '../errors/index.js';
import { float32View, type RawTensor, type TritonClient } from './client.js';
import { asRequestDeadline, callDeadline } from './deadlines.js';
import { decoderInputs } from './decoder-inputs.js';
import type { StatelessDecoderSpec } from './model-spec.js';

export interface DecodeStepOptions {
  /** One image's `image_embeds` row, [N, D] FP32 as raw bytes. */
  readonly imageEmbeds: RawTensor;
  /** Absolute deadline (ms since epoch) of the whole caption: no step runs past it. */
  readonly deadline: number;
  /**
   * Each step's own budget, ms (TRITON_TIMEOUT_MS): a step's call gets
   * min(`deadline`, start + `callTimeoutMs`). Without it a step may use the caption's whole budget.
   */
  readonly callTimeoutMs?: number;
  readonly requestId?: string;
  /** Aborted when the caption is abandoned: its step stops waiting (rejects with the reason). */
  readonly signal?: AbortSignal;
}

interface PendingStep {
  readonly sequences: ReadonlyArray<readonly number[]>;
  readonly options: DecodeStepOptions;
  /** This step's call deadline (see {@link callDeadline}). */
  readonly deadline: number;
  readonly resolve: (logits: Float32Array[]) => void;
  readonly reject: (error: unknown) => void;
}

export class DecoderStepBatcher {
  private pending: PendingStep[] = [];
  private flushScheduled = false;

  constructor(
    private readonly client: TritonClient,
    private readonly spec: StatelessDecoderSpec,
  ) {}

  /** The decoder calls of one caption: its sequences' next-token logits, given its image. */
  stepFor(options: DecodeStepOptions): LogitsStep {
    if (options.imageEmbeds.raw.byteLength !== this.rowBytes()) {
      throw new GatewayError('GW_ERR_TRITON_INTERNAL', `image_embeds of shape [${options.imageEmbeds.shape.join(',')}] do not fit the decoder's [${this.spec.embedsShape.join(',')}]`);
    }
    return (sequences) =>
      new Promise((resolve, reject) => {
        if (sequences.length > this.spec.maxBatchSize) {
          reject(new GatewayError('GW_ERR_OPTION_INVALID', `${sequences.length} sequences exceed the decoder's max_batch_size ${this.spec.maxBatchSize}`));
          return;
        }
        const deadline = callDeadline(options.deadline, options.callTimeoutMs ?? Infinity);
        this.pending.push({ sequences, options, deadline, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      });
  }

  private rowBytes(): number {
    return this.spec.embedsShape[0] * this.spec.embedsShape[1] * 4;
  }

  /** Sends what is pending in requests of at most max_batch_size rows. */
  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = [];
    let group: PendingStep[] = [];
    let rows = 0;
    for (const step of pending) {
      if (rows + step.sequences.length > this.spec.maxBatchSize) {
        void this.send(group);
        group = [];
        rows = 0;
      }
      group.push(step);
      rows += step.sequences.length;
    }
    if (group.length > 0) void this.send(group);
  }

  private async send(group: readonly PendingStep[]): Promise<void> {
    const { spec } = this;
    const sequences = group.flatMap((s) => s.sequences);
    const n = sequences.length;
    const L = spec.maxLength;
    const rowBytes = this.rowBytes();
    const { inputIds, attentionMask } = decoderInputs(sequences, L, spec.padTokenId);
    const embeds = new Uint8Array(n * rowBytes);
    let row = 0;
    for (const step of group) {
      for (let i = 0; i < step.sequences.length; i++) embeds.set(step.options.imageEmbeds.raw, row++ * rowBytes);
    }
    // The call may run until the latest member's deadline; members with an earlier one stop
    // waiting at theirs, so no step outlives its own deadline.
    const deadline = Math.max(...group.map((s) => s.deadline));
    const requestId = group.map((s) => s.options.requestId).filter(Boolean).join(',');
    const timers = group.map((step) =>
      step.deadline < deadline ? setTimeout(() => step.reject(expired(step, spec.model)), step.deadline - Date.now()) : undefined,
    );
    // An abandoned member stops waiting at once; once every member is abandoned, so is the call.
    const abandon = new AbortController();
    let abandoned = 0;
    const unlisten = group.map((step) => {
      const signal = step.options.signal;
      if (!signal) return () => {};
      const onAbort = () => {
        step.reject(abortReason(signal));
        if (++abandoned === group.length) abandon.abort(abortReason(signal));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      return () => signal.removeEventListener('abort', onAbort);
    });
    try {
      const out = await this.client.inferStreamed(
        spec.model,
        {
          input_ids: { datatype: 'INT64', shape: [n, L], raw: new Uint8Array(inputIds.buffer) },
          attention_mask: { datatype: 'INT64', shape: [n, L], raw: new Uint8Array(attentionMask.buffer) },
          image_embeds: { datatype: 'FP32', shape: [n, ...spec.embedsShape], raw: embeds },
        },
        { deadline, requestId, outputs: [{ name: 'logits' }], signal: abandon.signal },
      );
      const logits = out.get('logits');
      if (!logits || logits.raw.byteLength !== n * spec.vocabSize * 4) {
        throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${spec.model}' returned no logits of shape [${n},${spec.vocabSize}]`);
      }
      const values = float32View(logits.raw);
      const v = spec.vocabSize;
      let first = 0;
      for (const step of group) {
        // Copies per row: logits processors edit rows in place and must not touch the response.
        step.resolve(step.sequences.map((_, i) => values.slice((first + i) * v, (first + i + 1) * v)));
        first += step.sequences.length;
      }
    } catch (error) {
      for (const step of group) step.reject(asRequestDeadline(error, step.deadline, step.options.deadline));
    } finally {
      for (const t of timers) clearTimeout(t);
      for (const off of unlisten) off();
    }
  }
}

/** The error of a step that stopped waiting at its own deadline, earlier than its batch's call. */
function expired(step: PendingStep, model: string): GatewayError {
  const detail = `ModelStreamInfer '${model}': decoder step did not finish before its deadline`;
  return step.deadline >= step.options.deadline ? new GatewayError('GW_ERR_DEADLINE', detail) : new GatewayError('GW_ERR_TRITON_DEADLINE', detail);
}
