/**
 * @module observability
 * Metrics (Prometheus, prom-client) and structured logs (pino) for the gateway.
 */
export { createLogger } from './logger.js';
export type { DestinationStream, Logger } from './logger.js';
export { CAPTION_STAGES, GatewayMetrics } from './metrics.js';
export type { CaptionStage, ModelCallFailure } from './metrics.js';
