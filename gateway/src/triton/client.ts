/**
 * @module triton/client
 * A KServe v2 gRPC client for Triton (or the embedded model server): one long-lived channel,
 * tensors sent as `raw_input_contents` and read from `raw_output_contents` by name, a deadline
 * on every call, message limits raised for large tensors, keepalive left to Triton's policy.
 */
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type {
  GRPCInferenceServiceClient,
  InferParameter,
  ModelInferRequest,
  ModelInferResponse,
  RepositoryIndexResponse_ModelIndex,
} from '../../../proto/gen/grpc_service.js';
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { InferenceServiceDefinition } from '../../../proto/tensor-wire.js';
import { abortReason, type ErrorCode, GatewayError } from '../errors/index.js';
import { InferStreams } from './infer-stream.js';
import { toGatewayError } from './status-map.js';

/** A tensor as raw little-endian bytes, as the protocol carries it. */
export interface RawTensor {
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly raw: Uint8Array;
}

export interface InferOptions {
  /** Absolute deadline (ms since epoch); the call fails with 504 after it. */
  readonly deadline: number;
  /** Sent as the request `id`, which Triton echoes and logs. */
  readonly requestId?: string;
  /** Outputs to return; `classification` top-k replaces that output with `score:index:label`. */
  readonly outputs?: ReadonlyArray<{ name: string; classification?: number }>;
  /**
   * Aborting it abandons the call and rejects with the signal's reason: a unary call is
   * cancelled on the wire (the server drops it if still queued), a streamed one stops waiting.
   */
  readonly signal?: AbortSignal;
  /** The request belongs to a Triton sequence (sequence batcher): its id and flags. */
  readonly sequence?: { readonly id: string; readonly start: boolean; readonly end: boolean };
  /** {@link TritonClient.inferStreamed} only: the stream to use, from {@link TritonClient.pinStream}. */
  readonly stream?: number;
}

// Triton's own clients set both limits to INT32_MAX; grpc-js receives only 4 MiB by default and
// an encoder's batched embeddings pass that. Keepalive stays off: Triton treats pings more
// often than every 5 minutes without data as abuse (GOAWAY too_many_pings).
// round_robin: with a dns:///name:port target resolving to several Triton replicas, calls are
// spread over all of them (grpc-js's default, pick_first, would use one); with one address it is
// the same as pick_first. grpc-js takes the policy only through a service config.
// Reconnect backoff: grpc-js starts at 1 s and grows ×1.6 up to 120 s, so after an outage of a
// minute a restarted Triton went unnoticed for up to two more (a gateway whose Triton came up
// late took ~40 s). Attempts to a down server are cheap (a refused TCP connect), so the gateway
// retries from 100 ms and at least every second: captions resume within about a second of
// Triton being back (reconnect.test.ts).
export const RECONNECT_BACKOFF_MS = { initial: 100, max: 1000 } as const;
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': 2_147_483_647,
  'grpc.max_send_message_length': 2_147_483_647,
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS.initial,
  'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS.max,
};

// The generated client, serialising tensors with proto/tensor-wire.ts instead of ts-proto's copies.
const InferenceClient = makeGenericClientConstructor(InferenceServiceDefinition, 'inference.GRPCInferenceService') as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options: Record<string, unknown>,
) => GRPCInferenceServiceClient;

type Callback<T> = (err: ServiceError | null, res: T) => void;

/** A failed ModelInfer call as {@link TritonClientOptions.onCall} sees it. */
export interface ModelCallFailure {
  /** The gRPC status name, e.g. `UNAVAILABLE`; `UNKNOWN` when the call failed without one. */
  readonly grpcCode: string;
  /** The gateway's catalogue code the failure maps to, e.g. `GW_ERR_TRITON_UNAVAILABLE`. */
  readonly code: ErrorCode;
}

export interface TritonClientOptions {
  /**
   * Called after every ModelInfer call, successful or not, with its duration in seconds (for
   * metrics; this module knows nothing of them). It must not throw.
   */
  readonly onCall?: (model: string, seconds: number, failure?: ModelCallFailure) => void;
  /** ModelStreamInfer streams that {@link TritonClient.inferStreamed} spreads requests over (default 1). */
  readonly streams?: number;
}

export class TritonClient {
  private readonly client: GRPCInferenceServiceClient;
  private readonly onCall: TritonClientOptions['onCall'];
  private readonly streams: InferStreams;

  constructor(
    readonly address: string,
    options: TritonClientOptions = {},
  ) {
    this.client = new InferenceClient(address, credentials.createInsecure(), CHANNEL_OPTIONS);
    this.onCall = options.onCall;
    this.streams = new InferStreams(() => this.client.modelStreamInfer(), options.streams ?? 1);
  }

  private call<Req, Res>(
    method: (req: Req, md: Metadata, opts: { deadline: number }, cb: Callback<Res>) => { cancel(): void },
    req: Req,
    deadline: number,
    what: string,
    signal?: AbortSignal,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const onAbort = () => {
        reject(abortReason(signal!));
        call?.cancel();
      };
      let call: { cancel(): void } | undefined;
      try {
        call = method.call(this.client, req, new Metadata(), { deadline }, (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(toGatewayError(err, what));
          else resolve(res);
        });
      } catch (err) {
        // grpc-js throws at once on a closed client ("Channel has been shut down").
        return reject(toGatewayError({ code: status.UNAVAILABLE, details: (err as Error).message }, what));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** ServerReady; false (not an error) when the server is unreachable or not ready. */
  async serverReady(deadline: number): Promise<boolean> {
    try {
      return (await this.call(this.client.serverReady, {}, deadline, 'ServerReady')).ready;
    } catch {
      return false;
    }
  }

  /** ModelReady; NOT_FOUND and UNAVAILABLE mean "not ready", as Triton answers them. */
  async modelReady(name: string, deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.client.modelReady({ name, version: '' }, new Metadata(), { deadline }, (err, res) => {
        if (!err) resolve(res.ready);
        else resolve(false);
      });
    });
  }

  async modelConfig(name: string, deadline: number): Promise<ModelConfig> {
    const res = await this.call(this.client.modelConfig, { name, version: '' }, deadline, `ModelConfig '${name}'`);
    if (!res.config) throw toGatewayError({ code: status.INTERNAL, details: 'empty config' }, `ModelConfig '${name}'`);
    return res.config;
  }

  async repositoryIndex(deadline: number): Promise<RepositoryIndexResponse_ModelIndex[]> {
    return (await this.call(this.client.repositoryIndex, { repositoryName: '', ready: false }, deadline, 'RepositoryIndex')).models;
  }

  /** Runs `model` on `inputs` in a ModelInfer call; returns the outputs by name (Triton does not keep their order). */
  async infer(model: string, inputs: Readonly<Record<string, RawTensor>>, options: InferOptions): Promise<Map<string, RawTensor>> {
    const req = inferRequest(model, inputs, options);
    return this.retriedIfNeverSent(options, () =>
      this.timed(model, options.signal, () => this.call(this.client.modelInfer, req, options.deadline, `ModelInfer '${model}'`, options.signal)),
    );
  }

  /**
   * {@link infer} over a shared ModelStreamInfer stream: the same request and answer at about half
   * the CPU per call (see infer-stream.ts), so every inference on the request path uses it: an
   * encoder call at batch 1 took 1.9 ms instead of 2.8 on the embedded server. A request the
   * server refuses on the stream fails with the status its message names, and is never sent
   * again (a full queue would only get fuller).
   */
  async inferStreamed(model: string, inputs: Readonly<Record<string, RawTensor>>, options: InferOptions): Promise<Map<string, RawTensor>> {
    const req = inferRequest(model, inputs, options);
    return this.retriedIfNeverSent(options, () => this.timed(model, options.signal, () => this.streams.send(req, options.deadline, options.signal, options.stream)));
  }

  /** A stream for requests that must reach the same server process (a sequence's), in turn. */
  pinStream(): number {
    return this.streams.pin();
  }

  /**
   * Runs `attempt`, and once more when it failed without the request ever leaving this process
   * (no connection to the server: nothing ran, so nothing is run twice), after a random 50–250 ms
   * that spreads the retries of many callers, if the deadline leaves room. Nothing else is
   * retried: a refusal or a failure after sending is the answer.
   */
  private async retriedIfNeverSent<T>(options: InferOptions, attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      const delayMs = RETRY_JITTER_MS.min + Math.random() * (RETRY_JITTER_MS.max - RETRY_JITTER_MS.min);
      if (!neverSent(err) || options.signal?.aborted || Date.now() + delayMs >= options.deadline) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
      return attempt();
    }
  }

  private async timed(model: string, signal: AbortSignal | undefined, send: () => Promise<ModelInferResponse>): Promise<Map<string, RawTensor>> {
    const t0 = performance.now();
    let res: ModelInferResponse;
    try {
      res = await send();
    } catch (err) {
      // An abandoned call is the caller's decision, not a model-server failure.
      if (!signal?.aborted) this.onCall?.(model, (performance.now() - t0) / 1000, failureOf(err));
      throw err;
    }
    this.onCall?.(model, (performance.now() - t0) / 1000);
    const out = new Map<string, RawTensor>();
    res.outputs.forEach((o, i) => out.set(o.name, { datatype: o.datatype, shape: o.shape.map(Number), raw: res.rawOutputContents[i] ?? new Uint8Array(0) }));
    return out;
  }

  close(): void {
    this.streams.close();
    this.client.close();
  }
}

/** The random wait before the one retry of a request that never left (see retriedIfNeverSent). */
export const RETRY_JITTER_MS = { min: 50, max: 250 } as const;

/** grpc-js's words for a call that failed because no connection could be made: it was never sent. */
function neverSent(err: unknown): boolean {
  return err instanceof GatewayError && err.code === 'GW_ERR_TRITON_UNAVAILABLE' && /No connection established/.test(err.detail);
}

function inferRequest(model: string, inputs: Readonly<Record<string, RawTensor>>, options: InferOptions): ModelInferRequest {
  const names = Object.keys(inputs);
  return {
    modelName: model,
    modelVersion: '',
    id: options.requestId ?? '',
    // Triton's queue drops the request once this passes (with the model's queue policy allowing
    // timeout overrides), instead of running work whose caller has stopped waiting.
    parameters: {
      timeout: { int64Param: BigInt(Math.max(1, Math.ceil(options.deadline - Date.now())) * 1000) },
      // As NVIDIA's clients send them: a string id, and both flags on every request of a sequence.
      ...(options.sequence
        ? { sequence_id: { stringParam: options.sequence.id }, sequence_start: { boolParam: options.sequence.start }, sequence_end: { boolParam: options.sequence.end } }
        : {}),
    },
    inputs: names.map((name) => ({
      name,
      datatype: inputs[name]!.datatype,
      shape: inputs[name]!.shape.map(BigInt),
      parameters: {},
      contents: undefined,
    })),
    outputs: (options.outputs ?? []).map((o) => {
      const parameters: Record<string, InferParameter> = {};
      if (o.classification) parameters['classification'] = { int64Param: BigInt(o.classification) };
      return { name: o.name, parameters };
    }),
    rawInputContents: names.map((n) => inputs[n]!.raw),
  };
}

/** The gRPC status name and catalogue code of an error {@link toGatewayError} made. */
function failureOf(err: unknown): ModelCallFailure {
  const grpc = err instanceof GatewayError ? (err.cause as Partial<ServiceError> | undefined)?.code : undefined;
  return {
    grpcCode: grpc !== undefined ? (status[grpc] ?? String(grpc)) : 'UNKNOWN',
    code: err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL',
  };
}

/** Float32 values of raw bytes; copies only when the bytes are not 4-byte aligned. */
export function float32View(raw: Uint8Array): Float32Array {
  if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  // Uint8Array.from copies; a Buffer's own .slice() would return a view of the same memory.
  return new Float32Array(Uint8Array.from(raw).buffer);
}
