/**
 * @module http/openapi
 * The gateway's answer schemas and its OpenAPI 3.1 document, generated from zod.
 */
export { buildOpenApiDocument } from './document.js';
export type { OpenApiDocument, OpenApiOptions } from './document.js';
export {
  captionResponseSchema,
  classifyResponseSchema,
  healthResponseSchema,
  modelsResponseSchema,
  problemSchema,
  readyResponseSchema,
} from './schemas.js';
export type { CaptionResponse, ClassifyResponse, HealthResponse, ModelsResponse, ProblemResponse, ReadyResponse } from './schemas.js';
