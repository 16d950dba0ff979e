/**
 * @module http/problem
 * The one error middleware: every failure becomes application/problem+json (RFC 9457) with
 * `type`, `title`, `status`, `detail` and the catalogue `code`; 503s carry Retry-After.
 * Unknown errors are answered as 500 without internals. Nothing is logged here: the error is left
 * in `res.locals['problem']` for the request's one access-log line (observe-requests.ts), which
 * carries its code, and for a 5xx the error and its cause.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { GatewayError } from '../errors/index.js';

export const PROBLEM_TYPE_BASE = 'https://github.com/triton-caption-gateway/errors#';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new GatewayError('GW_ERR_NOT_FOUND', `no route for ${req.method} ${req.path}`));
};

export const problemHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const e = err instanceof GatewayError ? err : new GatewayError('GW_ERR_INTERNAL', 'an unexpected error occurred', undefined, { cause: err });
  res.locals['problem'] = e;
  if (res.headersSent) return;
  if (e.retryAfterSeconds !== undefined) res.set('Retry-After', String(e.retryAfterSeconds));
  res
    .status(e.status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: PROBLEM_TYPE_BASE + e.code, title: e.title, status: e.status, detail: e.detail, code: e.code, instance: res.locals['requestId'] }));
};
