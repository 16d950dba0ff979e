/**
 * @module http/docs
 * Documentation and the web page: GET /openapi.json (generated once, at start-up, from the zod
 * schemas), Swagger UI at /docs/ (the swagger-ui-dist package, served from node_modules, no CDN)
 * and the captioning page at / (plain files in gateway/public). The HTML pages get a
 * Content-Security-Policy that allows this origin only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Response, Router } from 'express';
import { buildOpenApiDocument } from './openapi/index.js';
import type { RouteDeps } from './routes.js';

export type DocsDeps = Pick<RouteDeps, 'limits' | 'maxUploadBytes'>;

/** gateway/public: the web page, its script and style, and the Swagger UI initializer. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public', import.meta.url));
/** The swagger-ui-dist package folder (index.html, the bundles, the CSS). */
export const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The web page: its own script, style and fetches only; images are previewed from blob: URLs.
 * https://www.w3.org/TR/CSP3/
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Swagger UI: React sets inline style attributes, and its icons and response previews use data: and blob: URLs. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const staticHeaders = (csp: string) => (res: Response, file: string) => {
  res.set('X-Content-Type-Options', 'nosniff');
  if (file.endsWith('.html')) res.set('Content-Security-Policy', csp);
};

/** GET /openapi.json, GET /docs (Swagger UI) and GET / (the web page), mounted before the API routes. */
export function docsRoutes(deps: DocsDeps): Router {
  const router = Router();
  const document = JSON.stringify(buildOpenApiDocument({ limits: deps.limits, maxUploadBytes: deps.maxUploadBytes, version: PACKAGE_VERSION }));

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });

  // swagger-ui-dist's index.html loads its assets by relative URL, so the page lives at /docs/.
  // Express 5 matches '/docs' and '/docs/' alike (strict routing off), so the slash is checked here.
  router.get('/docs', (req, res, next) => {
    if (req.originalUrl.split('?')[0]!.endsWith('/')) return next();
    res.redirect(301, '/docs/');
  });
  router.use(
    '/docs',
    // Our swagger-initializer.js (pointing at /openapi.json) shadows the package's petstore one.
    express.static(path.join(PUBLIC_DIR, 'docs'), { index: false, redirect: false, setHeaders: staticHeaders(DOCS_CSP) }),
    express.static(SWAGGER_UI_DIR, { index: 'index.html', redirect: false, setHeaders: staticHeaders(DOCS_CSP) }),
  );

  router.get('/', (_req, res, next) => {
    res.sendFile('index.html', { root: PUBLIC_DIR, headers: { 'Content-Security-Policy': PAGE_CSP, 'X-Content-Type-Options': 'nosniff' } }, (err) => err && next(err));
  });
  router.use(express.static(PUBLIC_DIR, { index: false, redirect: false, setHeaders: staticHeaders(PAGE_CSP) }));

  return router;
}
