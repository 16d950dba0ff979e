/**
 * DecoderStepBatcher against the embedded model server over real gRPC with the committed caption
 * models: steps of concurrent captions travel as one batched request and give each caption the
 * logits it would get alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelStatisticsResponse } from '../../proto/gen/grpc_service.js';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { generateScene, renderScene, resizeForModel } from '../../model-tools/scenes/index.js';
import { GatewayError } from '../src/errors/index.js';
import { writePixelValues } from '../src/preprocess/pixel-values.js';
import { TritonClient, type RawTensor } from '../src/triton/client.js';
import { DecoderStepBatcher } from '../src/triton/decode-step.js';
import { decoderSpecOf, type DecoderSpec, imageSpecOf, type ImageSpec } from '../src/triton/model-spec.js';
import { REPOSITORY } from './helpers.js';

let server: RunningModelServer;
let client: TritonClient;
let stats: GRPCInferenceServiceClient;
let encoder: ImageSpec;
let decoder: DecoderSpec;
const embeds: RawTensor[] = [];

before(async () => {
  server = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} });
  client = new TritonClient(server.address);
  stats = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
  const deadline = Date.now() + 10_000;
  encoder = imageSpecOf(await client.modelConfig('caption_encoder', deadline));
  decoder = decoderSpecOf(await client.modelConfig('caption_decoder', deadline));
  for (const seed of [4_100_001, 4_100_002, 4_100_003]) {
    const rgb = await resizeForModel(await renderScene(generateScene(seed), 'png'), encoder.size);
    const pixels = new Float32Array(3 * encoder.size * encoder.size);
    writePixelValues(rgb, encoder.size * encoder.size, encoder, pixels);
    const out = await client.infer(
      encoder.model,
      { [encoder.inputName]: { datatype: 'FP32', shape: [1, 3, encoder.size, encoder.size], raw: new Uint8Array(pixels.buffer) } },
      { deadline },
    );
    embeds.push(out.get('image_embeds')!);
  }
});
after(async () => {
  stats.close();
  client.close();
  await server.stop();
});

async function decoderCounts(): Promise<{ requests: number; inferences: number }> {
  const res = await new Promise<ModelStatisticsResponse>((resolve, reject) =>
    stats.modelStatistics({ name: decoder.model, version: '' }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
  );
  const s = res.modelStats[0]!;
  return { requests: Number(s.inferenceStats!.success!.count), inferences: Number(s.inferenceCount) };
}

const prefix = () => [decoder.bosTokenId];
const later = () => Date.now() + 10_000;

describe('DecoderStepBatcher', () => {
  it('sends steps issued together as one request and returns each caption its own logits', async () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const steps = embeds.map((imageEmbeds) => batcher.stepFor({ imageEmbeds, deadline: later() }));
    const alone: Float32Array[] = [];
    for (const step of steps) alone.push((await step([prefix()]))[0]!);

    const before = await decoderCounts();
    const together = await Promise.all(steps.map((step) => step([prefix()])));
    const after = await decoderCounts();
    assert.deepEqual(after, { requests: before.requests + 1, inferences: before.inferences + 3 });
    for (const [i, [logits]] of together.entries()) {
      assert.equal(logits!.length, decoder.vocabSize);
      const worst = logits!.reduce((m, x, j) => Math.max(m, Math.abs(x - alone[i]![j]!)), 0);
      assert.ok(worst < 1e-4, `caption ${i}: batched logits differ from its own by ${worst}`);
    }
    // Different images give different logits: rows were not mixed up or repeated.
    assert.notDeepEqual(together[0]![0], together[1]![0]);
  });

  it('splits what is pending into requests of at most max_batch_size rows', async () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const rows = Math.ceil(decoder.maxBatchSize / 2) + 1;
    const before = await decoderCounts();
    const out = await Promise.all(embeds.map((imageEmbeds) => batcher.stepFor({ imageEmbeds, deadline: later() })(Array.from({ length: rows }, prefix))));
    const after = await decoderCounts();
    assert.deepEqual(out.map((o) => o.length), [rows, rows, rows]);
    assert.deepEqual(after, { requests: before.requests + 3, inferences: before.inferences + 3 * rows });
  });

  it('rejects more sequences than the decoder batches, and a member past its own deadline alone', async () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const step = batcher.stepFor({ imageEmbeds: embeds[0]!, deadline: later() });
    await assert.rejects(step(Array.from({ length: decoder.maxBatchSize + 1 }, prefix)), (e: GatewayError) => e.code === 'GW_ERR_OPTION_INVALID');
    const late = batcher.stepFor({ imageEmbeds: embeds[1]!, deadline: Date.now() - 1 });
    const before = await decoderCounts();
    const [ok, expired] = await Promise.allSettled([step([prefix()]), late([prefix()])]);
    const after = await decoderCounts();
    assert.equal(ok.status, 'fulfilled');
    assert.equal(expired.status, 'rejected');
    assert.equal((expired as PromiseRejectedResult).reason.code, 'GW_ERR_DEADLINE');
    // Both travelled in one request (the call runs to the latest member's deadline); only the
    // expired member stopped waiting, at its own deadline.
    assert.deepEqual(after, { requests: before.requests + 1, inferences: before.inferences + 2 });
  });
});
