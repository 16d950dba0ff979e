/**
 * @module main
 * Starts the gateway: reads the configuration, starts the embedded model server on loopback when
 * no TRITON_URL is given, waits until the model server and the caption models are ready, reads
 * their preprocessing and generation settings through ModelConfig, and serves HTTP. SIGTERM
 * stops accepting, lets in-flight captions finish, then stops the model server.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { CaptionService } from './captioning/caption-service.js';
import { ClassifyService } from './classification/classify-service.js';
import { type GatewayConfig, loadConfig } from './config/index.js';
import { CaptionTokenizer } from './generation/index.js';
import { createApp } from './http/app.js';
import { createLogger, type DestinationStream, GatewayMetrics, type Logger } from './observability/index.js';
import { configureSharp } from './preprocess/index.js';
import { TritonClient } from './triton/client.js';
import { lazySpec } from './triton/lazy-spec.js';
import { classifierSpecOf, decoderSpecOf, foodCaptionSpecOf, imageSpecOf } from './triton/model-spec.js';

export interface StartOptions {
  /** Where the JSON log lines go (default stdout); tests pass a stream they read. */
  readonly logDestination?: DestinationStream;
}

export interface RunningGateway {
  readonly url: string;
  readonly logger: Logger;
  readonly client: TritonClient;
  readonly modelServer: RunningModelServer | undefined;
  stop(): Promise<void>;
}

/** Polls ModelReady for `models` until all are ready or `timeoutMs` passes. */
async function waitUntilReady(client: TritonClient, models: readonly string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const deadline = Math.min(until, Date.now() + 2000);
    if ((await Promise.all(models.map((m) => client.modelReady(m, deadline)))).every(Boolean)) return;
    if (Date.now() >= until) throw new Error(`model server at ${client.address} not ready with ${models.join(', ')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Starts everything `config` describes; resolves once HTTP is listening. */
export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const logger = createLogger(config.LOG_LEVEL, options.logDestination);
  const log = (level: 'info' | 'warn' | 'error', msg: string, extra: object = {}) => logger[level](extra, msg);
  const modelServerLogger = logger.child({ component: 'modelserver' });
  const metrics = new GatewayMetrics();
  configureSharp();
  let modelServer: RunningModelServer | undefined;
  let address = config.TRITON_URL;
  if (!address) {
    modelServer = await startModelServer({
      modelRepository: config.MODEL_REPOSITORY,
      grpcPort: 0,
      host: '127.0.0.1',
      ...(config.MODEL_CONFIG_NAME ? { modelConfigName: config.MODEL_CONFIG_NAME } : {}),
      log: (level, message) => modelServerLogger[level](message),
    });
    address = modelServer.address;
  }
  const client = new TritonClient(address, {
    onCall: (model, seconds, failure) => metrics.observeModelCall(model, seconds, failure),
    streams: config.TRITON_STREAMS,
  });
  const required = [config.CAPTION_ENCODER_MODEL, config.CAPTION_DECODER_MODEL];
  await waitUntilReady(client, required, config.TRITON_READY_TIMEOUT_MS);
  // Start-up reads within the readiness budget; TRITON_TIMEOUT_MS bounds request-time calls.
  const deadline = Date.now() + config.TRITON_READY_TIMEOUT_MS;
  const encoder = imageSpecOf(await client.modelConfig(config.CAPTION_ENCODER_MODEL, deadline));
  const decoder = decoderSpecOf(await client.modelConfig(config.CAPTION_DECODER_MODEL, deadline));
  // The KServe protocol has no file transfer: the tokenizer is read from the same model
  // repository Triton serves (mounted read-only into the gateway in production).
  const tokenizerPath = join(config.MODEL_REPOSITORY, decoder.model, decoder.tokenizerFile);
  const tokenizer = CaptionTokenizer.fromJson(JSON.parse(await readFile(tokenizerPath, 'utf8')), decoder.bosTokenId);
  const limits = { maxPixels: config.MAX_IMAGE_PIXELS, minSide: config.MIN_IMAGE_SIDE };
  // The classifier and the ensemble are optional: read when first asked for (503 until loaded).
  const configOf = (model: string) => client.modelConfig(model, Date.now() + config.TRITON_TIMEOUT_MS);
  const foodCaption = lazySpec(config.ENSEMBLE_MODEL, async () => foodCaptionSpecOf(await configOf(config.ENSEMBLE_MODEL), encoder));
  const classifierSpec = lazySpec(config.CLASSIFIER_MODEL, async () => classifierSpecOf(await configOf(config.CLASSIFIER_MODEL)));
  const captions = new CaptionService(client, { encoder, decoder, tokenizer, foodCaption }, limits);
  const classifier = new ClassifyService(client, classifierSpec, limits);
  const app = createApp({
    captions,
    classifier,
    client,
    requiredModels: required,
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    callTimeoutMs: config.TRITON_TIMEOUT_MS,
    limits: { maxNewTokens: config.MAX_NEW_TOKENS_LIMIT, maxBeams: config.MAX_BEAMS },
    metrics,
    log,
    logger,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
  });
  // Longer than a caption may take, so Node never cuts a request short itself.
  server.requestTimeout = config.REQUEST_TIMEOUT_MS + 5000;
  const port = (server.address() as { port: number }).port;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  log('info', `gateway listening on ${url}`, { modelServer: address, embedded: modelServer !== undefined, encoder: encoder.model, decoder: decoder.model });
  let stopping: Promise<void> | undefined;
  return {
    url,
    logger,
    client,
    modelServer,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        client.close();
        await modelServer?.stop();
      })();
      return stopping;
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const gateway = await startGateway(config);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      gateway.logger.info(`${signal}: finishing in-flight requests`);
      void gateway.stop().then(() => process.exit(0));
    });
  }
}
