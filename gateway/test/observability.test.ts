/**
 * GET /metrics and the JSON logs end to end: real captions and real bad inputs through a gateway
 * on the embedded model server, then the Prometheus text it serves and the log lines it wrote.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import type { RunningGateway } from '../src/main.js';
import { CAPTION_STAGES, GatewayMetrics } from '../src/observability/index.js';
import { imageInput } from '../src/triton/image-input.js';
import { expectProblem, form, startTestGateway } from './helpers.js';

type LogLine = Record<string, unknown>;

/** A pino destination that keeps every line it is given. */
class CapturedLog {
  readonly raw: string[] = [];
  write(chunk: string): void {
    this.raw.push(...chunk.split('\n').filter(Boolean));
  }
  lines(): LogLine[] {
    return this.raw.map((l) => JSON.parse(l) as LogLine);
  }
  /** Waits for the access line of `requestId`: it is written when the response ends, which can be after the client has read it. */
  async accessLineOf(requestId: string): Promise<LogLine> {
    for (const until = Date.now() + 5000; ; ) {
      const line = this.lines().find((l) => l['requestId'] === requestId && l['msg'] === 'request completed');
      if (line) return line;
      assert.ok(Date.now() < until, `no access line for ${requestId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of the Prometheus text format (comments dropped). */
function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(l);
      assert.ok(m, `not a sample line: ${l}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

const matching = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** The one sample of `name` with `labels`. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = matching(samples, name, labels);
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

const log = new CapturedLog();
let gw: RunningGateway;
let startupLines = 0;
let samples: Sample[];
let metricsContentType: string;
/** The one successful caption's answer: the metrics must count what it says. */
let captioned: { tokens: number; finish_reason: 'eos' | 'length'; timings_ms: Record<'preprocess' | 'encode' | 'generate' | 'total', number> };
// Every request sends its own id, so each line can be traced to the request that wrote it.
const SENT: Record<string, { status: number }> = {};

const post = (path: string, requestId: string, body: FormData | Blob, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { method: 'POST', body, headers: { 'x-request-id': requestId, ...headers } });

before(async () => {
  // The ensemble is named after a model the server does not have: food=true then answers 503.
  gw = await startTestGateway({ LOG_LEVEL: 'info', ENSEMBLE_MODEL: 'no_such_ensemble' }, { logDestination: log });
  startupLines = log.raw.length;

  const scene = generateScene(4_100_001);
  const ok = await post('/caption', 'obs-caption', form(await renderScene(scene, 'png')));
  assert.equal(ok.status, 200, await ok.clone().text());
  captioned = (await ok.json()) as typeof captioned;
  assert.ok(captioned.tokens > 0);
  SENT['obs-caption'] = { status: 200 };

  await expectProblem(await post('/caption', 'obs-bad-type', new Blob(['not an image']), { 'content-type': 'text/plain' }), 415, 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE');
  SENT['obs-bad-type'] = { status: 415 };

  const food = await post('/caption', 'obs-unavailable', form(await renderScene(scene, 'png'), { food: 'true' }));
  await expectProblem(food, 503, 'GW_ERR_MODEL_UNAVAILABLE');
  SENT['obs-unavailable'] = { status: 503 };

  const missing = await fetch(`${gw.url}/no/such/path-1234`, { headers: { 'x-request-id': 'obs-not-found' } });
  await expectProblem(missing, 404, 'GW_ERR_NOT_FOUND');
  SENT['obs-not-found'] = { status: 404 };

  // A model-server call that fails for real (NOT_FOUND from the server), through the same client
  // and observer hook the caption path uses.
  await assert.rejects(gw.client.infer('no_such_model', imageInput('pixel_values', 8, new Float32Array(3 * 8 * 8)), { deadline: Date.now() + 5000 }), {
    code: 'GW_ERR_TRITON_REJECTED',
  });

  for (const id of Object.keys(SENT)) await log.accessLineOf(id);
  const scrape = await fetch(`${gw.url}/metrics`, { headers: { 'x-request-id': 'obs-scrape' } });
  assert.equal(scrape.status, 200);
  metricsContentType = scrape.headers.get('content-type') ?? '';
  samples = parseSamples(await scrape.text());
  SENT['obs-scrape'] = { status: 200 };
  await log.accessLineOf('obs-scrape');
});
after(() => gw.stop());

describe('GET /metrics', () => {
  it('answers in the Prometheus text format, with Node default process metrics', () => {
    assert.equal(metricsContentType, new GatewayMetrics().contentType);
    assert.match(metricsContentType, /^text\/plain; version=0\.0\.4/);
    assert.ok(valueOf(samples, 'process_cpu_user_seconds_total') > 0);
    assert.ok(matching(samples, 'nodejs_heap_size_used_bytes').length === 1);
  });

  it('counts requests by route pattern and status, never by raw URL', () => {
    assert.equal(valueOf(samples, 'http_requests_total', { method: 'POST', route: '/caption', status: '200' }), 1);
    assert.equal(valueOf(samples, 'http_requests_total', { method: 'POST', route: '/caption', status: '415' }), 1);
    assert.equal(valueOf(samples, 'http_requests_total', { method: 'POST', route: '/caption', status: '503' }), 1);
    assert.equal(valueOf(samples, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.ok(!samples.some((s) => Object.values(s.labels).some((v) => v.includes('no/such'))), 'a raw URL became a label');
  });

  it("has a latency histogram observing each stage of the one successful caption, with the durations its answer reports", () => {
    for (const stage of CAPTION_STAGES) {
      // The 415, 503 and 404 requests are not successful captions: only one observation each.
      assert.equal(valueOf(samples, 'caption_stage_seconds_count', { stage }), 1, stage);
      const buckets = matching(samples, 'caption_stage_seconds_bucket', { stage });
      assert.ok(buckets.length > 5, stage);
      assert.equal(valueOf(samples, 'caption_stage_seconds_bucket', { stage, le: '+Inf' }), valueOf(samples, 'caption_stage_seconds_count', { stage }));
    }
    // decode is part of preprocess, which is part of total.
    const sum = (stage: string) => valueOf(samples, 'caption_stage_seconds_sum', { stage });
    assert.ok(sum('decode') <= sum('preprocess') && sum('preprocess') <= sum('total'));
    // The same measurements the answer's timings_ms carries (rounded there to 0.1 ms).
    for (const stage of ['preprocess', 'encode', 'generate', 'total'] as const) {
      assert.ok(Math.abs(sum(stage) * 1000 - captioned.timings_ms[stage]) <= 0.051, `${stage}: ${sum(stage) * 1000} ms vs ${captioned.timings_ms[stage]} ms`);
    }
  });

  it('counts the tokens the caption answered with', () => {
    assert.equal(valueOf(samples, 'caption_generated_tokens_total'), captioned.tokens);
  });

  it('times model-server calls by model and counts failures by gRPC and gateway code', () => {
    // One caption encoded (food=true failed on the ensemble's config, before any inference).
    assert.equal(valueOf(samples, 'model_server_call_seconds_count', { model: 'caption_encoder' }), 1);
    // Greedy: one decoder call per generated token, plus the step that chose eos when it ended there.
    const steps = captioned.tokens + (captioned.finish_reason === 'eos' ? 1 : 0);
    assert.equal(valueOf(samples, 'model_server_call_seconds_count', { model: 'caption_decoder' }), steps);
    assert.equal(valueOf(samples, 'model_server_call_errors_total', { model: 'no_such_model', grpc_code: 'NOT_FOUND', code: 'GW_ERR_TRITON_REJECTED' }), 1);
    assert.equal(matching(samples, 'model_server_call_errors_total', { model: 'caption_encoder' }).length, 0);
  });

  it('shows no request in flight once the answers are sent (the scrape does not count itself)', () => {
    assert.equal(valueOf(samples, 'http_requests_in_flight'), 0);
  });

  it('keeps a registry per gateway: two instances neither clash nor share counts', () => {
    const [a, b] = [new GatewayMetrics(), new GatewayMetrics()];
    a.countRequest('GET', '/healthz', 200);
    assert.notEqual(a.registry, b.registry);
    return Promise.all([a.text(), b.text()]).then(([ta, tb]) => {
      assert.equal(valueOf(parseSamples(ta), 'http_requests_total', { route: '/healthz' }), 1);
      assert.equal(matching(parseSamples(tb), 'http_requests_total').length, 0);
    });
  });
});

describe('JSON logs', () => {
  it('writes one JSON object per line, with an ISO time and the level by name', () => {
    assert.ok(log.raw.length > startupLines);
    for (const raw of log.raw) {
      const line = JSON.parse(raw) as LogLine;
      assert.match(String(line['time']), /^\d{4}-\d\d-\d\dT/);
      assert.ok(['info', 'warn', 'error'].includes(String(line['level'])), raw);
    }
    assert.ok(log.lines().some((l) => String(l['msg']).startsWith('gateway listening on ')));
  });

  it('carries the X-Request-Id on every line a request writes', () => {
    for (const line of log.lines().slice(startupLines)) {
      if (line['component'] === 'modelserver') continue;
      assert.ok(typeof line['requestId'] === 'string' && line['requestId'] in SENT, JSON.stringify(line));
    }
  });

  it('writes exactly one access line per request, with method, route, status, duration and error code', () => {
    const lines = log.lines().slice(startupLines);
    for (const [id, { status }] of Object.entries(SENT)) {
      const own = lines.filter((l) => l['requestId'] === id);
      assert.equal(own.length, 1, `${id}: ${JSON.stringify(own)}`);
      const line = own[0]!;
      assert.equal(line['msg'], 'request completed');
      assert.equal(line['status'], status);
      assert.equal(typeof line['durationMs'], 'number');
      assert.equal(line['level'], status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info');
    }
    const byId = (id: string) => lines.find((l) => l['requestId'] === id)!;
    assert.deepEqual(pick(byId('obs-caption'), 'method', 'route', 'path', 'code'), { method: 'POST', route: '/caption', path: '/caption', code: undefined });
    assert.deepEqual(pick(byId('obs-bad-type'), 'route', 'code'), { route: '/caption', code: 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE' });
    assert.deepEqual(pick(byId('obs-not-found'), 'route', 'code'), { route: 'unmatched', code: 'GW_ERR_NOT_FOUND' });
    // A 5xx keeps the error and its cause (here the model server's answer to ModelConfig).
    const unavailable = byId('obs-unavailable');
    assert.equal(unavailable['code'], 'GW_ERR_MODEL_UNAVAILABLE');
    const err = unavailable['err'] as { type: string; message: string; stack: string };
    assert.equal(err.type, 'GatewayError');
    assert.match(err.message, /no_such_ensemble/);
    assert.match(err.stack, /caused by/i);
    assert.deepEqual(pick(byId('obs-scrape'), 'method', 'route'), { method: 'GET', route: '/metrics' });
  });
});

const pick = (o: LogLine, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
