/**
 * The web page at / and Swagger UI at /docs/ in a real headless browser (playwright-core driving
 * Debian's chromium) against a real gateway: pick a generated scene, see its caption, food label
 * and timings; see problem+json errors readably; caption through Swagger UI's "Try it out".
 * Without chromium these tests fail (never skip): install it with `apt-get install chromium`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { FOOD_CLASSES, generateScene, renderScene, type Scene } from '../../model-tools/scenes/index.js';
import type { RunningGateway } from '../src/main.js';
import { form, startTestGateway } from './helpers.js';

/** CHROMIUM_PATH, else `chromium` on PATH (Debian's package installs /usr/bin/chromium). */
const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'chromium')).find((file) => existsSync(file)) ??
  '/usr/bin/chromium';
/** Captions on a busy CI machine take seconds; waits are generous, failures still name what was missing. */
const WAIT_MS = 60_000;

let browser: Browser;
let gw: RunningGateway;
let dir: string;

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `chromium not found at ${CHROMIUM}. The browser tests need it: apt-get install -y --no-install-recommends chromium (.ci/run does this), or set CHROMIUM_PATH.`,
  );
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  gw = await startTestGateway();
  dir = await mkdtemp(path.join(tmpdir(), 'gateway-web-'));
});
after(async () => {
  await browser?.close();
  await gw?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A generated scene rendered to a PNG file, for `setInputFiles`. */
async function sceneFile(seed: number): Promise<{ scene: Scene; file: string }> {
  const scene = generateScene(seed);
  const file = path.join(dir, `scene-${seed}.png`);
  await writeFile(file, await renderScene(scene, 'png'));
  return { scene, file };
}

/** A page that records script errors and Content-Security-Policy violations. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  // Failed fetches (a 503 the page handles) are logged as "Failed to load resource"; CSP violations
  // and script errors are what matter here.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/** Picks `file` in the page's labelled file input and waits until the page has answered. */
async function upload(page: Page, file: string): Promise<string> {
  await page.getByLabel('Image', { exact: true }).setInputFiles(file);
  const status = page.getByRole('status').filter({ hasText: /^(Captioned|Could not caption)/ });
  await status.waitFor({ timeout: WAIT_MS });
  return (await status.textContent()) ?? '';
}

/** What the API itself answers for `file`: what the page must show, derived without the page. */
async function apiCaption(url: string, file: string, fields: Record<string, string> = {}): Promise<{ caption: string; food?: { label: string; confidence: number } }> {
  const res = await fetch(`${url}/caption`, { method: 'POST', body: form(await readFile(file), fields, path.basename(file)) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { caption: string; food?: { label: string; confidence: number } };
}

describe('the web page at /', () => {
  it('captions a picked scene: the caption names its items, with a food label, confidence and per-stage timings', async () => {
    const { scene, file } = await sceneFile(4_400_001);
    const { page, problems } = await openPage(`${gw.url}/`);
    try {
      assert.match(await upload(page, file), /^Captioned scene-4400001\.png/);
      const caption = (await page.getByTestId('caption').textContent()) ?? '';
      for (const item of scene.items) assert.ok(caption.includes(item.phrase), `"${caption}" lacks "${item.phrase}"`);
      // The page asks for food=true: it shows that answer's caption and food label as they are.
      const api = await apiCaption(gw.url, file, { food: 'true' });
      assert.equal(caption, api.caption);
      assert.ok(api.food && (FOOD_CLASSES as readonly string[]).includes(api.food.label), `${api.food?.label} is a food class`);
      assert.equal(await page.getByTestId('food').textContent(), `${api.food.label} (${(api.food.confidence * 100).toFixed(1)}% confidence)`);

      const rows = (await page.getByTestId('timings').locator('tbody tr').allTextContents()).join('\n');
      for (const stage of ['preprocess', 'encode', 'generate', 'total', 'classify', 'round trip']) assert.ok(rows.includes(stage), `timings show ${stage}:\n${rows}`);
      assert.match(rows, /\d+\.\d/);

      const preview = page.getByRole('img', { name: 'Preview of scene-4400001.png' });
      assert.ok(await preview.isVisible(), 'the image is previewed');
      assert.match((await preview.getAttribute('src')) ?? '', /^blob:/);
      assert.equal(((await page.getByRole('alert').textContent()) ?? '').trim(), '', 'no errors shown');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('shows a problem+json error readably: title, status, detail and code', async () => {
    const file = path.join(dir, 'notes.png');
    await writeFile(file, 'these are notes, not a picture');
    const { page, problems } = await openPage(`${gw.url}/`);
    try {
      assert.match(await upload(page, file), /^Could not caption notes\.png/);
      const alert = (await page.getByRole('alert').textContent()) ?? '';
      assert.match(alert, /POST \/caption: Not an image upload \(415\)/);
      assert.match(alert, /code GW_ERR_UPLOAD_UNSUPPORTED_TYPE · request [\w-]+/);
      assert.match(alert, /POST \/classify: Not an image upload \(415\)/);
      assert.equal(await page.getByTestId('food').textContent(), 'Not available.');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('falls back to a plain caption when the food models are not loaded, and says why there is no food label', async () => {
    const other = await startTestGateway({ ENSEMBLE_MODEL: 'no_such_ensemble', CLASSIFIER_MODEL: 'no_such_classifier' });
    const { scene, file } = await sceneFile(4_400_002);
    const { page, problems } = await openPage(`${other.url}/`);
    try {
      assert.match(await upload(page, file), /^Captioned/);
      const caption = (await page.getByTestId('caption').textContent()) ?? '';
      for (const item of scene.items) assert.ok(caption.includes(item.phrase), `"${caption}" lacks "${item.phrase}"`);
      // The plain caption, as POST /caption without food answers it.
      assert.equal(caption, (await apiCaption(other.url, file)).caption);
      assert.equal(await page.getByTestId('food').textContent(), 'Not available.');
      const alert = (await page.getByRole('alert').textContent()) ?? '';
      assert.match(alert, /POST \/classify: Model not available \(503\)/);
      assert.match(alert, /GW_ERR_MODEL_UNAVAILABLE/);
      assert.doesNotMatch(alert, /POST \/caption/, 'the caption fell back instead of failing');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
      await other.stop();
    }
  });
});

describe('Swagger UI at /docs/', () => {
  it('"Try it out" on POST /caption uploads an image and shows the caption', async () => {
    const { scene, file } = await sceneFile(4_400_003);
    const { page, problems } = await openPage(`${gw.url}/docs/`);
    try {
      // deepLinking ids are operations-{tag}-{operationId}.
      const op = page.locator('#operations-inference-caption');
      await op.locator('.opblock-summary').first().click({ timeout: WAIT_MS });
      await op.locator('.opblock-section-request-body input[type=file]').setInputFiles(file);
      await op.locator('button.execute').click();
      const live = op.locator('.live-responses-table');
      await live.locator('.response-col_status', { hasText: '200' }).waitFor({ timeout: WAIT_MS });
      const body = (await live.locator('tbody .response-col_description').first().textContent()) ?? '';
      for (const item of scene.items) assert.ok(body.includes(item.phrase), `Swagger UI's answer lacks "${item.phrase}": ${body}`);
      // Swagger UI sent the form with the documented defaults: the answer is the plain caption.
      // The cell reads "Response body", the JSON, then "Download".
      const json = JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as { caption: string };
      assert.equal(json.caption, (await apiCaption(gw.url, file)).caption);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
