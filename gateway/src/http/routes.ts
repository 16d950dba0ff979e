/**
 * @module http/routes
 * The gateway's routes: POST /caption, GET /healthz (process alive), GET /readyz (model server
 * ready and the models loaded), GET /v1/models (models, versions and states).
 */
import { Router } from 'express';
import type { CaptionService } from '../captioning/caption-service.js';
import type { TritonClient } from '../triton/client.js';
import { parseCaptionOptions } from '../validation/index.js';
import { readUpload, type Upload } from './upload.js';

export interface RouteDeps {
  readonly captions: CaptionService;
  readonly client: TritonClient;
  /** Models /readyz requires to be ready. */
  readonly requiredModels: readonly string[];
  readonly maxUploadBytes: number;
  readonly requestTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly limits: { maxNewTokens: number; maxBeams: number };
}

const HEALTH_TIMEOUT_MS = 2000;

export function routes(deps: RouteDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    const server = await deps.client.serverReady(deadline);
    const models = Object.fromEntries(
      await Promise.all(deps.requiredModels.map(async (m) => [m, await deps.client.modelReady(m, deadline)] as const)),
    );
    const ready = server && Object.values(models).every(Boolean);
    if (!ready) res.set('Retry-After', '1');
    res.status(ready ? 200 : 503).json({ ready, modelServer: server, models });
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
    res.json({ models });
  });

  router.post('/caption', readUpload(deps.maxUploadBytes), async (_req, res) => {
    const upload = res.locals['upload'] as Upload;
    const options = parseCaptionOptions(upload.options, deps.limits);
    const requestId = res.locals['requestId'] as string;
    const result = await deps.captions.caption(upload.image, options, {
      requestId,
      deadline: Date.now() + deps.requestTimeoutMs,
      callTimeoutMs: deps.callTimeoutMs,
    });
    const t = result.timingsMs;
    res.set(
      'Server-Timing',
      [`preprocess;dur=${t.preprocess.toFixed(1)}`, `encode;dur=${t.encode.toFixed(1)}`, `generate;dur=${t.generate.toFixed(1)}`, `total;dur=${t.total.toFixed(1)}`].join(', '),
    );
    res.json({
      caption: result.caption,
      model: { encoder: deps.captions.models.encoder.model, decoder: deps.captions.models.decoder.model },
      tokens: result.tokens,
      finish_reason: result.finishReason,
      timings_ms: {
        preprocess: round(t.preprocess),
        encode: round(t.encode),
        generate: round(t.generate),
        total: round(t.total),
      },
    });
  });

  return router;
}

const round = (ms: number) => Math.round(ms * 10) / 10;
