/**
 * @module grpc/inference-handlers
 * GRPCInferenceService handlers over the model manager, answering as tritonserver 2.51 does
 * (checked side by side by conformance/tritonclient_conformance.py). Shared-memory, trace and log
 * RPCs are left out on purpose: grpc-js answers UNIMPLEMENTED for them, as the protocol allows,
 * and a tensor naming a shared-memory region gets Triton's answer for an unregistered one.
 */
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import type {
  ModelInferRequest,
  ModelInferResponse,
  ModelMetadataResponse_TensorMetadata,
  ModelStatistics,
  ModelStreamInferResponse,
} from '../../../proto/gen/grpc_service.js';
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { asServerError, invalidArgument, unavailable, unimplemented } from '../errors.js';
import { buildInferResponse } from '../inference/build-response.js';
import { incompleteStringError, parseInferRequest } from '../inference/parse-request.js';
import type { SequenceParameters } from '../inference/request-parameters.js';
import type { ModelManager } from '../models/model-manager.js';
import { datatypeFromConfig } from '../tensors/datatype.js';

export interface ServerState {
  readonly manager: ModelManager;
  readonly name: string;
  readonly version: string;
  /** False until start-up loading is done and again once shutdown begins. */
  accepting: boolean;
  /**
   * Ends each open ModelStreamInfer stream once its requests are answered. Shutdown calls them:
   * a client keeps its streams open indefinitely, and grpc-js's tryShutdown waits for every call.
   */
  readonly openStreams: Set<() => void>;
}

/**
 * Extensions this server implements, in Triton's order. Triton 2.51 lists more: system_shared_memory and cuda_shared_memory (those RPCs answer
 * UNIMPLEMENTED here), binary_tensor_data (an extension of the HTTP/REST protocol, which this
 * gRPC-only server does not speak), trace and logging (no such RPCs here).
 */
export const EXTENSIONS = [
  'classification',
  'sequence',
  'model_repository',
  'model_repository(unload_dependents)',
  'schedule_policy',
  'model_configuration',
  'parameters',
  'statistics',
];

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** Adapts an async handler: thrown InferenceServerErrors become their gRPC status. */
function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res): Unary<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err) => {
          const e = asServerError(err);
          callback({ code: e.code, details: e.message });
        },
      );
  };
}

function tensorMetadata(entries: ModelConfig['input'] | ModelConfig['output'], batching: boolean): ModelMetadataResponse_TensorMetadata[] {
  return entries.map((e) => ({
    name: e.name,
    datatype: datatypeFromConfig(e.dataType) ?? 'INVALID',
    shape: batching ? [-1n, ...e.dims] : [...e.dims],
  }));
}

/**
 * A signal aborted once `call` is over for its client: grpc-js emits 'cancelled' when the client
 * cancels, when the call's deadline passes, and (too late to matter) after the answer went out.
 * Triton cancels the call's request in the first two cases (server src/grpc/infer_handler.h,
 * Context::IssueRequestCancellation); the scheduler decides what that withdraws.
 */
function abandonment(call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort());
  return controller.signal;
}

async function infer(state: ServerState, req: ModelInferRequest, signal?: AbortSignal): Promise<ModelInferResponse> {
  if (!state.accepting) throw unavailable('Server not ready');
  const model = state.manager.resolve(req.modelName, req.modelVersion);
  // Refused requests never reach a model in Triton, so they are not in its statistics.
  const parsed = parseInferRequest(req, model);
  const incomplete = incompleteStringError(parsed.job);
  if (incomplete !== undefined) {
    // Triton's backends refuse this while executing: a failed request of the model.
    model.stats.recordFail(1n);
    throw invalidArgument(incomplete);
  }
  const outputs = await model.infer({ ...parsed.job, signal });
  const response = buildInferResponse(model, req.id, parsed.outputs, outputs);
  if (model.config.platform === 'ensemble') Object.assign(response.parameters, sequenceParameters(parsed.sequence));
  return response;
}

/**
 * What Triton's ensemble scheduler adds to every ensemble response: the request's correlation id
 * and sequence flags, as the composing models' outputs carry them (ensemble_scheduler.cc).
 */
function sequenceParameters(sequence: SequenceParameters): ModelInferResponse['parameters'] {
  return {
    sequence_id: typeof sequence.id === 'string' ? { stringParam: sequence.id } : { int64Param: sequence.id },
    sequence_start: { boolParam: sequence.start },
    sequence_end: { boolParam: sequence.end },
  };
}

/**
 * The ModelStreamInfer answer to a request that failed, as Triton 2.51 sends it (stream error
 * mode): `error_message`, and an `infer_response` holding nothing but the request's `id` (empty
 * when the request had none): no model name or version, no parameters, no
 * `triton_final_response`. Clients match it to its request by that id.
 */
export function streamErrorResponse(req: ModelInferRequest, err: unknown): ModelStreamInferResponse {
  return {
    errorMessage: asServerError(err).message,
    inferResponse: { modelName: '', modelVersion: '', id: req.id, parameters: {}, outputs: [], rawOutputContents: [] },
  };
}

export function inferenceHandlers(state: ServerState): UntypedServiceImplementation {
  const { manager } = state;
  const repositoryCheck = (repositoryName: string) => {
    if (repositoryName !== '') throw unimplemented(`'repository_name' specification is not supported`);
  };
  const explicitOnly = () => {
    if (state.manager.controlMode !== 'explicit') {
      throw unavailable('explicit model load / unload is not allowed if polling is enabled');
    }
  };
  return {
    serverLive: unary(() => ({ live: true })),
    serverReady: unary(() => ({ ready: state.accepting && manager.isReady() })),
    modelReady: unary((req: { name: string; version: string }) => ({ ready: manager.isModelReady(req.name, req.version) })),
    serverMetadata: unary(() => ({ name: state.name, version: state.version, extensions: EXTENSIONS })),
    modelMetadata: unary((req: { name: string; version: string }) => {
      const model = manager.resolve(req.name, req.version);
      const batching = model.config.maxBatchSize > 0;
      return {
        name: model.name,
        versions: req.version !== '' ? [String(model.version)] : manager.readyVersions(model.name).map(String),
        platform: model.config.platform || model.config.backend,
        inputs: tensorMetadata(model.config.input, batching),
        outputs: tensorMetadata(model.config.output, batching),
      };
    }),
    modelConfig: unary((req: { name: string; version: string }) => ({ config: manager.resolve(req.name, req.version).config })),
    modelInfer: unary((req: ModelInferRequest, call) => infer(state, req, abandonment(call))),
    modelStreamInfer: (call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>) => {
      // Each request is answered on the stream as soon as it finishes; errors travel in
      // error_message and keep the stream open, as in Triton's default stream error mode.
      let pending = 0;
      let ended = false;
      let closed = false;
      const maybeEnd = () => {
        if (!ended || pending > 0 || closed) return;
        closed = true;
        state.openStreams.delete(drain);
        call.end();
      };
      const drain = () => {
        ended = true;
        maybeEnd();
      };
      state.openStreams.add(drain);
      // A signal per request, not one for the stream: each queued request listens on its own.
      const inFlight = new Set<AbortController>();
      call.on('data', (req: ModelInferRequest) => {
        pending++;
        const request = new AbortController();
        inFlight.add(request);
        // Nothing is written to a cancelled stream, as Triton skips it (stream_infer_handler.cc).
        infer(state, req, request.signal).then(
          (res) => {
            res.parameters['triton_final_response'] = { boolParam: true };
            if (!call.cancelled) call.write({ errorMessage: '', inferResponse: res });
          },
          (err) => {
            if (!call.cancelled) call.write(streamErrorResponse(req, err));
          },
        ).finally(() => {
          inFlight.delete(request);
          pending--;
          maybeEnd();
        });
      });
      call.on('end', drain);
      call.on('cancelled', () => {
        state.openStreams.delete(drain);
        // Triton cancels every request of a cancelled stream that is still in flight
        // (IssueRequestCancellation over the stream's context); none is left after a normal end.
        for (const request of inFlight) request.abort();
      });
    },
    modelStatistics: unary((req: { name: string; version: string }) => {
      const stats: ModelStatistics[] = [];
      const names = req.name ? [req.name] : manager.loadedModelNames();
      for (const name of names) {
        const models = manager.loadedVersions(name);
        if (req.name && models.length === 0) throw invalidArgument(`requested model '${name}' is not available`);
        for (const m of models) if (!req.version || String(m.version) === req.version) stats.push(m.stats.snapshot());
      }
      if (req.name && req.version && stats.length === 0) {
        throw invalidArgument(`requested model version is not available for model '${req.name}'`);
      }
      return { modelStats: stats };
    }),
    repositoryIndex: unary(async (req: { repositoryName: string; ready: boolean }) => {
      repositoryCheck(req.repositoryName);
      return { models: await manager.index(req.ready) };
    }),
    repositoryModelLoad: unary(
      async (req: { repositoryName: string; modelName: string; parameters: Record<string, { stringParam?: string; bytesParam?: Uint8Array }> }) => {
        repositoryCheck(req.repositoryName);
        // Triton reads every parameter (in the request's order) before anything else.
        let override: string | undefined;
        let file: string | undefined;
        for (const [key, value] of Object.entries(req.parameters)) {
          if (key === 'config') {
            if (value.stringParam === undefined) throw invalidArgument(`invalid value type for load parameter '${key}', expected string_param.`);
            override = value.stringParam;
          } else if (key.startsWith('file:')) {
            if (value.bytesParam === undefined) throw invalidArgument(`invalid value type for load parameter '${key}', expected bytes_param.`);
            file ??= key;
          } else {
            throw invalidArgument(`unrecognized load parameter '${key}'.`);
          }
        }
        explicitOnly();
        if (file !== undefined) throw unimplemented(`'${file}': loading model files through the request is not supported by this server`);
        await manager.load(req.modelName, override);
        return {};
      },
    ),
    repositoryModelUnload: unary(async (req: { repositoryName: string; modelName: string; parameters: Record<string, { boolParam?: boolean }> }) => {
      repositoryCheck(req.repositoryName);
      // Triton looks at unload_dependents only; other parameters are ignored.
      const dependents = req.parameters['unload_dependents'];
      if (dependents !== undefined && dependents.boolParam === undefined) {
        throw invalidArgument(`invalid value type for 'unload_dependents' parameter, expected bool_param.`);
      }
      explicitOnly();
      await manager.unload(req.modelName, dependents?.boolParam ?? false);
      return {};
    }),
  };
}

/**
 * grpc.health.v1.Health: SERVING exactly when ServerReady would say ready. Like Triton
 * (grpc_server.cc RegisterHealthCheck), the requested service name is not looked at.
 */
export function healthHandlers(state: ServerState): UntypedServiceImplementation {
  return {
    check: unary(() => ({ status: state.accepting && state.manager.isReady() ? 1 : 2 })),
  };
}
