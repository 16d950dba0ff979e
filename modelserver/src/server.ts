/**
 * @module server
 * Starts the embedded KServe v2 gRPC model server: binds the port first (live, not ready),
 * loads the repository, then reports ready. `stop()` drains: new calls are refused, queued
 * and running requests finish, instances close.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { healthHandlers, inferenceHandlers, type ServerState } from './grpc/inference-handlers.js';
import { HealthServiceDefinition, InferenceServiceDefinition } from './grpc/service-definitions.js';
import { ModelManager } from './models/model-manager.js';

export interface ModelServerOptions {
  readonly modelRepository: string;
  /** Port to bind on `host`; 0 picks a free one. Triton's default is 8001. */
  readonly grpcPort?: number;
  readonly host?: string;
  /** Triton's `--model-config-name`: prefer `configs/<name>.pbtxt`. */
  readonly modelConfigName?: string;
  readonly modelControlMode?: 'none' | 'explicit';
  /** Explicit mode: models loaded at start (`*` = all). */
  readonly loadModels?: readonly string[];
  /** Cores each model's instances share (default: all). */
  readonly cores?: number;
  readonly log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface RunningModelServer {
  /** The bound port (useful with grpcPort 0). */
  readonly port: number;
  /** `host:port`, ready for a gRPC client. */
  readonly address: string;
  readonly manager: ModelManager;
  /** Graceful shutdown; resolves once every in-flight request has been answered. */
  stop(): Promise<void>;
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

// Like Triton: messages up to INT32_MAX both ways, since tensors easily pass grpc-js's 4 MiB
// default, and keepalive pings no more often than Triton's server tolerates.
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': 2_147_483_647,
  'grpc.max_send_message_length': 2_147_483_647,
  'grpc.keepalive_time_ms': 7_200_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

const defaultLog = (level: 'info' | 'warn' | 'error', message: string) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component: 'modelserver', message })}\n`);

export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const log = options.log ?? defaultLog;
  const manager = new ModelManager({
    repository: options.modelRepository,
    configName: options.modelConfigName,
    controlMode: options.modelControlMode ?? 'none',
    startupModels: options.loadModels ?? [],
    cores: options.cores,
    log,
  });
  const state: ServerState = { manager, name: 'triton-caption-modelserver', version, accepting: false, openStreams: new Set() };
  const server = new Server(CHANNEL_OPTIONS);
  server.addService(InferenceServiceDefinition, inferenceHandlers(state));
  server.addService(HealthServiceDefinition, healthHandlers(state));
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.grpcPort ?? 8001}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  log('info', `gRPC KServe v2 endpoint listening on ${address}`);
  await manager.start();
  state.accepting = true;
  log('info', `server ${manager.isReady() ? 'ready' : 'live but not ready (a model failed to load)'}`);

  let stopping: Promise<void> | undefined;
  return {
    port,
    address,
    manager,
    stop() {
      stopping ??= (async () => {
        state.accepting = false;
        for (const drain of [...state.openStreams]) drain();
        const calls = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        await manager.stop();
        await calls;
      })();
      return stopping;
    },
  };
}
