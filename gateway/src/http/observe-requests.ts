/**
 * @module http/observe-requests
 * Per request: a pino child logger carrying the request id (`res.locals['log']`, for every line a
 * handler writes), the in-flight gauge, and when the response ends exactly one access-log line
 * and one `http_requests_total` count, labelled with the Express route pattern, never the raw URL.
 * The access line is the request's only line from the gateway itself: for an error it carries the
 * catalogue code the problem handler left in `res.locals['problem']` (and, for a 5xx other than
 * a 503 GW_ERR_OVERLOADED refusal, the error and its cause).
 */
import type { Request, RequestHandler } from 'express';
import { ERROR_CATALOGUE, type GatewayError } from '../errors/index.js';
import type { GatewayMetrics, Logger } from '../observability/index.js';

export interface ObserveRequestsDeps {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Paths left out of the in-flight gauge: a scrape would otherwise always count itself. */
  readonly notInFlight?: readonly string[];
}

/** The `route` label of requests no route matched (404s, and anything a plain middleware answers). */
export const UNMATCHED_ROUTE = 'unmatched';

/** nginx's status for a client that closed the connection before the answer was sent. */
const CLIENT_CLOSED = ERROR_CATALOGUE.GW_ERR_CLIENT_CLOSED.status;

/**
 * Observes every request; mount it right after the request-id middleware.
 *
 * @example
 * app.use(requestId);
 * app.use(observeRequests({ logger, metrics }));
 */
export function observeRequests({ logger, metrics, notInFlight = ['/metrics'] }: ObserveRequestsDeps): RequestHandler {
  return (req, res, next) => {
    const t0 = performance.now();
    const path = req.path;
    const log = logger.child({ requestId: res.locals['requestId'] as string });
    res.locals['log'] = log;
    const routePattern = captureRoutePattern(req);
    const endInFlight = notInFlight.includes(path) ? undefined : metrics.requestStarted();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      endInFlight?.();
      const aborted = !res.writableFinished;
      const status = aborted && !res.headersSent ? CLIENT_CLOSED : res.statusCode;
      const route = routePattern() ?? UNMATCHED_ROUTE;
      metrics.countRequest(req.method, route, status);
      // The stage a work request had reached (request-deadline.ts), for one its client abandoned.
      const stage = status === CLIENT_CLOSED ? ((res.locals['stage'] as string | undefined) ?? 'request') : undefined;
      if (stage) metrics.countCancelled(route, stage);
      const problem = res.locals['problem'] as GatewayError | undefined;
      // Shedding load is the gateway working as designed, not a fault: a warn line without the
      // error's stack (at 10x load there are thousands a second, and the stacks were most of the log).
      const fault = status >= 500 && problem?.code !== 'GW_ERR_OVERLOADED';
      const level = fault ? 'error' : status >= 400 ? 'warn' : 'info';
      log[level](
        {
          method: req.method,
          route,
          path,
          status,
          durationMs: Math.round((performance.now() - t0) * 10) / 10,
          ...(problem ? { code: problem.code, detail: problem.detail } : {}),
          // A 5xx is the gateway's or the model server's fault: keep the error and its cause.
          ...(problem && fault ? { err: problem } : {}),
          ...(aborted ? { aborted: true } : {}),
          ...(stage ? { stage } : {}),
        },
        aborted ? 'request aborted' : 'request completed',
      );
    };
    res.once('finish', end);
    res.once('close', end);
    next();
  };
}

/**
 * Records the full pattern (mount path + route path) of the route that handles `req`, at the
 * moment the router assigns `req.route`: an error leaving a mounted router has its `baseUrl`
 * restored before the problem handler answers, so reading both when the response ends would drop
 * the mount path.
 */
function captureRoutePattern(req: Request): () => string | undefined {
  let route: unknown;
  let pattern: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      if (value?.path !== undefined) pattern = `${req.baseUrl}${String(value.path)}`;
    },
  });
  return () => pattern;
}
