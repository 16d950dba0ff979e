/**
 * Clients that are slow or never finish, over raw TCP against a real gateway on the embedded
 * model server: a stalled body gets 408 GW_ERR_UPLOAD_TIMEOUT problem+json within
 * UPLOAD_TIMEOUT_MS (it took 79 s before), stalled headers the same from HEADERS_TIMEOUT_MS, an
 * idle keep-alive connection is not cut by either, connections beyond MAX_CONNECTIONS are closed,
 * and a shutdown drains requests in flight (telling each connection to close) for at most
 * SHUTDOWN_DRAIN_MS, then closes what is left: in process with stop(), and as `npm start`'s
 * process with SIGTERM and stalled uploads. Waits on what the server recorded (its in-flight
 * gauge, its decode limiter, its log), never on sleeps.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { type Exit, startGatewayProcess } from '../../perf/lib/processes.js';
import { form, type Problem, startTestGateway, type TestGateway } from './helpers.js';

interface RawAnswer {
  /** The status line's code; 0 when the connection closed without an answer. */
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Milliseconds from the first byte sent to the connection closing. */
  readonly closedAfterMs: number;
}

/**
 * Opens a connection to `url`, writes `head` (and `body`, when given) and never anything more;
 * `answer` settles when the server closes the connection, with what it sent.
 */
function stalledRequest(url: string, head: string, body = ''): { socket: Socket; answer: Promise<RawAnswer> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const started = Date.now();
  socket.write(head + body);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const answer = new Promise<RawAnswer>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: rest.join('\r\n\r\n'), closedAfterMs: Date.now() - started });
    });
  });
  return { socket, answer };
}

/** The headers of a raw image/png POST /caption that announces `length` bytes. */
const rawCaptionHead = (length: number, extra = '') =>
  `POST /caption HTTP/1.1\r\nHost: gateway\r\nContent-Type: image/png\r\nContent-Length: ${length}\r\n${extra}\r\n`;

function assertProblem(answer: RawAnswer, status: number, code: string): Problem {
  assert.equal(answer.status, status, JSON.stringify(answer));
  assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(answer.body) as Problem;
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  return problem;
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 20))) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
  }
}

const inFlight = async (url: string, n: number) => new RegExp(`^http_requests_in_flight ${n}$`, 'm').test(await metricsText(url));

describe('upload timeouts', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ UPLOAD_TIMEOUT_MS: '600', HEADERS_TIMEOUT_MS: '600' });
  });
  after(() => gw.stop());

  it('a raw body that stalls gets 408 GW_ERR_UPLOAD_TIMEOUT problem+json within UPLOAD_TIMEOUT_MS, and its connection is closed', async () => {
    const { answer } = stalledRequest(gw.url, rawCaptionHead(1_000_000, 'X-Request-Id: stalled-raw\r\n'), 'x'.repeat(1000));
    const res = await answer;
    const problem = assertProblem(res, 408, 'GW_ERR_UPLOAD_TIMEOUT');
    assert.equal(problem.detail, 'The request body did not arrive within 600 ms of its headers.');
    assert.equal((problem as Problem & { instance: string }).instance, 'stalled-raw');
    assert.equal(res.headers['connection'], 'close');
    // Not before the timeout; and far within what it took before (79 s), however busy the machine.
    assert.ok(res.closedAfterMs >= 590 && res.closedAfterMs < 15_000, `${res.closedAfterMs} ms`);
    // Answered through the error middleware, so counted like every other answer.
    assert.match(await metricsText(gw.url), /^http_requests_total\{method="POST",route="\/caption",status="408"\} 1$/m);
  });

  it('a multipart body that stalls after its image part began gets the same 408', async () => {
    const boundary = 'stall';
    const start = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n` + 'x'.repeat(500);
    const head = `POST /classify HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 200000\r\n\r\n`;
    const res = await stalledRequest(gw.url, head, start).answer;
    assertProblem(res, 408, 'GW_ERR_UPLOAD_TIMEOUT');
    assert.ok(res.closedAfterMs >= 590 && res.closedAfterMs < 15_000, `${res.closedAfterMs} ms`);
  });

  it('headers that stall get 408 GW_ERR_UPLOAD_TIMEOUT problem+json from HEADERS_TIMEOUT_MS (Node would send a bare 408)', async () => {
    const res = await stalledRequest(gw.url, 'POST /caption HTTP/1.1\r\nHost: gateway\r\nContent-Ty').answer;
    const problem = assertProblem(res, 408, 'GW_ERR_UPLOAD_TIMEOUT');
    assert.equal(problem.detail, 'The request headers or body did not arrive within their timeout.');
    assert.equal(res.headers['connection'], 'close');
    assert.ok(res.closedAfterMs >= 590 && res.closedAfterMs < 15_000, `${res.closedAfterMs} ms`);
  });

  it('a request answered before its stalled body arrived (415) gets that one answer, then its connection closed by Node\'s request timeout', async () => {
    const head = 'POST /caption HTTP/1.1\r\nHost: gateway\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n';
    const { answer } = stalledRequest(gw.url, head, 'name,calories\n');
    const res = await answer;
    assertProblem(res, 415, 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE');
    assert.doesNotMatch(res.body, /HTTP\/1\.1/, 'a second answer followed the first');
    // requestTimeout = HEADERS_TIMEOUT_MS + UPLOAD_TIMEOUT_MS + 1 s: closed after that, not never.
    assert.ok(res.closedAfterMs >= 2000 && res.closedAfterMs < 30_000, `${res.closedAfterMs} ms`);
  });

  it('a body that arrives in time, in pieces, is captioned; a keep-alive connection idle past both timeouts still serves', async () => {
    const png = await renderScene(generateScene(4_700_001), 'png');
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    const answered = (n: number) => until(`answer ${n}`, () => (received.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0) >= n && /\}\s*$/.test(received));
    try {
      socket.write(rawCaptionHead(png.length));
      const third = Math.ceil(png.length / 3);
      for (let i = 0; i < 3; i++) {
        socket.write(png.subarray(i * third, (i + 1) * third));
        await new Promise((r) => setTimeout(r, 50));
      }
      await answered(1);
      assert.match(received, /^HTTP\/1\.1 200 /);
      assert.doesNotMatch(received, /connection: close/i);
      // Idle longer than either timeout (a slower machine only idles longer): neither applies.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(socket.destroyed, false);
      socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
      await answered(2);
      assert.match(received.slice(received.lastIndexOf('HTTP/1.1')), /^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  });
});

describe('connection cap', () => {
  it('near MAX_CONNECTIONS idle keep-alive connections are closed, so a new client is served', async () => {
    const gw = await startTestGateway({ MAX_CONNECTIONS: '2' });
    const { hostname, port } = new URL(gw.url);
    const idle = connect(Number(port), hostname);
    try {
      let text = '';
      idle.on('data', (c: Buffer) => (text += c.toString()));
      const closed = new Promise((r) => idle.once('close', r));
      idle.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
      await until('the idle connection answered', () => text.includes('{"status":"ok"}'));
      // A second client brings the count to 90 % of the cap: the idle connection goes, the newcomer is served.
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
      await closed;
    } finally {
      idle.destroy();
      await gw.stop();
    }
  });

  it('busy connections are kept, and one beyond MAX_CONNECTIONS is closed unanswered; one is accepted again once a busy one closes', async () => {
    const gw = await startTestGateway({ MAX_CONNECTIONS: '2' });
    const busy: Socket[] = [];
    try {
      const { hostname, port } = new URL(gw.url);
      // Two uploads whose bodies have not come: Node answers 100 Continue once each request is in.
      for (let i = 0; i < 2; i++) {
        const s = connect(Number(port), hostname);
        busy.push(s);
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.write(rawCaptionHead(1000, 'Expect: 100-continue\r\n'));
        await until(`upload ${i} in flight`, () => text.includes('100 Continue'));
      }
      const third = await stalledRequest(gw.url, 'GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n').answer;
      assert.equal(third.status, 0, 'the third connection was answered');
      assert.ok(busy.every((s) => !s.destroyed), 'a busy connection was closed');
      busy.shift()!.destroy();
      // The server counts the closed one out when it sees the close: retried until it has.
      await until('a connection accepted again', async () => (await fetch(`${gw.url}/healthz`).then((r) => r.status, () => 0)) === 200);
    } finally {
      for (const s of busy) s.destroy();
      await gw.stop();
    }
  });
});

describe('shutdown drain', () => {
  it('stop(): a request in flight finishes and is told to close its connection; new connections are refused', async () => {
    const gw = await startTestGateway({ DECODE_CONCURRENCY: '1', DECODE_QUEUE_LIMIT: '4', SHUTDOWN_DRAIN_MS: '60000' });
    let release!: () => void;
    const held = gw.decodeLimiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    try {
      // The caption waits for the decode slot the test holds: in flight for certain.
      const png = await renderScene(generateScene(4_700_002), 'png');
      const answer = fetch(`${gw.url}/caption`, { method: 'POST', body: form(png) });
      await until('the caption waiting for a decode slot', () => gw.decodeLimiter.stats().queued === 1);
      const stopped = gw.stop();
      await until('the listener closed', () => fetch(`${gw.url}/healthz`).then(() => false, () => true));
      release();
      const res = await answer;
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('connection'), 'close');
      await stopped;
    } finally {
      release?.();
      await held;
      await gw.stop();
    }
  });

  it('stop(): stalled uploads are cut after SHUTDOWN_DRAIN_MS, not waited for', async () => {
    const gw = await startTestGateway({ UPLOAD_TIMEOUT_MS: '600000', SHUTDOWN_DRAIN_MS: '500' });
    const stalled = [0, 1, 2].map(() => stalledRequest(gw.url, rawCaptionHead(1_000_000), 'x'.repeat(100)));
    await until('3 uploads in flight', () => inFlight(gw.url, 3));
    const t0 = Date.now();
    await gw.stop();
    // At least the drain; far less than the upload timeout (10 minutes), however busy the machine.
    const took = Date.now() - t0;
    assert.ok(took >= 490 && took < 60_000, `${took} ms`);
    for (const { answer } of stalled) assert.equal((await answer).status, 0);
  });
});

describe('SIGTERM with stalled uploads', () => {
  it('exits 0 once SHUTDOWN_DRAIN_MS has passed, closing the uploads that never finished', { timeout: 120_000 }, async () => {
    const drainMs = 1500;
    const gw = await startGatewayProcess({ UPLOAD_TIMEOUT_MS: '600000', SHUTDOWN_DRAIN_MS: String(drainMs) }, { keepLog: true });
    const stalled: Array<ReturnType<typeof stalledRequest>> = [];
    try {
      for (let i = 0; i < 3; i++) stalled.push(stalledRequest(gw.url, rawCaptionHead(10 * 1024 * 1024), 'x'.repeat(64 * 1024)));
      await until('3 uploads in flight', () => inFlight(gw.url, 3));
      gw.process.kill('SIGTERM');
      const exit = await gw.exited;
      assert.deepEqual(exit, { code: 0, signal: null } satisfies Exit);
      for (const { answer } of stalled) assert.equal((await answer).status, 0, 'a stalled upload was answered');

      // The process's own clock: the connections were closed when the drain time had passed.
      const lines = gw.log().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; time: string; inFlight?: number; drainMs?: number });
      const signal = lines.find((l) => l.msg === 'SIGTERM: finishing in-flight requests');
      const cut = lines.find((l) => l.msg.startsWith('shutdown: 3 requests still in flight after SHUTDOWN_DRAIN_MS'));
      assert.ok(signal && cut, gw.log());
      assert.deepEqual([cut.inFlight, cut.drainMs], [3, drainMs]);
      const waited = Date.parse(cut.time) - Date.parse(signal.time);
      assert.ok(waited >= drainMs - 5 && waited < drainMs + 10_000, `cut ${waited} ms after the signal`);
    } finally {
      for (const { socket } of stalled) socket.destroy();
      await gw.stop();
    }
  });
});
