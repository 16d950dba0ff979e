/**
 * GET /openapi.json, GET /docs and GET / end to end: the document is valid OpenAPI 3.1, describes
 * exactly the routes the Express routers register, and the answers of a real gateway match its
 * schemas; Swagger UI and the web page are served, with their assets, from this origin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileErrors, validate } from '@readme/openapi-parser';
import type { Router } from 'express';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { ERROR_CATALOGUE } from '../src/errors/index.js';
import { docsRoutes } from '../src/http/docs.js';
import { captionResponseSchema, classifyResponseSchema, healthResponseSchema, modelsResponseSchema, problemSchema, readyResponseSchema } from '../src/http/openapi/index.js';
import { type RouteDeps, routes } from '../src/http/routes.js';
import type { RunningGateway } from '../src/main.js';
import { form, startTestGateway } from './helpers.js';

interface Operation {
  operationId?: string;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }> };
}

let gw: RunningGateway;
let doc: OpenApi;
before(async () => {
  gw = await startTestGateway();
  const res = await fetch(`${gw.url}/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  doc = (await res.json()) as OpenApi;
});
after(() => gw.stop());

/** `METHOD /path` of every route a router registers, Express `:param` written as OpenAPI `{param}`. */
function registeredRoutes(router: Router): string[] {
  return router.stack.flatMap((layer) => {
    const route = layer.route as { path: string | string[]; methods?: Record<string, boolean> } | undefined;
    if (!route) return [];
    const methods = Object.keys(route.methods ?? {}).filter((m) => m !== '_all');
    return [route.path].flat().flatMap((path) => methods.map((m) => `${m.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`));
  });
}

// Building the routers reads only these; the services are used when a request comes.
const STUB_DEPS = { limits: { maxNewTokens: 64, maxBeams: 8 }, maxUploadBytes: 1024, requestTimeoutMs: 1000, callTimeoutMs: 1000, requiredModels: [] } as unknown as RouteDeps;

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(doc.info.title, 'triton-caption-gateway');
    // validate() dereferences in place, so it gets a copy.
    const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0]);
    assert.ok(result.valid, result.valid ? '' : compileErrors(result));
    assert.deepEqual(result.warnings, []);
  });

  it('describes exactly the routes the routers register', () => {
    const registered = [...registeredRoutes(routes(STUB_DEPS)), ...registeredRoutes(docsRoutes(STUB_DEPS))].sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    assert.ok(registered.includes('POST /caption') && registered.includes('GET /openapi.json'), registered.join(', '));
    assert.deepEqual(documented, registered);
  });

  it('describes both POST routes: multipart and image/* bodies, every option, problem+json errors per status', () => {
    const options = {
      caption: ['prompt', 'max_new_tokens', 'min_new_tokens', 'num_beams', 'repetition_penalty', 'food'],
      classify: ['top_k', 'embedding', 'profile', 'seed'],
    };
    for (const [route, names] of Object.entries(options)) {
      const op = doc.paths[`/${route}`]!['post']!;
      assert.deepEqual(Object.keys(op.requestBody!.content), ['image/*', 'multipart/form-data']);
      assert.deepEqual(Object.keys(op.requestBody!.content['multipart/form-data']!.schema.properties!), ['image', ...names]);
      assert.deepEqual(op.parameters!.filter((p) => p.in === 'query').map((p) => p.name), names);
      for (const status of ['400', '413', '415', '422', '500', '502', '503', '504']) {
        const response = op.responses[status];
        assert.ok(response, `${route}: ${status} documented`);
        assert.equal(response.content!['application/problem+json']!.schema!.$ref, '#/components/schemas/Problem');
        const codes = Object.entries(ERROR_CATALOGUE).filter(([code, e]) => String(e.status) === status && code !== 'GW_ERR_NOT_FOUND');
        for (const [code] of codes) assert.ok(response.description.includes(code), `${route} ${status} lists ${code}`);
      }
      assert.ok(op.responses['200']!.content!['application/json']!.schema!.$ref);
    }
    // The option limits are the gateway's configured ones.
    const maxNewTokens = doc.paths['/caption']!['post']!.parameters!.find((p) => p.name === 'max_new_tokens') as unknown as { schema: { maximum: number } };
    assert.equal(maxNewTokens.schema.maximum, 64);
    assert.deepEqual(doc.components.schemas['Problem']!.properties!['code']!.enum, Object.keys(ERROR_CATALOGUE));
  });

  it('matches what the gateway answers: every documented GET, both POSTs and an error', async () => {
    const get = async (path: string) => fetch(`${gw.url}${path}`, { redirect: 'manual' });
    const statuses = new Map<string, number>();
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!item['get']) continue;
      const res = await get(path);
      await res.arrayBuffer();
      assert.ok(res.status in item['get'].responses, `GET ${path}: ${res.status} is documented`);
      statuses.set(path, res.status);
    }
    assert.equal(statuses.get('/readyz'), 200);
    healthResponseSchema.parse(await (await get('/healthz')).json());
    readyResponseSchema.parse(await (await get('/readyz')).json());
    modelsResponseSchema.parse(await (await get('/v1/models')).json());

    const png = await renderScene(generateScene(4_300_001), 'png');
    const caption = await fetch(`${gw.url}/caption?num_beams=2`, { method: 'POST', body: form(png) });
    assert.equal(caption.status, 200);
    captionResponseSchema.parse(await caption.json());
    // The image/* media range exactly as Swagger UI sends it for a raw body.
    const classify = await fetch(`${gw.url}/classify?embedding=full`, { method: 'POST', body: new Blob([png]), headers: { 'content-type': 'image/*' } });
    assert.equal(classify.status, 200);
    classifyResponseSchema.parse(await classify.json());
    const bad = await fetch(`${gw.url}/caption?num_beams=0`, { method: 'POST', body: form(png) });
    assert.equal(bad.status, 400);
    problemSchema.parse(await bad.json());
  });
});

/** The `src`/`href` of `<script>` and `<link rel=stylesheet>` tags. */
const assetsOf = (html: string) => [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="([^"]+)"/g)].map((m) => m[1]!);

describe('GET /docs', () => {
  it('redirects to /docs/, the Swagger UI page, with a same-origin Content-Security-Policy', async () => {
    const redirect = await fetch(`${gw.url}/docs`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/docs/');
    const res = await fetch(`${gw.url}/docs/`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html, /<div id="swagger-ui">/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
  });

  it('serves Swagger UI’s scripts and styles from swagger-ui-dist, and an initializer pointing at /openapi.json', async () => {
    const html = await (await fetch(`${gw.url}/docs/`)).text();
    const assets = assetsOf(html);
    for (const name of ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-initializer.js', 'swagger-ui.css']) {
      assert.ok(assets.some((a) => a.endsWith(name)), `${name} in ${assets.join(', ')}`);
    }
    for (const asset of assets) {
      assert.ok(!/^(https?:)?\/\//.test(asset), `${asset} is served by the gateway, not a CDN`);
      const res = await fetch(new URL(asset, `${gw.url}/docs/`));
      const body = await res.text();
      assert.equal(res.status, 200, asset);
      assert.match(res.headers.get('content-type') ?? '', asset.endsWith('.js') ? /javascript/ : /text\/css/, asset);
      if (asset.endsWith('swagger-ui-bundle.js')) {
        assert.ok(body.length > 100_000 && body.includes('SwaggerUIBundle'), 'the real bundle');
        assert.ok(res.headers.get('etag'), 'static assets keep their ETags (express.static sets its own)');
      }
      if (asset.endsWith('swagger-initializer.js')) {
        assert.match(body, /openapi\.json/);
        assert.doesNotMatch(body, /petstore/);
      }
    }
  });
});

describe('GET /', () => {
  it('serves the web page, its module and its style, with a Content-Security-Policy', async () => {
    const res = await fetch(`${gw.url}/`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*script-src 'self'/);
    assert.match(html, /<script type="module" src="app\.js">/);
    assert.match(html, /<label for="image">/);
    for (const asset of assetsOf(html)) {
      const asset_ = await fetch(new URL(asset, `${gw.url}/`));
      assert.equal(asset_.status, 200, asset);
      assert.match(asset_.headers.get('content-type') ?? '', asset.endsWith('.js') ? /javascript/ : /text\/css/, asset);
    }
    // Unknown paths still get the problem+json 404, not a static-file answer.
    const missing = await fetch(`${gw.url}/nope.js`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });
});
