/**
 * Deadlines over HTTP against a real gateway on a real model server whose caption decoder and food
 * classifier answer 1.5 s late (slow-repository.ts: their dynamic batchers wait that long for a
 * batch): every
 * model-server call, each decoder step included, gets min(remaining request budget,
 * TRITON_TIMEOUT_MS), and the 504's code says which of the two ran out. The delays are large
 * against a busy machine's noise, and the decisive check is the answer's code, not a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { expectProblem, form, startSelectedModelServer, startTestGateway } from './helpers.js';
import { type SlowRepository, slowRepository } from './slow-repository.js';

const DECODER_DELAY_MS = 1500;

let repository: SlowRepository;
let server: { address: string; stop(): Promise<void> };
let png: Buffer;

before(async () => {
  repository = slowRepository({ caption_decoder: DECODER_DELAY_MS, food_classifier: DECODER_DELAY_MS });
  const modelRepository = repository.path;
  server = await startSelectedModelServer(modelRepository);
  png = await renderScene(generateScene(4_600_001), 'png');
});
after(async () => {
  await server.stop();
  repository.remove();
});

/** A gateway over the one model server of the slowed repository. */
function gatewayWith(env: Record<string, string>) {
  return startTestGateway({ MODEL_REPOSITORY: repository.path, TRITON_URL: server.address, ...env });
}

async function caption(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${url}/caption`, { method: 'POST', body: form(png, fields) });
}

describe('deadlines of model-server calls', () => {
  it('a slow decoder within both limits still captions (the delay is in the queue, not an error)', async () => {
    const gw = await gatewayWith({ TRITON_TIMEOUT_MS: '10000', REQUEST_TIMEOUT_MS: '30000' });
    try {
      const res = await caption(gw.url, { max_new_tokens: '1' });
      const body = (await res.json()) as { tokens: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.tokens, 1);
    } finally {
      await gw.stop();
    }
  });

  it('each decoder step gets TRITON_TIMEOUT_MS of its own: 504 GW_ERR_TRITON_DEADLINE, well inside the request budget', async () => {
    // Without a per-step deadline the two steps would take 3 s and answer 200.
    const gw = await gatewayWith({ TRITON_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '30000' });
    try {
      const problem = await expectProblem(await caption(gw.url, { max_new_tokens: '2' }), 504, 'GW_ERR_TRITON_DEADLINE');
      assert.match(problem.detail, /caption_decoder/);
    } finally {
      await gw.stop();
    }
  });

  it('the whole-request deadline passing during a decoder step answers 504 GW_ERR_DEADLINE', async () => {
    const gw = await gatewayWith({ TRITON_TIMEOUT_MS: '10000', REQUEST_TIMEOUT_MS: '700' });
    try {
      const problem = await expectProblem(await caption(gw.url, { max_new_tokens: '2' }), 504, 'GW_ERR_DEADLINE');
      assert.match(problem.detail, /caption_decoder/);
    } finally {
      await gw.stop();
    }
  });

  it('/classify: the classifier call gets TRITON_TIMEOUT_MS (GW_ERR_TRITON_DEADLINE); the request deadline passing during it is GW_ERR_DEADLINE', async () => {
    const classify = (url: string) => fetch(`${url}/classify`, { method: 'POST', body: form(png) });
    for (const [env, code] of [
      [{ TRITON_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '30000' }, 'GW_ERR_TRITON_DEADLINE'],
      [{ TRITON_TIMEOUT_MS: '10000', REQUEST_TIMEOUT_MS: '700' }, 'GW_ERR_DEADLINE'],
    ] as const) {
      const gw = await gatewayWith(env);
      try {
        const problem = await expectProblem(await classify(gw.url), 504, code);
        assert.match(problem.detail, /food_classifier/);
      } finally {
        await gw.stop();
      }
    }
  });
});
