/**
 * @module http/routes
 * The gateway's routes: POST /caption, POST /classify, GET /healthz (process alive), GET /readyz
 * (model server ready and the models loaded), GET /v1/models (models, versions and states),
 * GET /metrics (Prometheus text format).
 */
import { Router } from 'express';
import type { AdmissionController } from '../admission/index.js';
import type { CaptionService } from '../captioning/caption-service.js';
import type { ClassifyService } from '../classification/classify-service.js';
import type { GatewayMetrics } from '../observability/index.js';
import type { TritonClient } from '../triton/client.js';
import { parseCaptionOptions, parseClassifyOptions } from '../validation/index.js';
import type { CaptionResponse, ClassifyResponse, HealthResponse, ModelsResponse, ReadyResponse } from './openapi/index.js';
import { CLASSIFY_WORK, captionWork, runAdmitted, shedEarly } from './admitted-work.js';
import { requestDeadline, setStage } from './request-deadline.js';
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

  router.post('/caption', deadline, shedEarly(deps.admission, (query) => captionWork(query, deps.limits.maxBeams)), readUpload(deps.maxUploadBytes), async (_req, res) => {
    const upload = res.locals['upload'] as Upload;
    const options = parseCaptionOptions(upload.options, deps.limits);
    const requestId = res.locals['requestId'] as string;
    const result = await runAdmitted(deps.admission, res, captionWork({ num_beams: String(options.num_beams), food: String(options.food) }, deps.limits.maxBeams), ({ deadline, signal }) =>
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
    const result = await runAdmitted(deps.admission, res, CLASSIFY_WORK, ({ deadline, signal }) =>
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

const round = (ms: number) => Math.round(ms * 10) / 10;
const roundAll = <T extends Record<string, number>>(timings: T) => Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, round(v)])) as T;
const serverTiming = (timings: Record<string, number>) =>
  Object.entries(timings)
    .map(([k, v]) => `${k};dur=${v.toFixed(1)}`)
    .join(', ');
