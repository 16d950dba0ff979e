/**
 * @module http/openapi/document
 * The OpenAPI 3.1 description of the gateway, generated at start-up from the same zod schemas that
 * validate the options (with the configured limits), the answer schemas and the error catalogue,
 * so the document cannot drift from what the routes accept and send.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../../errors/index.js';
import { ACCEPTED_IMAGE_FORMATS } from '../../preprocess/index.js';
import { captionOptionsSchema, classifyOptionsSchema, type OptionLimits } from '../../validation/index.js';
import { PROBLEM_TYPE_BASE } from '../problem.js';
import {
  captionResponseSchema,
  classifyResponseSchema,
  healthResponseSchema,
  modelsResponseSchema,
  problemSchema,
  readyResponseSchema,
} from './schemas.js';

/** OpenAPI's name for the document type, without a dependency on openapi3-ts in callers. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

export interface OpenApiOptions {
  readonly limits: OptionLimits;
  readonly maxUploadBytes: number;
  /** The document's `info.version`. */
  readonly version: string;
}

const CAPTION_OPTION_DOCS: Record<string, string> = {
  prompt: 'Conditional captioning: the caption continues this text, as BLIP does. Not together with `food=true`.',
  max_new_tokens: 'Most tokens to generate (default: the model’s).',
  min_new_tokens: 'Fewest tokens before the end of the caption may be chosen; at most `max_new_tokens`.',
  num_beams: '1 = greedy search; more = beam search with that many beams.',
  repetition_penalty: '1 = none; above 1 discourages repeating tokens.',
  food: '`true` or `1`: classify the food with the `food_caption` ensemble, continue "a photo of {label}," and add `food` to the answer. 503 `GW_ERR_MODEL_UNAVAILABLE` when the ensemble is not loaded. Default `false`.',
};

const CLASSIFY_OPTION_DOCS: Record<string, string> = {
  top_k: 'How many classes to return, most confident first; more than the classes returns them all.',
  embedding: '`summary`: `dim`, `mean`, `variance` of the image embedding; `full` adds `values`.',
  profile: '`resize`: the model’s own resize; `zoom_crop`: the resized image zoomed to 150%, a random 100 px square crop, zero-padded back.',
  seed: 'Seed of the `zoom_crop` crop (only with `profile=zoom_crop`); the answer reports the seed used either way.',
};

/** The image part of a multipart form and a raw image body: bytes, any image type. */
const imageBytes = z.string().meta({
  format: 'binary',
  contentMediaType: 'image/*',
  description: `The image: ${ACCEPTED_IMAGE_FORMATS.join(', ')} (heif covers AVIF), recognised by its bytes whatever its declared type.`,
});

/**
 * The option fields of a validation schema, each described with zod's own input-side JSON Schema.
 * zod-to-openapi infers nullability with `safeParse(null)`, which z.coerce.number() passes (null
 * becomes 0); zod's JSON Schema of the input is exact, so it is given as the field's metadata.
 */
function documentedFields(shape: Record<string, z.ZodType>, docs: Record<string, string>): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.entries(shape).map(([name, field]) => {
      const description = docs[name];
      if (!description) throw new Error(`openapi: option '${name}' has no description`);
      const { $schema: _, ...json } = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' });
      return [name, field.meta({ ...json, description })];
    }),
  );
}

/** Problem+json answers for `statuses`, each listing its catalogue codes with an example. */
function problemResponses(statuses: readonly number[], except: readonly ErrorCode[] = []): Record<number, ResponseConfig> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE) as Array<[ErrorCode, { status: number }]>) {
    if (statuses.includes(status) && !except.includes(code)) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()].map(([status, codes]) => [
      status,
      {
        description: codes.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].title}`).join('; '),
        headers: status === 503 ? { ...requestIdHeader, ...retryAfterHeader } : requestIdHeader,
        content: {
          'application/problem+json': {
            schema: problemSchema,
            examples: Object.fromEntries(
              codes.map((code) => [
                code,
                {
                  summary: ERROR_CATALOGUE[code].title,
                  value: { type: PROBLEM_TYPE_BASE + code, title: ERROR_CATALOGUE[code].title, status, detail: '…', code, instance: '6f1c2a54-0d7e-4a55-9c43-0c1e8f3b7a10' },
                },
              ]),
            ),
          },
        },
      } satisfies ResponseConfig,
    ]),
  );
}

const requestIdHeader = { 'X-Request-Id': { description: 'The request id: the client’s own when it sent a sane one, else a new UUID.', schema: { type: 'string' as const } } };
const retryAfterHeader = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' as const, minimum: 0 } } };
const serverTimingHeader = { 'Server-Timing': { description: 'The same per-stage timings, e.g. `preprocess;dur=2.1, encode;dur=3.0`.', schema: { type: 'string' as const } } };
const requestHeaders = z.object({
  'x-request-id': z
    .string()
    .regex(/^[\w.:/+=-]{1,128}$/)
    .optional()
    .meta({ description: 'A request id to echo in X-Request-Id and problem `instance` (else a UUID is made).' }),
  'request-timeout': z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .optional()
    .meta({
      description:
        'Seconds this request may take, e.g. `2.5`: a deadline shorter than the gateway\'s REQUEST_TIMEOUT_MS (longer is capped to it; 0 or anything but a number is a 400). A request that cannot finish in time behind the queue is refused at once with 503 `GW_ERR_OVERLOADED` and Retry-After.',
    }),
});

/** The upload errors and everything after it: what both POST routes can answer. */
const UPLOAD_ERROR_STATUSES = [400, 408, 413, 415, 422, 500, 502, 503, 504] as const;

/** One POST route that takes an image (multipart or raw) plus options (form fields or query). */
function imageRoute(
  path: string,
  summary: string,
  description: string,
  options: Record<string, z.ZodType>,
  answer: ResponseConfig,
  maxUploadBytes: number,
): RouteConfig {
  const operationId = path.slice(1);
  return {
    method: 'post',
    path,
    operationId,
    tags: ['inference'],
    summary,
    description: `${description}\n\nSend the image as multipart field \`image\` (options as further form fields) or as a raw \`image/*\` body (options as query parameters); query parameters also apply to multipart requests. Uploads above ${maxUploadBytes} bytes are refused (413). Unknown options are refused (400).`,
    request: {
      query: z.object(options),
      headers: requestHeaders,
      body: {
        required: true,
        // image/* first: Swagger UI's "Try it out" starts with the first media type, and fills every
        // multipart field with a sample value ("string" for prompt, 1 for max_new_tokens).
        content: {
          'image/*': { schema: imageBytes },
          'multipart/form-data': { schema: z.object({ image: imageBytes, ...options }), encoding: { image: { contentType: 'image/*' } } },
        },
      },
    },
    responses: { 200: answer, ...problemResponses(UPLOAD_ERROR_STATUSES) },
  };
}

/** Builds the OpenAPI 3.1 document; throws at start-up if a schema cannot be described. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  // Schemas with a zod `.meta({ id })` become components/schemas, referenced by $ref.
  const registry = new OpenAPIRegistry();

  const captionFields = documentedFields(captionOptionsSchema(options.limits).shape, CAPTION_OPTION_DOCS);
  registry.registerPath(
    imageRoute(
      '/caption',
      'Caption an image',
      `Encodes the image and generates its caption token by token (greedy or beam search). \`max_new_tokens\` is capped at ${options.limits.maxNewTokens} and \`num_beams\` at ${options.limits.maxBeams} on this gateway; \`min_new_tokens\` must not exceed \`max_new_tokens\`.`,
      captionFields,
      {
        description: 'The caption, the models that wrote it and per-stage timings.',
        headers: { ...requestIdHeader, ...serverTimingHeader },
        content: { 'application/json': { schema: captionResponseSchema } },
      },
      options.maxUploadBytes,
    ),
  );

  const classifyFields = documentedFields(classifyOptionsSchema.shape, CLASSIFY_OPTION_DOCS);
  registry.registerPath(
    imageRoute(
      '/classify',
      'Classify the food in an image',
      'Runs the food classifier: the `top_k` labels with confidences, the image embedding (summarised or in full) and the preprocessing profile used.',
      classifyFields,
      {
        description: 'Labels, embedding, profile and per-stage timings.',
        headers: { ...requestIdHeader, ...serverTimingHeader },
        content: { 'application/json': { schema: classifyResponseSchema } },
      },
      options.maxUploadBytes,
    ),
  );

  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'healthz',
    tags: ['operations'],
    summary: 'Liveness',
    description: '200 while the process is alive.',
    responses: { 200: { description: 'Alive.', headers: requestIdHeader, content: { 'application/json': { schema: healthResponseSchema } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'readyz',
    tags: ['operations'],
    summary: 'Readiness',
    description: 'Ready when the model server is ready and the caption models are loaded.',
    responses: {
      200: { description: 'Ready.', headers: requestIdHeader, content: { 'application/json': { schema: readyResponseSchema } } },
      503: { description: 'Not ready (the body says what is missing).', headers: { ...requestIdHeader, ...retryAfterHeader }, content: { 'application/json': { schema: readyResponseSchema } } },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics',
    description: 'Request counts and latencies, caption stage timings and tokens, in the Prometheus text exposition format.',
    responses: { 200: { description: 'The metrics.', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    tags: ['operations'],
    summary: 'Models on the model server',
    description: 'Models, versions, states, platform and tensor shapes (RepositoryIndex + ModelConfig).',
    responses: {
      200: { description: 'The models.', headers: requestIdHeader, content: { 'application/json': { schema: modelsResponseSchema } } },
      ...problemResponses([500, 502, 503, 504], ['GW_ERR_DEADLINE', 'GW_ERR_MODEL_UNAVAILABLE', 'GW_ERR_OVERLOADED']),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    tags: ['documentation'],
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'The document.', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'docs',
    tags: ['documentation'],
    summary: 'Swagger UI for this document',
    description: 'Redirects to `/docs/`, the Swagger UI page.',
    responses: { 301: { description: 'To `/docs/`.', headers: { Location: { schema: { type: 'string' } } } }, 200: { description: 'The page.', content: { 'text/html': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/',
    operationId: 'webPage',
    tags: ['documentation'],
    summary: 'Web page: drop an image, see its caption, food label and timings',
    responses: { 200: { description: 'The page.', content: { 'text/html': { schema: z.string() } } } },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'triton-caption-gateway',
      version: options.version,
      description:
        'Image captioning (BLIP-style) and food classification over NVIDIA Triton (KServe v2 gRPC). Errors are `application/problem+json` (RFC 9457) with a stable `code`.',
    },
    tags: [
      { name: 'inference', description: 'Captions and classes of an image.' },
      { name: 'operations', description: 'Health, readiness and the model server.' },
      { name: 'documentation', description: 'This document, Swagger UI and the web page.' },
    ],
  });
}
