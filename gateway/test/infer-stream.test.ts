/**
 * TritonClient.inferStreamed against the embedded model server over real gRPC: requests on shared
 * ModelStreamInfer streams get the answers unary ModelInfer gives, matched by id under
 * concurrency; a refusal on the stream takes the unary call's status; deadlines and a stopped
 * server end in the catalogue's errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { GatewayError } from '../src/errors/index.js';
import { float32View, type RawTensor, TritonClient } from '../src/triton/client.js';
import { decoderInputs } from '../src/triton/decoder-inputs.js';
import { REPOSITORY } from './helpers.js';

let server: RunningModelServer;
let client: TritonClient;
before(async () => {
  server = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} });
  client = new TritonClient(server.address, { streams: 2 });
});
after(async () => {
  client.close();
  await server.stop();
});

const L = 32;
/** A decoder step for one sequence `tokens`, with embeddings that differ per `seed`. */
function step(tokens: number[], seed: number): Record<string, RawTensor> {
  const { inputIds, attentionMask } = decoderInputs([[5, ...tokens]], L, 0);
  const embeds = Float32Array.from({ length: 65 * 64 }, (_, i) => Math.sin(i * 0.01 + seed));
  return {
    input_ids: { datatype: 'INT64', shape: [1, L], raw: new Uint8Array(inputIds.buffer) },
    attention_mask: { datatype: 'INT64', shape: [1, L], raw: new Uint8Array(attentionMask.buffer) },
    image_embeds: { datatype: 'FP32', shape: [1, 65, 64], raw: new Uint8Array(embeds.buffer) },
  };
}
const logitsOf = (out: Map<string, RawTensor>) => Array.from(float32View(out.get('logits')!.raw));
const later = () => ({ deadline: Date.now() + 10_000 });

describe('TritonClient.inferStreamed', () => {
  it('answers 24 concurrent requests over 2 streams exactly as unary calls do, each its own', async () => {
    const inputs = Array.from({ length: 24 }, (_, i) => step([10 + (i % 7)], i));
    const unary = await Promise.all(inputs.map((x) => client.infer('caption_decoder', x, later())));
    const streamed = await Promise.all(inputs.map((x, i) => client.inferStreamed('caption_decoder', x, { ...later(), requestId: `r${i}` })));
    streamed.forEach((out, i) => {
      const want = logitsOf(unary[i]!);
      assert.equal(want.length, 177);
      assert.equal(logitsOf(out).length, 177, `request ${i}`);
      logitsOf(out).forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-4, `request ${i} logit ${j}`));
    });
    // Different inputs really give different answers, so a mix-up would have shown.
    assert.notDeepEqual(logitsOf(streamed[0]!), logitsOf(streamed[1]!));
  });

  it("a request the server refuses on the stream fails with the unary call's status", async () => {
    const unary = await client.infer('no_such_model', step([], 0), later()).then(
      () => assert.fail('the unary call was not refused'),
      (e: GatewayError) => e,
    );
    assert.equal(unary.code, 'GW_ERR_TRITON_REJECTED');
    await assert.rejects(client.inferStreamed('no_such_model', step([], 0), later()), (e: GatewayError) => {
      assert.deepEqual({ code: e.code, status: e.status }, { code: unary.code, status: unary.status });
      assert.match(e.message, /no_such_model/);
      return true;
    });
    // The stream is still usable afterwards.
    assert.equal(logitsOf(await client.inferStreamed('caption_decoder', step([], 0), later())).length, 177);
  });

  it('a request past its deadline fails with 504 while the stream keeps serving', async () => {
    await assert.rejects(client.inferStreamed('caption_decoder', step([], 1), { deadline: Date.now() - 1 }), (e: GatewayError) => e.code === 'GW_ERR_TRITON_DEADLINE');
    assert.equal(logitsOf(await client.inferStreamed('caption_decoder', step([], 1), later())).length, 177);
  });

  it('once the server stops, streamed requests fail as UNAVAILABLE (503) instead of hanging', async () => {
    const own = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} });
    const c = new TritonClient(own.address);
    try {
      await c.inferStreamed('caption_decoder', step([], 2), later());
      await own.stop(); // ends the open stream: stop must not wait on it forever
      await assert.rejects(c.inferStreamed('caption_decoder', step([], 2), later()), (e: GatewayError) => e.code === 'GW_ERR_TRITON_UNAVAILABLE');
    } finally {
      c.close();
    }
  });
});
