/**
 * @module http/app
 * The Express application, its middleware in request order: request id, routes (upload →
 * validation → captioning), 404, problem+json errors.
 */
import express, { type Express } from 'express';
import { notFound, problemHandler } from './problem.js';
import { requestId } from './request-id.js';
import { type RouteDeps, routes } from './routes.js';

export interface AppDeps extends RouteDeps {
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId);
  app.use(routes(deps));
  app.use(notFound);
  app.use(problemHandler((level, msg, extra) => deps.log(level, msg, extra)));
  return app;
}
