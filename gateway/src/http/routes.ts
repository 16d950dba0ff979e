/**
 * @module http/routes
 * The gateway's routes: POST /caption, POST /classify, GET /healthz (process alive), GET /readyz
 * (model server ready and the models loaded), GET /v1/models (models, versions and states),
 * GET /metrics (Prometheus text format).
 */
import { type RequestHandler, type Response, Router } from 'express';
import type { AdmissionController, AdmissionRequest } from '../admission/index.js';
import type { CaptionService } from '../captioning/caption-service.js';
import type { ClassifyService } from '../classification/classify-service.js';
import type { GatewayMetrics } from '../observability/index.js';
import type { TritonClient } from '../triton/client.js';
import { parseCaptionOptions, parseClassifyOptions } from '../validation/index.js';
import type { CaptionResponse, ClassifyResponse, HealthResponse, ModelsResponse, ReadyResponse } from './openapi/index.js';
import { GatewayError } from '../errors/index.js';
import { type RequestBudget, requestDeadline, setStage } from './request-deadline.js';
import { readUpload, type Upload } from './upload.js';

export interface RouteDeps {
  readonly captions: CaptionService;
  readonly classifier: ClassifyService;
  readonly client: TritonClient;
  /** Models /readyz requires to be ready. */
  readonly requiredModels: readonly string[];
  readonly maxUploadBytes: number;
  readonly requestTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly limits: { maxNewTokens: number; maxBeams: number };
  readonly metrics: GatewayMetrics;
  /** Decides which captions and classifications start, wait or are refused. */
  readonly admission: AdmissionController;
}

const HEALTH_TIMEOUT_MS = 2000;

export function routes(deps: RouteDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' } satisfies HealthResponse);
  });

  router.get('/readyz', async (_req, res) => {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    const server = await deps.client.serverReady(deadline);
    const models = Object.fromEntries(
      await Promise.all(deps.requiredModels.map(async (m) => [m, await deps.client.modelReady(m, deadline)] as const)),
    );
    const ready = server && Object.values(models).every(Boolean);
    if (!ready) res.set('Retry-After', '1');
    res.status(ready ? 200 : 503).json({ ready, modelServer: server, models } satisfies ReadyResponse);
  });

  router.get('/metrics', async (_req, res) => {
    const text = await deps.metrics.text();
    res.type(deps.metrics.contentType).send(text);
  });

  router.get('/v1/models', async (_req, res) => {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    const index = await deps.client.repositoryIndex(deadline);
    const byName = new Map<string, Array<{ version: string; state: string; reason: string }>>();
    for (const m of index) {
      const versions = byName.get(m.name) ?? [];
      if (m.version) versions.push({ version: m.version, state: m.state, reason: m.reason });
      byName.set(m.name, versions);
    }
    const models = await Promise.all(
      [...byName.entries()].map(async ([name, versions]) => {
        const ready = versions.some((v) => v.state === 'READY');
        const config = ready ? await deps.client.modelConfig(name, deadline).catch(() => undefined) : undefined;
        return {
          name,
          ready,
          versions,
          platform: config ? config.platform || config.backend : undefined,
          maxBatchSize: config?.maxBatchSize,
          inputs: config?.input.map((i) => ({ name: i.name, dims: i.dims.map(Number) })),
          outputs: config?.output.map((o) => ({ name: o.name, dims: o.dims.map(Number) })),
        };
      }),
    );
    res.json({ models } satisfies ModelsResponse);
  });

  const deadline = requestDeadline(deps.requestTimeoutMs);
  // Runs `work` once admitted, telling admission how it ended.
  const admitted = <T>(res: Response, request: Work, work: (budget: RequestBudget) => Promise<T>) =>
    runAdmitted(deps.admission, res, request, work);

  router.post('/caption', deadline, shedEarly(deps.admission, (query) => captionWork(query, deps.limits.maxBeams)), readUpload(deps.maxUploadBytes), async (_req, res) => {
    const upload = res.locals['upload'] as Upload;
    const options = parseCaptionOptions(upload.options, deps.limits);
    const requestId = res.locals['requestId'] as string;
    const result = await admitted(res, captionWork({ num_beams: String(options.num_beams), food: String(options.food) }, deps.limits.maxBeams), ({ deadline, signal }) =>
      deps.captions.caption(upload.image, options, {
        requestId,
        deadline,
        signal,
        callTimeoutMs: deps.callTimeoutMs,
        onStage: (stage) => setStage(res, stage),
      }),
    );
    deps.metrics.observeCaption({ ...result.timingsMs, decode: result.decodeMs }, result.tokens);
    res.set('Server-Timing', serverTiming(result.timingsMs));
    res.json({
      caption: result.caption,
      model: { encoder: deps.captions.models.encoder.model, decoder: deps.captions.models.decoder.model },
      tokens: result.tokens,
      finish_reason: result.finishReason,
      ...(result.food ? { food: { label: result.food.label, confidence: result.food.confidence } } : {}),
      timings_ms: roundAll(result.timingsMs),
    } satisfies CaptionResponse);
  });

  router.post('/classify', deadline, shedEarly(deps.admission, () => CLASSIFY_WORK), readUpload(deps.maxUploadBytes), async (_req, res) => {
    const upload = res.locals['upload'] as Upload;
    const options = parseClassifyOptions(upload.options);
    const result = await admitted(res, CLASSIFY_WORK, ({ deadline, signal }) =>
      deps.classifier.classify(upload.image, options, {
        requestId: res.locals['requestId'] as string,
        deadline,
        signal,
        callTimeoutMs: deps.callTimeoutMs,
        onStage: (stage) => setStage(res, stage),
      }),
    );
    res.set('Server-Timing', serverTiming(result.timingsMs));
    res.json({
      model: result.model,
      labels: result.labels,
      embedding: result.embedding,
      profile: result.profile,
      timings_ms: roundAll(result.timingsMs),
    } satisfies ClassifyResponse);
  });

  return router;
}

type Work = Omit<AdmissionRequest, 'deadline' | 'signal'>;

/**
 * A caption's work for admission, from its num_beams and food options (as strings: the query's
 * own, before validation, or the validated values): every decoder step carries num_beams rows,
 * so a beam-8 caption costs about eight greedy ones. Anything invalid counts as greedy (the
 * validation that follows answers it).
 */
function captionWork(options: Record<string, unknown>, maxBeams: number): Work {
  const n = Number(options['num_beams'] ?? 1);
  const beams = Number.isInteger(n) && n >= 1 && n <= maxBeams ? n : 1;
  const food = options['food'] === 'true' || options['food'] === '1';
  return { workClass: 'caption', kind: `caption:beams=${beams}${food ? ':food' : ''}`, cost: beams };
}

/** One model call of an encoder's size: a unit, as a greedy caption (which also runs its steps) is. */
const CLASSIFY_WORK: Work = { workClass: 'classify', kind: 'classify', cost: 1 };

/**
 * Refuses, before its upload is read, a request admission would refuse anyway (with the options
 * the query gives; a multipart form's are only known once read, and are checked then): at 10x
 * load nearly every upload is refused, and receiving them was most of the cost of refusing.
 */
function shedEarly(admission: AdmissionController, work: (query: Record<string, unknown>) => Work): RequestHandler {
  return (req, res, next) => {
    const budget = res.locals['budget'] as RequestBudget;
    next(admission.check({ ...work(req.query as Record<string, unknown>), deadline: budget.deadline }));
  };
}

/**
 * Waits for admission, runs `work`, and releases its units with how it ended. A model server
 * or decode queue refusing for being full answers with a Retry-After that allows for the
 * admission queue too.
 */
async function runAdmitted<T>(
  admission: AdmissionController,
  res: Response,
  request: Work,
  work: (budget: RequestBudget) => Promise<T>,
): Promise<T> {
  const budget = res.locals['budget'] as RequestBudget;
  setStage(res, 'queue');
  const ticket = await admission.admit({ ...request, deadline: budget.deadline, signal: budget.signal });
  try {
    const result = await work(budget);
    ticket.release('ok');
    return result;
  } catch (err) {
    const code = err instanceof GatewayError ? err.code : undefined;
    ticket.release(code === 'GW_ERR_OVERLOADED' ? 'overloaded' : code === 'GW_ERR_DEADLINE' || code === 'GW_ERR_TRITON_DEADLINE' ? 'deadline' : 'failed');
    // A full model-server queue (or decode queue) says to come back; when is the later of its own
    // estimate and the admission queue's, which the work must also pass through again.
    if (err instanceof GatewayError && code === 'GW_ERR_OVERLOADED') {
      throw new GatewayError('GW_ERR_OVERLOADED', err.detail, Math.max(err.retryAfterSeconds ?? 1, admission.retryAfterSeconds()), { cause: err });
    }
    throw err;
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
const roundAll = <T extends Record<string, number>>(timings: T) => Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, round(v)])) as T;
const serverTiming = (timings: Record<string, number>) =>
  Object.entries(timings)
    .map(([k, v]) => `${k};dur=${v.toFixed(1)}`)
    .join(', ');
