/**
 * Overload and abandoned work over HTTP, against a real gateway on a real model server (embedded,
 * or tritonserver with TEST_MODEL_SERVER=triton) whose caption decoder answers a second late
 * (slow-repository.ts): admission refuses at once what cannot finish within its deadline, with a
 * Retry-After that follows the queue, and such requests never reach the model server; a client
 * that leaves stops its caption at the next step; a full model-server queue is a 503 with
 * Retry-After that is not sent again. Decisions are read from what the servers recorded
 * (ModelStatistics, /metrics), not from durations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:net';
import { join } from 'node:path';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { expectProblem, startSelectedModelServer, startTestGateway, type TestGateway } from './helpers.js';
import { TritonClient } from '../src/triton/client.js';
import { imageInput } from '../src/triton/image-input.js';
import { modelCounts, waitFor } from './model-stats.js';
import { rewriteConfigs, type SlowRepository, slowRepository } from './slow-repository.js';

const DECODER_DELAY_MS = 1000;
const ENCODER_DELAY_MS = 2000;

let repository: SlowRepository;
let server: { address: string; stop(): Promise<void> };
let png: Buffer;

before(async () => {
  // slow_encoder bounds its queue to 2 requests (as an operator's queue policy would) and holds batches 2 s.
  repository = slowRepository({ caption_decoder: DECODER_DELAY_MS }, { slow_encoder: 'caption_encoder', untimed_encoder: 'caption_encoder' });
  const holdBatches = (text: string) => text.replace('max_queue_delay_microseconds: 0', `preferred_batch_size: [ 16 ]\n  max_queue_delay_microseconds: ${ENCODER_DELAY_MS * 1000}`);
  const policy = (fields: string) => (text: string) => text.replace('max_queue_delay_microseconds: 0\n', `max_queue_delay_microseconds: 0\n  default_queue_policy { ${fields} }\n`);
  rewriteConfigs(join(repository.path, 'slow_encoder'), (text) => holdBatches(policy('max_queue_size: 2 default_timeout_microseconds: 10000000 allow_timeout_override: true')(text)));
  // No queue timeout: Triton re-forms the batch it is holding on every pass, so it sees a
  // cancellation there too (with a timeout it keeps the batch until the timeout, cancelled or not).
  rewriteConfigs(join(repository.path, 'untimed_encoder'), (text) => holdBatches(policy('max_queue_size: 2')(text)));
  const modelRepository = repository.path;
  server = await startSelectedModelServer(modelRepository);
  png = await renderScene(generateScene(4_700_001), 'png');
});
after(async () => {
  await server.stop();
  repository.remove();
});

function gatewayWith(env: Record<string, string>): Promise<TestGateway> {
  return startTestGateway({ MODEL_REPOSITORY: repository.path, TRITON_URL: server.address, REQUEST_TIMEOUT_MS: '60000', ...env });
}

/** A caption of the test image, as a raw image/png body with options in the query. */
function caption(url: string, query: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/caption?${query}`, { method: 'POST', body: png, headers: { 'content-type': 'image/png', ...headers }, ...(signal ? { signal } : {}) });
}

/** The head and body of the answer to `request` (raw HTTP, nothing more sent), once it has come. */
function rawAnswer(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const [head, body] = text.split('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(head ?? '')?.[1] ?? NaN);
      if (body !== undefined && body.length >= length) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.write(request);
  });
}

/** The value of one sample of /metrics (0 when absent). */
async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

// First, while the model server is idle: its decoder counts are this caption's alone.
describe('abandoned work', () => {
  it('a client leaving after its first token costs at most one more decoder step, and is counted as 499 at the generate stage', async () => {
    const gw = await gatewayWith({});
    try {
      const leaving = new AbortController();
      const res = caption(gw.url, 'max_new_tokens=8&min_new_tokens=8', {}, leaving.signal).catch((e: unknown) => e);
      // The first step has come back (its token exists), the second is on its way.
      await waitFor(() => metric(gw.url, 'model_server_call_seconds_count', { model: 'caption_decoder' }), (v) => v >= 1, 'the first decoder step');
      leaving.abort();
      const atAbort = await modelCounts(server.address, 'caption_decoder');
      assert.ok((await res) instanceof Error);
      await waitFor(() => metric(gw.url, 'http_requests_cancelled_total', { route: '/caption', stage: 'generate' }), (v) => v === 1, 'the 499 counted');
      // Long enough for two more steps, had the caption gone on (six were left).
      await new Promise((r) => setTimeout(r, 2.5 * DECODER_DELAY_MS));
      const final = await modelCounts(server.address, 'caption_decoder');
      assert.ok(final.inferences <= atAbort.inferences + 1, `decoder rows: ${atAbort.inferences} when the client left, ${final.inferences} later`);
      assert.equal(await metric(gw.url, 'http_requests_total', { route: '/caption', status: '499' }), 1);
    } finally {
      await gw.stop();
    }
  });
});

describe("the gateway's client", () => {
  it('a unary call abandoned while queued is cancelled on the wire and never executed', async () => {
    const client = new TritonClient(server.address);
    try {
      const before = (await modelCounts(server.address, 'untimed_encoder')).inferences;
      const pixels = imageInput('pixel_values', 64, new Float32Array(3 * 64 * 64));
      const later = { deadline: Date.now() + 30_000 };
      // untimed_encoder holds its batches 2 s: both calls wait in its queue.
      const kept = client.infer('untimed_encoder', pixels, later);
      const leaving = new AbortController();
      const abandoned = client.infer('untimed_encoder', pixels, { ...later, signal: leaving.signal });
      await new Promise((r) => setTimeout(r, 300));
      const reason = new Error('nobody waits for it');
      leaving.abort(reason);
      await assert.rejects(abandoned, (e) => e === reason);
      await kept;
      assert.equal((await modelCounts(server.address, 'untimed_encoder')).inferences - before, 1);
    } finally {
      client.close();
    }
  });
});

describe('admission control', () => {
  it('refuses at once, with a Retry-After that follows the queue, what cannot finish by its deadline; the refused never reach the model server', async () => {
    // One caption in service at a time, so the queue and its expected wait are known exactly.
    const gw = await gatewayWith({ ADMISSION_MIN_LIMIT: '1', ADMISSION_MAX_LIMIT: '1' });
    try {
      const encoderBefore = (await modelCounts(server.address, 'caption_encoder')).inferences;
      // A first caption teaches admission what a caption of this kind takes (about a second).
      assert.equal((await caption(gw.url, 'max_new_tokens=1')).status, 200);
      const inService = caption(gw.url, 'max_new_tokens=1');
      let finished = false;
      void inService.then(() => (finished = true));
      await waitFor(() => metric(gw.url, 'admission_in_service_cost'), (v) => v === 1, 'a caption in service');
      const queued = [caption(gw.url, 'max_new_tokens=1')];
      await waitFor(() => metric(gw.url, 'admission_queue_depth'), (v) => v === 1, 'one caption queued');

      // Behind one in service and one queued, a caption needs about 3 s: 1.5 s cannot do.
      const first = await caption(gw.url, 'max_new_tokens=1', { 'Request-Timeout': '1.5' });
      const refusedBeforeTheQueueMoved = !finished;
      const problem = await expectProblem(first, 503, 'GW_ERR_OVERLOADED');
      assert.match(problem.detail, /past its deadline/);
      const retryShort = Number(first.headers.get('retry-after'));
      assert.ok(refusedBeforeTheQueueMoved, 'refused while the caption ahead was still in service');

      queued.push(caption(gw.url, 'max_new_tokens=1'), caption(gw.url, 'max_new_tokens=1'), caption(gw.url, 'max_new_tokens=1'));
      await waitFor(() => metric(gw.url, 'admission_queue_depth'), (v) => v === 4, 'four captions queued');
      const second = await caption(gw.url, 'max_new_tokens=1', { 'Request-Timeout': '1.5' });
      await expectProblem(second, 503, 'GW_ERR_OVERLOADED');
      const retryLong = Number(second.headers.get('retry-after'));
      // Refused before its upload is read: an upload whose body never comes gets its 503 at once.
      const unread = await rawAnswer(gw.url, 'POST /caption?max_new_tokens=1 HTTP/1.1\r\nHost: g\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\nRequest-Timeout: 1.5\r\n\r\n');
      assert.match(unread, /^HTTP\/1\.1 503 /);
      assert.match(unread, /GW_ERR_OVERLOADED/);
      // Four queued take about four times as long to enter service as one.
      assert.ok(retryShort >= 1 && retryLong >= retryShort + 2, `Retry-After ${retryShort} s behind one queued, ${retryLong} s behind four`);

      for (const res of [await inService, ...(await Promise.all(queued))]) assert.equal(res.status, 200, await res.text());
      assert.equal(await metric(gw.url, 'admission_decisions_total', { route: '/caption', decision: 'deadline' }), 3);
      assert.equal(await metric(gw.url, 'admission_decisions_total', { route: '/caption', decision: 'admitted' }), 6);
      // Six captions encoded: the three refused never reached the model server.
      assert.equal((await modelCounts(server.address, 'caption_encoder')).inferences - encoderBefore, 6);
    } finally {
      await gw.stop();
    }
  });

  it('Request-Timeout shortens the deadline (504 GW_ERR_DEADLINE) and must be a positive number of seconds', async () => {
    const gw = await gatewayWith({});
    try {
      // Two decoder steps of a second each cannot fit in 0.8 s; nothing is queued, so it is tried.
      await expectProblem(await caption(gw.url, 'max_new_tokens=2&min_new_tokens=2', { 'Request-Timeout': '0.8' }), 504, 'GW_ERR_DEADLINE');
      for (const bad of ['0', '-1', 'soon', '1e3']) {
        const problem = await expectProblem(await caption(gw.url, 'max_new_tokens=1', { 'Request-Timeout': bad }), 400, 'GW_ERR_OPTION_INVALID');
        assert.match(problem.detail, /Request-Timeout/);
      }
    } finally {
      await gw.stop();
    }
  });
});

describe("the model server's own queue", () => {
  it('a full queue (a queue policy\'s max_queue_size) is 503 GW_ERR_OVERLOADED with Retry-After, answered once per request and never sent again', async () => {
    // Admission lets everything through, so the model server's queue is what refuses; a stream
    // per request (tritonserver takes a stream's next request once the one before is answered).
    const gw = await gatewayWith({ CAPTION_ENCODER_MODEL: 'slow_encoder', ADMISSION_MIN_LIMIT: '64', ADMISSION_MAX_LIMIT: '64', TRITON_STREAMS: '8' });
    try {
      const before = (await modelCounts(server.address, 'slow_encoder')).inferences;
      const answers = await Promise.all(Array.from({ length: 6 }, () => caption(gw.url, 'max_new_tokens=1')));
      const refused = answers.filter((r) => r.status === 503);
      const served = answers.filter((r) => r.status === 200);
      assert.equal(refused.length + served.length, 6, `statuses ${answers.map((r) => r.status).join(',')}`);
      assert.ok(refused.length >= 1 && served.length >= 1, `statuses ${answers.map((r) => r.status).join(',')}`);
      for (const r of refused) {
        const problem = await expectProblem(r, 503, 'GW_ERR_OVERLOADED');
        assert.match(problem.detail, /Exceeds maximum queue size/);
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
      }
      // One failed call per refused caption: a unary re-send would have failed (or run) again.
      assert.equal(await metric(gw.url, 'model_server_call_errors_total', { model: 'slow_encoder', code: 'GW_ERR_OVERLOADED', grpc_code: 'UNAVAILABLE' }), refused.length);
      assert.equal(await metric(gw.url, 'model_server_call_seconds_count', { model: 'slow_encoder' }), 6);
      assert.equal((await modelCounts(server.address, 'slow_encoder')).inferences - before, served.length);
    } finally {
      await gw.stop();
    }
  });
});
