/**
 * @module classification/classify-service
 * One classification, in request order: decode and resize the upload with the classifier's own
 * parameters (optionally the zoom_crop view), normalise, run the classifier on the model server
 * asking for its top-k classes through the classification extension and for the embedding,
 * then summarise the embedding. Class names come from the model server, never from a file here.
 */
import { randomInt } from 'node:crypto';
import { GatewayError } from '../errors/index.js';
import { decodeToRgb, type ImageLimits, writePixelValues, zoomCrop } from '../preprocess/index.js';
import { type ClassScore, parseClassification } from '../triton/classification.js';
import { float32View, type TritonClient } from '../triton/client.js';
import { imageInput } from '../triton/image-input.js';
import { type RequestDeadlines, withCallDeadline } from '../triton/deadlines.js';
import type { ClassifierSpec } from '../triton/model-spec.js';
import type { ClassifyOptions } from '../validation/index.js';

/** The request's deadlines: the classifier call gets min(remaining budget, `callTimeoutMs`). */
export interface ClassifyContext extends RequestDeadlines {
  readonly requestId: string;
  /** Told as the classification enters each stage (for the log line of a request abandoned during it). */
  readonly onStage?: (stage: 'preprocess' | 'classify') => void;
}

export interface EmbeddingSummary {
  readonly dim: number;
  readonly mean: number;
  /** Population variance of the values. */
  readonly variance: number;
  /** Every value, only when asked for (`embedding=full`). */
  readonly values?: number[];
}

export interface ClassifyResult {
  readonly model: string;
  /** Top-k classes, highest confidence first. */
  readonly labels: ReadonlyArray<{ label: string; index: number; confidence: number }>;
  readonly embedding: EmbeddingSummary;
  readonly profile: { name: ClassifyOptions['profile']; seed?: number; crop?: { left: number; top: number; side: number } };
  readonly timingsMs: { preprocess: number; classify: number; total: number };
}

const since = (t0: number) => performance.now() - t0;

export class ClassifyService {
  constructor(
    private readonly client: TritonClient,
    private readonly spec: () => Promise<ClassifierSpec>,
    private readonly limits: ImageLimits,
  ) {}

  async classify(image: Uint8Array, options: ClassifyOptions, ctx: ClassifyContext): Promise<ClassifyResult> {
    const spec = await this.spec();
    const t0 = performance.now();
    ctx.onStage?.('preprocess');
    const size = spec.image.size;
    let { rgb } = await decodeToRgb(image, spec.image, this.limits, { signal: ctx.signal });
    let profile: ClassifyResult['profile'] = { name: options.profile };
    if (options.profile === 'zoom_crop') {
      // Without a seed one is drawn and returned, so any zoom_crop answer can be reproduced.
      const seed = options.seed ?? randomInt(0, 2 ** 32);
      const view = await zoomCrop(rgb, size, seed);
      rgb = view.rgb;
      profile = { name: 'zoom_crop', seed, crop: view.crop };
    }
    const pixelValues = writePixelValues(rgb, size * size, spec.image, new Float32Array(3 * size * size));
    const preprocess = since(t0);

    ctx.onStage?.('classify');
    const t1 = performance.now();
    const k = Math.min(options.top_k, spec.classes);
    const out = await withCallDeadline(ctx, (deadline, signal) =>
      this.client.inferStreamed(spec.model, imageInput(spec.image.inputName, size, pixelValues), {
        deadline,
        signal,
        requestId: ctx.requestId,
        outputs: [{ name: spec.scoresOutput, classification: k }, { name: spec.embeddingOutput }],
      }),
    );
    const scores = out.get(spec.scoresOutput);
    const embedding = out.get(spec.embeddingOutput);
    if (!scores || !embedding) throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${spec.model}' did not return '${spec.scoresOutput}' and '${spec.embeddingOutput}'`);
    const ranked: ClassScore[] = parseClassification(scores.raw);
    const classify = since(t1);
    return {
      model: spec.model,
      labels: ranked.map((c) => ({ label: c.label, index: c.index, confidence: c.score })),
      embedding: summarise(float32View(embedding.raw), options.embedding === 'full'),
      profile,
      timingsMs: { preprocess, classify, total: since(t0) },
    };
  }
}

/** Dimension, mean and population variance of an embedding; the values themselves if asked. */
export function summarise(values: Float32Array, full: boolean): EmbeddingSummary {
  const dim = values.length;
  let sum = 0;
  for (const v of values) sum += v;
  const mean = dim ? sum / dim : 0;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { dim, mean, variance: dim ? squares / dim : 0, ...(full ? { values: Array.from(values) } : {}) };
}
