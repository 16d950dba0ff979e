/**
 * Reconnection: a running gateway whose model server (started apart, on a fixed port, as a
 * deployment's Triton is) goes away for a while and comes back on the same port serves captions
 * again within a stated bound of the server being ready, over reopened ModelStreamInfer streams.
 * The outage is long enough for grpc-js's default reconnect backoff (1 s ×1.6 per failed
 * attempt, up to 120 s) to have grown to several seconds, so the bound holds only with the
 * client's own backoff (client.ts RECONNECT_BACKOFF_MS).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startModelServer } from '../../modelserver/src/index.js';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { startTriton } from '../../triton-harness/start-triton.js';
import { RECONNECT_BACKOFF_MS } from '../src/triton/client.js';
import { expectProblem, form, MODEL_SERVER, REPOSITORY, startTestGateway } from './helpers.js';

/**
 * How long the model server stays away. At grpc-js's default backoff the failed attempts fall at
 * about 1, 2.6, 5.2, 9.3, 15.9, 26.4 and 43 s (±20 % jitter each), so a server back after 30 s
 * would wait for the attempt at ~43 s: at least 6 s, twice the bound.
 */
const OUTAGE_MS = 30_000;
/** Captions must succeed again this soon after the restarted server is ready: three of the client's longest backoffs. */
const BOUND_MS = 3 * RECONNECT_BACKOFF_MS.max;

interface Server {
  readonly port: number;
  stop(): Promise<void>;
}

/** The selected model server on `port` (0: a free one). */
async function startServer(port: number): Promise<Server> {
  if (MODEL_SERVER === 'triton') {
    // start-triton.ts picks free ports; a later --grpc-port overrides its choice.
    const triton = await startTriton({ modelRepository: REPOSITORY, ...(port ? { args: [`--grpc-port=${port}`] } : {}) });
    return { port: port || triton.grpcPort, stop: () => triton.stop() };
  }
  return startModelServer({ modelRepository: REPOSITORY, grpcPort: port, log: () => {} });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reconnection after the model server restarts', () => {
  it(`captions succeed again within ${BOUND_MS} ms of the restarted server being ready`, async (t) => {
    let server = await startServer(0);
    const gw = await startTestGateway({ TRITON_URL: `127.0.0.1:${server.port}` });
    const png = await renderScene(generateScene(4_700_001), 'png');
    const caption = () => fetch(`${gw.url}/caption`, { method: 'POST', body: form(png, { max_new_tokens: '3' }) });
    try {
      const before = await caption();
      const text = await before.text();
      assert.equal(before.status, 200, text);
      const expected = (JSON.parse(text) as { caption: string }).caption;

      await server.stop();
      const outageStart = Date.now();
      await expectProblem(await caption(), 503, 'GW_ERR_TRITON_UNAVAILABLE');
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);
      // Clients keep retrying during the outage; each attempt fails fast instead of hanging.
      while (Date.now() - outageStart < OUTAGE_MS) {
        await expectProblem(await caption(), 503, 'GW_ERR_TRITON_UNAVAILABLE');
        await sleep(2000);
      }

      server = await startServer(server.port);
      const ready = Date.now();
      let after: Response;
      for (;;) {
        after = await caption();
        if (after.status === 200 || Date.now() - ready > BOUND_MS) break;
        await after.body?.cancel();
        await sleep(50);
      }
      const waitedMs = Date.now() - ready;
      const body = await after.text();
      assert.equal(after.status, 200, `no caption ${waitedMs} ms after the restart: ${body}`);
      assert.equal((JSON.parse(body) as { caption: string }).caption, expected);
      t.diagnostic(`first caption ${waitedMs} ms after the restarted server was ready`);
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    } finally {
      await gw.stop();
      await server.stop();
    }
  });
});
