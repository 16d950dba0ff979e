/**
 * @module config/schema
 * The gateway's whole configuration: one zod schema over environment variables, parsed once at
 * start-up; every bad value is reported, then the process exits. README.md documents each.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();

// sharp runs every decode on libuv's thread pool, which file reads and DNS lookups share: its
// size is fixed when the process starts (UV_THREADPOOL_SIZE, else 4), so it is read from the
// process, not from the configuration. Decodes beyond it would wait inside libuv, unseen by the
// decode limiter and ahead of file reads: the default stays one thread below it.
const LIBUV_POOL_SIZE = Number(process.env['UV_THREADPOOL_SIZE']) || 4;

export const ConfigSchema = z.object({
  /** HTTP port (8080, as in the Triton lab this service follows). */
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** host:port of Triton's gRPC endpoint; unset starts the embedded model server on loopback. */
  TRITON_URL: z
    .string()
    // dns:/// asks grpc-js to resolve every address of the name and spread calls over them.
    .regex(/^(dns:\/\/\/)?([\w.-]+|\[[0-9a-fA-F:]+\]):\d+$/, 'expected host:port or dns:///host:port, e.g. triton:8001')
    .optional(),
  /** Model repository the embedded model server serves (when TRITON_URL is unset). */
  MODEL_REPOSITORY: z.string().min(1).default('model_repository'),
  /** Embedded server only: Triton's --model-config-name (configs/<name>.pbtxt where a model has one). */
  MODEL_CONFIG_NAME: z
    .string()
    .regex(/^[\w.-]+$/, 'a file name without extension, e.g. cpu')
    .optional(),
  CAPTION_ENCODER_MODEL: z.string().min(1).default('caption_encoder'),
  CAPTION_DECODER_MODEL: z.string().min(1).default('caption_decoder'),
  CLASSIFIER_MODEL: z.string().min(1).default('food_classifier'),
  ENSEMBLE_MODEL: z.string().min(1).default('food_caption'),
  /** Largest accepted upload, bytes. */
  MAX_UPLOAD_BYTES: positiveInt.default(10 * 1024 * 1024),
  /** Largest accepted image, width × height, checked from the header before decoding. */
  MAX_IMAGE_PIXELS: positiveInt.default(40_000_000),
  /** Smallest accepted width and height. */
  MIN_IMAGE_SIDE: positiveInt.default(8),
  /**
   * Largest accepted width × height of an image libvips decodes whole into memory (HEIF/AVIF,
   * GIF, interlaced PNG; MAX_IMAGE_PIXELS still caps it). 13 MP takes a 12 MP phone photo
   * (4032×3024, 4080×3072); a 13 MP AVIF costs about 240 MB and 0.4–0.6 s of CPU to decode.
   */
  MAX_IMAGE_PIXELS_FULL_DECODE: positiveInt.default(13_000_000),
  /** Image decodes running at once (each on one core and one libuv pool thread). */
  DECODE_CONCURRENCY: positiveInt.default(() => Math.max(1, Math.min(availableParallelism(), LIBUV_POOL_SIZE - 1))),
  /** Decodes that may wait for a slot; beyond that, 503 GW_ERR_OVERLOADED at once. */
  DECODE_QUEUE_LIMIT: z.coerce.number().int().min(0).default(64),
  /**
   * Longest expected wait for a decode slot, milliseconds (its place in line times the recent
   * mean decode time over the slots); a decode expected to wait longer is refused at once.
   */
  DECODE_QUEUE_WAIT_MS: z.coerce.number().int().min(0).default(1000),
  /** Whole-request deadline, milliseconds. */
  REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  /** Deadline of each model-server call, milliseconds. */
  TRITON_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * ModelStreamInfer streams the inference requests rotate over. Each stream stays on one Triton
   * replica, so with dns:/// keep at least as many as there are replicas.
   */
  TRITON_STREAMS: positiveInt.max(64).default(4),
  /** How long start-up waits for the model server to become ready, milliseconds. */
  TRITON_READY_TIMEOUT_MS: positiveInt.default(120_000),
  /** A request's headers must arrive within this, milliseconds (then 408 GW_ERR_UPLOAD_TIMEOUT). */
  HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * A request's body must arrive within this of its headers, milliseconds (then 408
   * GW_ERR_UPLOAD_TIMEOUT): 30 s carries a 10 MiB upload at 3 Mbit/s.
   */
  UPLOAD_TIMEOUT_MS: positiveInt.default(30_000),
  /**
   * How long an idle keep-alive connection stays open, milliseconds: above the 60 s idle timeout
   * of common load balancers (AWS ALB, nginx), so the gateway never closes a connection one of
   * them is about to reuse.
   */
  KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(65_000),
  /** Open connections at most (server.maxConnections): one more is closed as soon as it is accepted. */
  MAX_CONNECTIONS: positiveInt.default(1024),
  /**
   * After SIGTERM, how long requests in flight may take to finish before their connections are
   * closed, milliseconds: 8 s lets the process exit within Docker's default 10 s stop grace
   * period (and Kubernetes' 30 s) with time left to stop the model-server client.
   */
  SHUTDOWN_DRAIN_MS: positiveInt.default(8000),
  /** Upper bound a client may ask for with max_new_tokens. */
  MAX_NEW_TOKENS_LIMIT: positiveInt.default(64),
  /** Upper bound a client may ask for with num_beams. */
  MAX_BEAMS: positiveInt.default(8),
  /**
   * Admission control: the adaptive limit of work in service, in cost units (a caption costs its
   * num_beams, a classification 1), moves between these bounds; it starts at min(16, max).
   */
  ADMISSION_MIN_LIMIT: positiveInt.default(2),
  ADMISSION_MAX_LIMIT: positiveInt.default(64),
  /** Requests that may wait for admission at once; more are refused (503) whatever their deadline. */
  ADMISSION_MAX_QUEUED: positiveInt.default(256),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type GatewayConfig = z.infer<typeof ConfigSchema>;

/** Parses `env` (default process.env); throws one Error listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const result = ConfigSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
