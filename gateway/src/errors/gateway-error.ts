/**
 * @module errors/gateway-error
 * The one error class the gateway throws for a request: a catalogue code plus a human detail.
 * The error middleware turns it into application/problem+json (RFC 9457).
 */
import { ERROR_CATALOGUE, type ErrorCode } from './catalogue.js';

export class GatewayError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    /** Seconds a client should wait before retrying (503s). */
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'GatewayError';
    this.status = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
  }
}
