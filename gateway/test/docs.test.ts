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
import { docsRoutes } from '../src/http/docs.js';
import { captionResponseSchema, classifyResponseSchema, healthResponseSchema, modelsResponseSchema, problemSchema, readyResponseSchema } from '../src/http/openapi/index.js';
import { type RouteDeps, routes } from '../src/http/routes.js';
import type { RunningGateway } from '../src/main.js';
import { form, hugePngHeader, solidPng, startTestGateway } from './helpers.js';

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
      }
      assert.ok(op.responses['200']!.content!['application/json']!.schema!.$ref);
    }
    // The option limits are the gateway's configured ones (the test gateway's MAX_NEW_TOKENS and MAX_BEAMS).
    const limit = (name: string) => (doc.paths['/caption']!['post']!.parameters!.find((p) => p.name === name) as unknown as { schema: { maximum: number } }).schema.maximum;
    assert.deepEqual([limit('max_new_tokens'), limit('num_beams')], [64, 8]);
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

interface ParameterSchema {
  type: 'integer' | 'number' | 'string';
  enum?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

/**
 * Values of a documented query option: those its schema allows at its edges (each enum value, the
 * minimum and maximum) and those just outside (another word, one past each bound, a fraction
 * for an integer, one character too many).
 */
function valuesOf(schema: ParameterSchema): { accepted: string[]; refused: string[] } {
  if (schema.enum) return { accepted: schema.enum, refused: ['not-an-option', ''] };
  if (schema.type === 'string') return { accepted: ['a picture of'], refused: ['x'.repeat(schema.maxLength! + 1)] };
  const step = schema.type === 'integer' ? 1 : 0.5;
  const [min, max] = [schema.minimum!, schema.maximum!];
  const refused = [min - step, max + step, ...(schema.type === 'integer' ? [min + 0.5] : []), 'many'];
  return { accepted: [min, max].map(String), refused: refused.map(String) };
}

/** Options a value needs beside it to be valid at all: the cross-field rules the document states in words. */
const COMPANIONS: Record<string, Record<string, string>> = {
  // min_new_tokens must not exceed max_new_tokens; seed only with profile=zoom_crop.
  min_new_tokens: { max_new_tokens: '64' },
  seed: { profile: 'zoom_crop' },
};

describe('the documented options and errors, on the running gateway', () => {
  let png: Buffer;
  before(async () => {
    png = await renderScene(generateScene(4_300_002), 'png');
  });
  const problemDoc = () => doc.components.schemas['Problem'] as { required?: string[]; properties: Record<string, { type?: string; enum?: string[] }> };

  /** A problem answer as the document describes it: its status and code documented for this route, the body in the Problem schema. */
  async function assertDocumentedProblem(route: string, res: Response, status: number, code: string, what: string): Promise<void> {
    assert.equal(res.status, status, what);
    const body = (await res.json()) as Record<string, unknown>;
    const schema = problemDoc();
    for (const name of schema.required ?? []) assert.ok(name in body, `${what}: '${name}' missing`);
    for (const [name, value] of Object.entries(body)) {
      const property = schema.properties[name];
      assert.ok(property, `${what}: '${name}' is not in the Problem schema`);
      const type = property.type === 'integer' ? 'number' : property.type;
      if (type) assert.equal(typeof value, type, `${what}: ${name}`);
    }
    assert.equal(body['code'], code, what);
    assert.ok(schema.properties['code']!.enum!.includes(code), `${what}: ${code} is not in the documented enum`);
    assert.equal(body['status'], status, what);
    const documented = doc.paths[route]!['post']!.responses[String(status)];
    assert.ok(documented?.description.includes(code), `${what}: ${route} does not document ${code} under ${status}`);
  }

  for (const route of ['/caption', '/classify']) {
    it(`${route}: every documented option is accepted at its enum values and bounds, and refused (400) just outside them`, async () => {
      const options = doc.paths[route]!['post']!.parameters!.filter((p) => p.in === 'query') as unknown as Array<{ name: string; schema: ParameterSchema }>;
      assert.ok(options.length >= 4);
      for (const { name, schema } of options) {
        const { accepted, refused } = valuesOf(schema);
        for (const value of accepted) {
          const query = new URLSearchParams({ ...COMPANIONS[name], [name]: value });
          const res = await fetch(`${gw.url}${route}?${query}`, { method: 'POST', body: form(png) });
          assert.equal(res.status, 200, `${route}?${query}: ${await res.clone().text()}`);
          (route === '/caption' ? captionResponseSchema : classifyResponseSchema).parse(await res.json());
        }
        for (const value of refused) {
          const query = new URLSearchParams({ ...COMPANIONS[name], [name]: value });
          await assertDocumentedProblem(route, await fetch(`${gw.url}${route}?${query}`, { method: 'POST', body: form(png) }), 400, 'GW_ERR_OPTION_INVALID', `${route}?${query}`);
        }
      }
      // An option the document does not list is refused too, as it says.
      await assertDocumentedProblem(route, await fetch(`${gw.url}${route}?colour=blue`, { method: 'POST', body: form(png) }), 400, 'GW_ERR_OPTION_INVALID', `${route}?colour=blue`);
    });
  }

  it('answers upload and image errors with the documented status and code', async () => {
    const dot = await solidPng(1, 1);
    const cases: Array<[string, RequestInit, number, string]> = [
      ['no image', { method: 'POST', body: new FormData() }, 400, 'GW_ERR_UPLOAD_MISSING'],
      ['text', { method: 'POST', body: form(Buffer.from('name,calories\n'), {}, 'menu.csv', 'text/csv') }, 415, 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE'],
      ['1×1 image', { method: 'POST', body: form(dot) }, 422, 'GW_ERR_IMAGE_DEGENERATE'],
      ['header-only 20000×20000 PNG', { method: 'POST', body: form(hugePngHeader(20000, 20000)) }, 422, 'GW_ERR_IMAGE_TOO_MANY_PIXELS'],
    ];
    for (const route of ['/caption', '/classify']) {
      for (const [what, init, status, code] of cases) await assertDocumentedProblem(route, await fetch(`${gw.url}${route}`, init), status, code, `${route}, ${what}`);
    }
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
