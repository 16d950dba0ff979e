/**
 * @module test/helpers
 * Starts a real model server on a temp repository and gives tests a plain grpc-js client
 * (the generated one, not the gateway's) with promise-returning calls.
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { GRPCInferenceServiceClient, type InferTensorContents, type ModelInferRequest } from '../../proto/gen/grpc_service.js';
import { HealthClient } from '../../proto/gen/health.js';
import { type RunningModelServer, startModelServer, type ModelServerOptions } from '../src/index.js';
import { makeTempRepository, type RepositoryModelSpec, writeModelRepository } from './fixtures/models.js';

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: object, cb: Callback<Res>) => unknown;

export interface TestServer {
  readonly server: RunningModelServer;
  readonly client: GRPCInferenceServiceClient;
  readonly health: HealthClient;
  readonly repository: string;
  /** Calls a unary RPC by its client method name and resolves with the response. */
  call<K extends keyof GRPCInferenceServiceClient>(method: K, request: Parameters<Extract<GRPCInferenceServiceClient[K], (...a: never[]) => unknown>>[0]): Promise<ResponseOf<K>>;
  close(): Promise<void>;
}

type ResponseOf<K extends keyof GRPCInferenceServiceClient> = GRPCInferenceServiceClient[K] extends {
  (req: never, md: Metadata, opts: never, cb: Callback<infer R>): unknown;
}
  ? R
  : never;

export const quietLog: ModelServerOptions['log'] = () => {};

/** Writes `models` to a fresh repository, starts a server on a free port, connects a client. */
export async function startTestServer(
  models: Record<string, RepositoryModelSpec>,
  options: Partial<ModelServerOptions> = {},
): Promise<TestServer> {
  const repository = makeTempRepository('modelserver-test-');
  writeModelRepository(repository, models);
  const server = await startModelServer({ modelRepository: repository, grpcPort: 0, log: quietLog, ...options });
  const opts = { 'grpc.max_receive_message_length': -1 };
  const client = new GRPCInferenceServiceClient(server.address, credentials.createInsecure(), opts);
  const health = new HealthClient(server.address, credentials.createInsecure());
  return {
    server,
    client,
    health,
    repository,
    call(method, request) {
      const fn = client[method] as unknown as UnaryMethod<unknown, never>;
      return new Promise((resolve, reject) => {
        fn.call(client, request, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res)));
      });
    },
    async close() {
      client.close();
      health.close();
      await server.stop();
      rmSync(repository, { recursive: true, force: true });
    },
  };
}

/** A ModelInferRequest with defaults for the fields a test does not care about. */
export function inferRequest(partial: Partial<ModelInferRequest> & { modelName: string }): ModelInferRequest {
  return { modelVersion: '', id: '', parameters: {}, inputs: [], outputs: [], rawInputContents: [], ...partial };
}

/** Little-endian bytes of a Float32Array. */
export const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

/** Float32 values of raw little-endian bytes (copying, so any alignment works). */
export const readF32 = (raw: Uint8Array): number[] => Array.from(new Float32Array(Uint8Array.from(raw).buffer));

/**
 * The BYTES raw layout, written here independently of the server's own encoder: per element a
 * 4-byte little-endian length, then the bytes. Strings are UTF-8 encoded.
 */
export function bytesLayout(elements: ReadonlyArray<Uint8Array | string>): Uint8Array {
  const encoded = elements.map((e) => (typeof e === 'string' ? new TextEncoder().encode(e) : e));
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of encoded) {
    view.setUint32(pos, e.byteLength, true);
    out.set(e, pos + 4);
    pos += 4 + e.byteLength;
  }
  return out;
}

/** Typed tensor contents with every field empty, for tests to fill one of. */
export const noContents = (): InferTensorContents => ({
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
});
