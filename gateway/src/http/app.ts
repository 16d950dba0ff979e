/**
 * @module http/app
 * The Express application, its middleware in request order: request id, request observation
 * (request-scoped logger, metrics, the one access-log line), routes (upload → validation →
 * captioning), 404, problem+json errors.
 */
import express, { type Express } from 'express';
import type { Logger } from '../observability/index.js';
import { docsRoutes } from './docs.js';
import { observeRequests } from './observe-requests.js';
import { notFound, problemHandler } from './problem.js';
import { requestId } from './request-id.js';
import { type RouteDeps, routes } from './routes.js';

export interface AppDeps extends RouteDeps {
  /** Lines outside any request; a request's own lines go to its child logger, `res.locals['log']`. */
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
  /** The root logger; each request gets a child carrying its request id. */
  readonly logger: Logger;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Express hashes every res.send body into an ETag. Captions and health answers are computed
  // per request and never revalidated, so the hash was pure cost (0.7 % of the gateway's main
  // thread under load). /docs keeps its ETags: express.static sets its own.
  app.set('etag', false);
  app.use(requestId);
  app.use(observeRequests({ logger: deps.logger, metrics: deps.metrics }));
  app.use(docsRoutes(deps));
  app.use(routes(deps));
  app.use(notFound);
  app.use(problemHandler);
  return app;
}
