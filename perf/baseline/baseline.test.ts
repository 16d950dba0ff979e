/**
 * The baseline (perf/baseline/app.py) captions what the gateway captions: 8 generated scenes
 * through both, over one embedded model server on model_repository/, give the same text and token
 * count (greedy, no prompt), so the benchmarks compare two services doing the same work. The
 * baseline must start: a missing .venv package or a broken app.py fails this test, never skips it.
 *   node --import tsx --test perf/baseline/baseline.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { form, REPOSITORY, startTestGateway, type TestGateway } from '../../gateway/test/helpers.js';
import { type BaselineChild, startBaseline } from '../lib/baseline-process.js';

interface Caption {
  readonly caption: string;
  readonly tokens: number;
}

let server: RunningModelServer | undefined;
let gateway: TestGateway | undefined;
let baseline: BaselineChild | undefined;

before(async () => {
  server = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, log: () => {} });
  gateway = await startTestGateway({ TRITON_URL: server.address });
  baseline = await startBaseline({ tritonUrl: server.address, env: { MODEL_REPOSITORY: REPOSITORY } });
});

after(async () => {
  await baseline?.stop();
  await gateway?.stop();
  await server?.stop();
});

async function caption(url: string, body: FormData | Buffer, headers: Record<string, string> = {}): Promise<Caption> {
  const res = await fetch(`${url}/caption`, { method: 'POST', body, headers });
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${text}`);
  return JSON.parse(text) as Caption;
}

test('the baseline and the gateway give the same greedy captions for 8 scenes', async () => {
  for (let i = 0; i < 8; i++) {
    const png = await renderScene(generateScene(7_000_000 + i), 'png');
    const ours = await caption(gateway!.url, form(png));
    const theirs = await caption(baseline!.url, form(png));
    assert.ok(ours.caption.length > 0, `scene ${i}: the gateway gave an empty caption`);
    assert.deepEqual({ caption: theirs.caption, tokens: theirs.tokens }, { caption: ours.caption, tokens: ours.tokens }, `scene ${i}`);
  }
});

test('the baseline takes a raw image/* body as the benchmarks send it, and answers /healthz', async () => {
  const png = await renderScene(generateScene(7_000_000), 'png');
  const raw = await caption(baseline!.url, png, { 'content-type': 'image/png' });
  const multipart = await caption(baseline!.url, form(png));
  assert.deepEqual(raw, multipart);
  assert.deepEqual(await (await fetch(`${baseline!.url}/healthz`)).json(), { status: 'ok' });
});

test('the baseline honours max_new_tokens and min_new_tokens (the BLIP benchmark fixes the length)', async () => {
  const png = await renderScene(generateScene(7_000_001), 'png');
  const short = await caption(`${baseline!.url}`, png, { 'content-type': 'image/png' });
  const res = await fetch(`${baseline!.url}/caption?min_new_tokens=20&max_new_tokens=20`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as Caption).tokens, 20);
  assert.ok(short.tokens < 20);
});
