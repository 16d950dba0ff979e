/**
 * @module main
 * Starts the gateway: reads the configuration, starts the embedded model server on loopback when
 * no TRITON_URL is given, waits until the model server and the caption models are ready, reads
 * their preprocessing and generation settings through ModelConfig, and serves HTTP with header,
 * body and keep-alive timeouts and a connection cap. SIGTERM stops accepting, lets in-flight
 * requests finish for up to SHUTDOWN_DRAIN_MS, closes the connections still open, then stops the
 * model server and exits 0.
 * A start-up failure is one line on stderr: exit 2 when the configuration (environment or the
 * caption models' configs) can never work, exit 1 otherwise (a model server that is not ready).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { AdmissionController } from './admission/index.js';
import { CaptionService } from './captioning/caption-service.js';
import { ClassifyService } from './classification/classify-service.js';
import { type GatewayConfig, loadConfig } from './config/index.js';
import { CaptionTokenizer } from './generation/index.js';
import { createApp } from './http/app.js';
import { serveHttp } from './http/server.js';
import { createLogger, type DestinationStream, GatewayMetrics, type Logger } from './observability/index.js';
import { configureSharp, DecodeLimiter } from './preprocess/index.js';
import { TritonClient } from './triton/client.js';
import { lazySpec } from './triton/lazy-spec.js';
import { classifierSpecOf, type DecoderSpec, decoderSpecOf, foodCaptionSpecOf, type ImageSpec, imageSpecOf } from './triton/model-spec.js';
import type { ModelConfig } from '../../proto/gen/model_config.js';

export interface StartOptions {
  /** Where the JSON log lines go (default stdout); tests pass a stream they read. */
  readonly logDestination?: DestinationStream;
}

export interface RunningGateway {
  readonly url: string;
  readonly logger: Logger;
  readonly client: TritonClient;
  readonly modelServer: RunningModelServer | undefined;
  /** The bound on image decodes in flight (its stats for metrics; tests hold its slots). */
  readonly decodeLimiter: DecodeLimiter;
  stop(): Promise<void>;
}

/**
 * The caption models' configs are unusable together (missing or inconsistent parameters, tensor
 * dims that do not fit, a tokenizer that cannot be read): no retry can fix that, so `main` exits 2.
 */
export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
}

/**
 * Everything captioning needs from the encoder's and decoder's configs and the tokenizer file,
 * checked against each other. Throws ModelConfigError naming the model and what is wrong.
 */
export async function readCaptionModels(
  encoderConfig: ModelConfig,
  decoderConfig: ModelConfig,
  modelRepository: string,
): Promise<{ encoder: ImageSpec; decoder: DecoderSpec; tokenizer: CaptionTokenizer }> {
  const fail = (message: string, cause?: unknown): never => {
    throw new ModelConfigError(message, cause === undefined ? undefined : { cause });
  };
  const spec = <T>(read: () => T): T => {
    try {
      return read();
    } catch (err) {
      return fail((err as Error).message, err);
    }
  };
  const encoder = spec(() => imageSpecOf(encoderConfig));
  const decoder = spec(() => decoderSpecOf(decoderConfig));
  // The caption service hands the encoder's (only) output to the decoder's image_embeds as is.
  const embeds = encoderConfig.output[0];
  const fits = embeds?.dims.length === 2 && embeds.dims.every((d, i) => Number(d) === -1 || Number(d) === decoder.embedsShape[i]);
  if (!fits) {
    fail(`model '${encoder.model}' output ${embeds ? `'${embeds.name}' [${embeds.dims.join(',')}]` : '(none)'} does not fit '${decoder.model}' input 'image_embeds' [${decoder.embedsShape.join(',')}]`);
  }
  for (const [key, id] of [['bos_token_id', decoder.bosTokenId], ['eos_token_id', decoder.eosTokenId], ['pad_token_id', decoder.padTokenId]] as const) {
    if (decoder.vocabSize !== undefined && id >= decoder.vocabSize) fail(`model '${decoder.model}': ${key} ${id} is outside its logits' vocabulary of ${decoder.vocabSize}`);
  }
  // The KServe protocol has no file transfer: the tokenizer is read from the same model
  // repository Triton serves (mounted read-only into the gateway in production).
  const tokenizerPath = join(modelRepository, decoder.model, decoder.tokenizerFile);
  let text: string;
  try {
    text = await readFile(tokenizerPath, 'utf8');
  } catch (err) {
    return fail(`model '${decoder.model}': tokenizer ${tokenizerPath} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  let tokenizer: CaptionTokenizer;
  try {
    tokenizer = CaptionTokenizer.fromJson(JSON.parse(text) as object, decoder.bosTokenId);
  } catch (err) {
    return fail(`model '${decoder.model}': ${tokenizerPath} is not a tokenizer.json (${(err as Error).message})`, err);
  }
  return { encoder, decoder, tokenizer };
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
  let models: Awaited<ReturnType<typeof readCaptionModels>>;
  try {
    await waitUntilReady(client, required, config.TRITON_READY_TIMEOUT_MS);
    // Start-up reads within the readiness budget; TRITON_TIMEOUT_MS bounds request-time calls.
    const deadline = Date.now() + config.TRITON_READY_TIMEOUT_MS;
    const [encoderConfig, decoderConfig] = await Promise.all(required.map((m) => client.modelConfig(m, deadline)));
    models = await readCaptionModels(encoderConfig!, decoderConfig!, config.MODEL_REPOSITORY);
  } catch (err) {
    // Nothing may keep the process alive after a failed start: the caller decides what follows.
    client.close();
    await modelServer?.stop();
    throw err;
  }
  const { encoder, decoder, tokenizer } = models;
  const decodeLimiter = new DecodeLimiter({
    concurrency: config.DECODE_CONCURRENCY,
    maxQueued: config.DECODE_QUEUE_LIMIT,
    maxWaitMs: config.DECODE_QUEUE_WAIT_MS,
  });
  const limits = {
    maxPixels: config.MAX_IMAGE_PIXELS,
    maxPixelsFullDecode: config.MAX_IMAGE_PIXELS_FULL_DECODE,
    minSide: config.MIN_IMAGE_SIDE,
    decodeLimiter,
  };
  // The classifier and the ensemble are optional: read when first asked for (503 until loaded).
  const configOf = (model: string) => client.modelConfig(model, Date.now() + config.TRITON_TIMEOUT_MS);
  const foodCaption = lazySpec(config.ENSEMBLE_MODEL, async () => foodCaptionSpecOf(await configOf(config.ENSEMBLE_MODEL), encoder));
  const classifierSpec = lazySpec(config.CLASSIFIER_MODEL, async () => classifierSpecOf(await configOf(config.CLASSIFIER_MODEL)));
  const captions = new CaptionService(client, { encoder, decoder, tokenizer, foodCaption }, limits);
  const classifier = new ClassifyService(client, classifierSpec, limits);
  const admission = new AdmissionController({
    initial: Math.min(16, config.ADMISSION_MAX_LIMIT),
    min: Math.min(config.ADMISSION_MIN_LIMIT, config.ADMISSION_MAX_LIMIT),
    max: config.ADMISSION_MAX_LIMIT,
    maxQueued: config.ADMISSION_MAX_QUEUED,
    onDecision: (workClass, decision) => metrics.countAdmission(`/${workClass}`, decision),
  });
  metrics.watchAdmission(() => admission.snapshot());
  metrics.watchDecodes(() => decodeLimiter.stats());
  const app = createApp({
    admission,
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
  const http = await serveHttp(
    app,
    {
      port: config.PORT,
      host: config.HOST,
      headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
      uploadTimeoutMs: config.UPLOAD_TIMEOUT_MS,
      keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: config.MAX_CONNECTIONS,
    },
  );
  const port = http.port;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  log('info', `gateway listening on ${url}`, { modelServer: address, embedded: modelServer !== undefined, encoder: encoder.model, decoder: decoder.model });
  let stopping: Promise<void> | undefined;
  return {
    url,
    logger,
    client,
    modelServer,
    decodeLimiter,
    stop() {
      stopping ??= (async () => {
        const cut = await http.drain(config.SHUTDOWN_DRAIN_MS);
        if (cut > 0) {
          // Stalled uploads and requests slower than the drain were cut, so the process exits in time.
          log('warn', `shutdown: ${cut} requests still in flight after SHUTDOWN_DRAIN_MS (${config.SHUTDOWN_DRAIN_MS} ms): closed their connections`, {
            inFlight: cut,
            drainMs: config.SHUTDOWN_DRAIN_MS,
          });
        }
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
  let gateway: RunningGateway | undefined;
  // Installed before start-up: without a listener Node leaves SIGTERM's default action, which
  // kills the process at once (a signal right after "listening" would cut requests short).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (!gateway) {
        // Not serving yet, so nothing is in flight.
        process.stderr.write(`${signal} during start-up: exiting\n`);
        process.exit(0);
      }
      gateway.logger.info(`${signal}: finishing in-flight requests`);
      void gateway.stop().then(() => process.exit(0));
    });
  }
  try {
    gateway = await startGateway(config);
  } catch (err) {
    // One line, no stack: what is wrong is in the message (a config's model and parameter).
    const message = (err as Error).message.replace(/\s*\n\s*/g, '; ');
    process.stderr.write(`gateway did not start: ${message}\n`);
    process.exit(err instanceof ModelConfigError ? 2 : 1);
  }
}
