/**
 * Failures that need their own gateway: the model server going away (503 + Retry-After, /readyz
 * 503), produced by really stopping the server. Deadlines (504) are in deadlines.test.ts, every
 * gRPC status's mapping in model-errors.test.ts, reconnection in reconnect.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { form, startTestGateway } from './helpers.js';

const post = (url: string, body: FormData) => fetch(`${url}/caption`, { method: 'POST', body });

describe('model server failures', () => {
  it('503 with Retry-After once the model server is stopped; /readyz follows; the gateway stays up', async () => {
    const gw = await startTestGateway();
    try {
      const png = await renderScene(generateScene(4_400_000), 'png');
      assert.equal((await post(gw.url, form(png))).status, 200);
      await gw.stopModelServer();
      const res = await post(gw.url, form(png));
      const problem = (await res.json()) as { code: string };
      assert.equal(res.status, 503);
      assert.equal(problem.code, 'GW_ERR_TRITON_UNAVAILABLE');
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      const ready = await fetch(`${gw.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    } finally {
      await gw.stop();
    }
  });
});

describe('configuration', () => {
  it('reports every bad variable at once', async () => {
    const { loadConfig } = await import('../src/config/index.js');
    assert.throws(
      () => loadConfig({ PORT: 'eighty', TRITON_URL: 'no-port', MAX_UPLOAD_BYTES: '-1' }),
      (err: Error) => /PORT/.test(err.message) && /TRITON_URL/.test(err.message) && /MAX_UPLOAD_BYTES/.test(err.message),
    );
    assert.equal(loadConfig({}).PORT, 8080);
    assert.equal(loadConfig({ PORT: '9000' }).PORT, 9000);
  });
});
