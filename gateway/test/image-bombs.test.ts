/**
 * Decompression bombs over HTTP against a real gateway on the embedded model server: tiny files
 * that declare huge images. A 1.3 KB 6320×6320 AVIF (709 MB and 1.1 s of CPU to decode whole) is
 * refused from its header by the full-decode budget; a rotated 6320×6320 TIFF and 12 MP AVIFs
 * within their budgets decode, never more at once than DECODE_CONCURRENCY (sharp's own count of
 * running pipelines says so), while /healthz keeps answering; the gateway process's peak RSS
 * stays within the bound; and a full decode queue sheds at once with 503
 * GW_ERR_OVERLOADED and a Retry-After computed from the queue. Eight at once took the unbounded
 * gateway from 421 MB to 2.3 GB and /healthz to 6 s.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { startGatewayProcess } from '../../perf/lib/processes.js';
import { expectProblem, form, startTestGateway, type TestGateway } from './helpers.js';

const BOMBS = 8;
const DECODE_CONCURRENCY = 2;

const flat = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#c08040' } });

/** The bombs, made once: sharp takes a second or two of CPU to encode the large ones. */
let avif40mp: Buffer;
let avif12mp: Buffer;
let rotatedTiff40mp: Buffer;
before(async () => {
  [avif40mp, avif12mp, rotatedTiff40mp] = await Promise.all([
    flat(6320, 6320).avif({ effort: 0 }).toBuffer(),
    flat(4000, 3000).avif({ effort: 0 }).toBuffer(),
    // Stored 6320 wide with EXIF orientation 6: displayed rotated by 90°.
    flat(6320, 6320).tiff({ compression: 'deflate' }).withMetadata({ orientation: 6 }).toBuffer(),
  ]);
  assert.ok(avif40mp.length < 2048 && avif12mp.length < 2048, `AVIF bombs of ${avif40mp.length} and ${avif12mp.length} bytes`);
  assert.ok(rotatedTiff40mp.length < 200_000, `TIFF bomb of ${rotatedTiff40mp.length} bytes`);
});

const caption = (url: string, image: Buffer, type: string) =>
  fetch(`${url}/caption`, { method: 'POST', body: image, headers: { 'content-type': type } });

/**
 * Runs `work` while /healthz is asked again and again, one request after the other; returns
 * what `work` returned and the slowest /healthz answer, ms.
 */
async function withHealthChecks<T>(url: string, work: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number }> {
  let done = false;
  const running = work().finally(() => (done = true));
  let slowest = 0;
  do {
    const t0 = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.text();
    assert.equal(res.status, 200);
    slowest = Math.max(slowest, performance.now() - t0);
  } while (!done);
  return { result: await running, slowestHealthMs: slowest };
}

/** The most sharp pipelines running at once in this process while `work` runs (sampled). */
async function mostPipelinesRunning<T>(work: () => Promise<T>): Promise<{ result: T; most: number }> {
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, sharp.counters().process)), 1);
  try {
    const result = await work();
    return { result, most: Math.max(most, sharp.counters().process) };
  } finally {
    clearInterval(sampler);
  }
}

/** Each answer is 200 with a caption, or 503 GW_ERR_OVERLOADED with a Retry-After ≥ 1; the 200s. */
async function decodedOrShed(responses: Response[]): Promise<number> {
  let captioned = 0;
  for (const res of responses) {
    if (res.status === 200) {
      assert.ok(((await res.json()) as { caption: string }).caption.length > 0);
      captioned++;
    } else {
      await expectProblem(res, 503, 'GW_ERR_OVERLOADED');
      assert.ok(Number(res.headers.get('retry-after')) >= 1, String(res.headers.get('retry-after')));
    }
  }
  return captioned;
}

describe('image bombs', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ DECODE_CONCURRENCY: String(DECODE_CONCURRENCY) });
  });
  after(() => gw.stop());

  it(`${BOMBS} 1.3 KB 6320×6320 AVIFs at once: 422 from the header naming the AVIF budget, none decoded, /healthz answers`, async () => {
    const before = gw.decodeLimiter.stats();
    const { result, slowestHealthMs } = await withHealthChecks(gw.url, () =>
      mostPipelinesRunning(() => Promise.all(Array.from({ length: BOMBS }, () => caption(gw.url, avif40mp, 'image/avif')))),
    );
    for (const res of result.result) {
      const problem = await expectProblem(res, 422, 'GW_ERR_IMAGE_TOO_MANY_PIXELS');
      assert.equal(problem.detail, 'The AVIF image is 6320×6320 (39942400 pixels); AVIF images (decoded whole into memory) are accepted up to 13000000 pixels.');
    }
    assert.equal(result.most, 0, 'a pipeline ran');
    assert.equal(gw.decodeLimiter.stats().completed, before.completed);
    // Generous: the bound is that the event loop was never blocked, not a latency target.
    assert.ok(slowestHealthMs < 1000, `slowest /healthz ${slowestHealthMs} ms`);
  });

  for (const [name, bytes, type] of [
    ['rotated 6320×6320 TIFFs (within the 40 MP budget; libvips streams them, rotation included)', () => rotatedTiff40mp, 'image/tiff'],
    ['4000×3000 AVIFs of 600 bytes (within the 13 MP full-decode budget)', () => avif12mp, 'image/avif'],
  ] as const) {
    it(`${BOMBS} ${name} at once: decoded at most DECODE_CONCURRENCY at a time, or shed; /healthz answers`, { timeout: 120_000 }, async () => {
      const before = gw.decodeLimiter.stats();
      const { result, slowestHealthMs } = await withHealthChecks(gw.url, () =>
        mostPipelinesRunning(() => Promise.all(Array.from({ length: BOMBS }, () => caption(gw.url, bytes(), type)))),
      );
      const captioned = await decodedOrShed(result.result);
      assert.ok(captioned >= DECODE_CONCURRENCY, `${captioned} of ${BOMBS} captioned`);
      assert.ok(result.most >= 1 && result.most <= DECODE_CONCURRENCY, `${result.most} pipelines ran at once`);
      const stats = gw.decodeLimiter.stats();
      assert.equal(stats.completed - before.completed, captioned);
      assert.equal(stats.shed - before.shed, BOMBS - captioned);
      assert.ok(slowestHealthMs < 1000, `slowest /healthz ${slowestHealthMs} ms`);
    });
  }
});

describe('decode shedding', () => {
  it('every slot taken and the queue full: 503 GW_ERR_OVERLOADED at once, Retry-After from the queue; captioned again once it drains', async () => {
    const gw = await startTestGateway({ DECODE_CONCURRENCY: '1', DECODE_QUEUE_LIMIT: '2', DECODE_QUEUE_WAIT_MS: '600000' });
    const limiter = gw.decodeLimiter;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders: Array<Promise<void>> = [];
    try {
      // A decode that took at least 1.2 s: the mean Retry-After is computed from.
      await limiter.run(() => new Promise((resolve) => setTimeout(resolve, 1200)));
      // The one slot and both queue places, held by the test.
      for (let i = 0; i < 3; i++) holders.push(limiter.run(() => held));
      const stats = limiter.stats();
      assert.deepEqual([stats.inFlight, stats.queued], [1, 2]);
      // 3 decodes ahead × ≥ 1.2 s each over 1 slot: at least 4 s, not a constant.
      assert.ok(stats.retryAfterSeconds >= 4, String(stats.retryAfterSeconds));

      const png = await renderScene(generateScene(4_800_001), 'png');
      for (const route of ['/caption', '/classify']) {
        const res = await fetch(`${gw.url}${route}`, { method: 'POST', body: form(png) });
        const problem = await expectProblem(res, 503, 'GW_ERR_OVERLOADED');
        assert.equal(problem.detail, `Image decoding is at its limit (1 decoding, 2 waiting); retry after ${stats.retryAfterSeconds} s.`);
        // The later of the decode queue's estimate and the admission queue's (routes.ts): here
        // the decode queue's, the admission queue being empty.
        assert.equal(res.headers.get('retry-after'), String(stats.retryAfterSeconds), route);
      }
      assert.equal(limiter.stats().shed, 2);
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);

      release();
      await Promise.all(holders);
      const res = await fetch(`${gw.url}/caption`, { method: 'POST', body: form(png) });
      assert.equal(res.status, 200, await res.clone().text());
    } finally {
      release();
      await Promise.all(holders);
      await gw.stop();
    }
  });
});

describe('gateway process memory', () => {
  /** Resident and peak resident memory of `pid`, bytes (Linux /proc). */
  const memory = (pid: number) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  };

  it(`${BOMBS} 4000×3000 AVIF bombs at once: the process's peak RSS grows by less than 600 MB`, { timeout: 120_000 }, async () => {
    const gw = await startGatewayProcess({ DECODE_CONCURRENCY: String(DECODE_CONCURRENCY) });
    try {
      const pid = gw.process.pid!;
      // One decode first, so libvips' and libheif's own one-off allocations are not counted.
      assert.equal((await caption(gw.url, avif12mp, 'image/avif')).status, 200);
      // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux 4.0 and on).
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const start = memory(pid);
      const { result, slowestHealthMs } = await withHealthChecks(gw.url, () =>
        Promise.all(Array.from({ length: BOMBS }, () => caption(gw.url, avif12mp, 'image/avif'))),
      );
      const captioned = await decodedOrShed(result);
      assert.ok(captioned >= DECODE_CONCURRENCY, `${captioned} of ${BOMBS} captioned`);
      const grew = memory(pid).peak - start.rss;
      // Each decode holds about 221 MB: two at once stay under the issue's +600 MB (eight
      // unbounded, four at a time on libuv's default pool, took +1.9 GB).
      assert.ok(grew < 600 * 2 ** 20, `peak RSS grew by ${Math.round(grew / 2 ** 20)} MB`);
      assert.ok(slowestHealthMs < 1000, `slowest /healthz ${slowestHealthMs} ms`);
    } finally {
      await gw.stop();
    }
  });
});
