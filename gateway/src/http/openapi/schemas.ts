/**
 * @module http/openapi/schemas
 * zod schemas of the gateway's answers: the JSON each route sends and the problem+json error body.
 * routes.ts checks its answers against the inferred types; openapi/document.ts describes them.
 */
import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../../errors/index.js';

/** A stage duration in milliseconds, rounded to 0.1 ms (also sent as `Server-Timing`). */
const ms = z.number().min(0);

export const captionResponseSchema = z
  .object({
    caption: z.string().meta({ description: 'The caption; with `prompt` (or `food=true`) it starts with the prompt.', examples: ['a bowl of soup next to a banana on a wooden table'] }),
    model: z.object({ encoder: z.string(), decoder: z.string() }).meta({ description: 'Model names on the model server.' }),
    tokens: z.number().int().min(0).meta({ description: 'Tokens generated.' }),
    finish_reason: z.enum(['eos', 'length']).meta({ description: '`eos`: the model ended the caption; `length`: `max_new_tokens` reached.' }),
    food: z
      .object({ label: z.string(), confidence: z.number().min(0).max(1) })
      .optional()
      .meta({ description: 'Only with `food=true`: the food class the caption was conditioned on.' }),
    timings_ms: z.object({ preprocess: ms, encode: ms, generate: ms, total: ms }).meta({ description: 'Per-stage durations in milliseconds (also in `Server-Timing`).' }),
  })
  .meta({ id: 'CaptionResponse' });

export const classifyResponseSchema = z
  .object({
    model: z.string().meta({ description: 'The classifier model.', examples: ['food_classifier'] }),
    labels: z
      .array(z.object({ label: z.string(), index: z.number().int().min(0), confidence: z.number().min(0).max(1) }))
      .readonly()
      .meta({ description: 'The `top_k` classes, most confident first.' }),
    embedding: z
      .object({
        dim: z.number().int().min(1),
        mean: z.number(),
        variance: z.number().min(0),
        values: z.array(z.number()).optional().meta({ description: 'Only with `embedding=full`.' }),
      })
      .meta({ description: 'The image embedding, summarised (or in full).' }),
    profile: z
      .object({
        name: z.enum(['resize', 'zoom_crop']),
        seed: z.number().int().min(0).optional().meta({ description: 'zoom_crop: the seed used (sent or drawn).' }),
        crop: z.object({ left: z.number().int(), top: z.number().int(), side: z.number().int() }).optional(),
      })
      .meta({ description: 'The preprocessing profile applied.' }),
    timings_ms: z.object({ preprocess: ms, classify: ms, total: ms }).meta({ description: 'Per-stage durations in milliseconds (also in `Server-Timing`).' }),
  })
  .meta({ id: 'ClassifyResponse' });

export const healthResponseSchema = z.object({ status: z.literal('ok') }).meta({ id: 'HealthResponse' });

export const readyResponseSchema = z
  .object({
    ready: z.boolean(),
    modelServer: z.boolean().meta({ description: 'ServerReady of the model server.' }),
    models: z.record(z.string(), z.boolean()).meta({ description: 'ModelReady of each required model.' }),
  })
  .meta({ id: 'ReadyResponse' });

const tensorSchema = z.object({ name: z.string(), dims: z.array(z.number().int()) });

export const modelsResponseSchema = z
  .object({
    models: z.array(
      z.object({
        name: z.string(),
        ready: z.boolean(),
        versions: z.array(z.object({ version: z.string(), state: z.string(), reason: z.string() })),
        platform: z.string().optional(),
        maxBatchSize: z.number().int().optional(),
        inputs: z.array(tensorSchema).optional(),
        outputs: z.array(tensorSchema).optional(),
      }),
    ),
  })
  .meta({ id: 'ModelsResponse' });

const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]];

/** RFC 9457 problem details, as problemHandler writes them. */
export const problemSchema = z
  .object({
    type: z.string().meta({ description: 'A URI naming the error code.' }),
    title: z.string().meta({ description: "The catalogue code's title." }),
    status: z.number().int().meta({ description: 'The HTTP status.' }),
    detail: z.string().meta({ description: 'What went wrong with this request.' }),
    code: z.enum(ERROR_CODES).meta({ description: 'The stable catalogue code.' }),
    instance: z.string().meta({ description: 'The request id (X-Request-Id).' }),
  })
  .meta({ id: 'Problem' });

export type CaptionResponse = z.infer<typeof captionResponseSchema>;
export type ClassifyResponse = z.infer<typeof classifyResponseSchema>;
export type HealthResponse = z.infer<typeof healthResponseSchema>;
export type ReadyResponse = z.infer<typeof readyResponseSchema>;
export type ModelsResponse = z.infer<typeof modelsResponseSchema>;
export type ProblemResponse = z.infer<typeof problemSchema>;
