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
import { statelessDecoderSpecOf, type StatelessDecoderSpec, imageSpecOf, type ImageSpec } from '../src/triton/model-spec.js';
import { AlteredAnswersClient } from './altered-answers-client.js';
import { REPOSITORY } from './helpers.js';
import { type SlowRepository, slowRepository } from './slow-repository.js';

let server: RunningModelServer;
let client: TritonClient;
let stats: GRPCInferenceServiceClient;
let encoder: ImageSpec;
let decoder: StatelessDecoderSpec;
const embeds: RawTensor[] = [];

before(async () => {
  server = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} });
  client = new TritonClient(server.address);
  stats = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
  const deadline = Date.now() + 10_000;
  encoder = imageSpecOf(await client.modelConfig('caption_encoder', deadline));
  decoder = statelessDecoderSpecOf(await client.modelConfig('caption_decoder', deadline));
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

describe('DecoderStepBatcher: batch boundaries and broken answers', () => {
  it('takes exactly max_batch_size rows in one request, and a step of exactly max_batch_size sequences', async () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const half = decoder.maxBatchSize / 2;
    assert.ok(Number.isInteger(half));
    const before = await decoderCounts();
    await Promise.all(embeds.slice(0, 2).map((imageEmbeds) => batcher.stepFor({ imageEmbeds, deadline: later() })(Array.from({ length: half }, prefix))));
    const whole = await batcher.stepFor({ imageEmbeds: embeds[2]!, deadline: later() })(Array.from({ length: decoder.maxBatchSize }, prefix));
    assert.equal(whole.length, decoder.maxBatchSize);
    assert.deepEqual(await decoderCounts(), { requests: before.requests + 2, inferences: before.inferences + 4 * half });
  });

  it('gives every row of every step its own logits when multi-row steps share a request', async () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const steps = embeds.map((imageEmbeds) => batcher.stepFor({ imageEmbeds, deadline: later() }));
    const rows = (i: number) => [[decoder.bosTokenId, 10 + i], [decoder.bosTokenId, 20 + i], [decoder.bosTokenId]];
    const alone: Float32Array[][] = [];
    for (const [i, step] of steps.entries()) alone.push(await Promise.all(rows(i).map((r) => step([r]).then((l) => l[0]!))));
    const together = await Promise.all(steps.map((step, i) => step(rows(i))));
    together.forEach((logits, i) =>
      logits.forEach((row, j) => {
        const worst = row.reduce((m, x, k) => Math.max(m, Math.abs(x - alone[i]![j]![k]!)), 0);
        assert.ok(worst < 1e-4, `step ${i} row ${j} differs by ${worst}`);
      }),
    );
  });

  it('refuses image embeddings of another shape than the decoder takes', () => {
    const batcher = new DecoderStepBatcher(client, decoder);
    const cut: RawTensor = { ...embeds[0]!, raw: embeds[0]!.raw.subarray(4) };
    assert.throws(
      () => batcher.stepFor({ imageEmbeds: cut, deadline: later() }),
      (e: GatewayError) => e.code === 'GW_ERR_TRITON_INTERNAL' && e.detail.includes(`do not fit the decoder's [${decoder.embedsShape.join(',')}]`),
    );
  });

  it('an answer without logits, or with too few, is GW_ERR_TRITON_INTERNAL naming the model (injected)', async () => {
    const faults: Array<(out: Map<string, RawTensor>) => void> = [
      (out) => out.delete('logits'),
      (out) => out.set('logits', { ...out.get('logits')!, raw: out.get('logits')!.raw.subarray(4) }),
    ];
    for (const alter of faults) {
      const faulty = new AlteredAnswersClient(server.address, alter);
      try {
        const step = new DecoderStepBatcher(faulty, decoder).stepFor({ imageEmbeds: embeds[0]!, deadline: later() });
        await assert.rejects(step([prefix()]), (e: GatewayError) => e.code === 'GW_ERR_TRITON_INTERNAL' && e.detail === `model '${decoder.model}' returned no logits of shape [1,${decoder.vocabSize}]`);
      } finally {
        faulty.close();
      }
    }
  });
});

describe('DecoderStepBatcher: a member with an earlier deadline than its batch (decoder held 1.5 s)', () => {
  let slow: SlowRepository;
  let slowServer: RunningModelServer;
  let slowClient: TritonClient;
  before(async () => {
    slow = slowRepository({ caption_decoder: 1500 });
    slowServer = await startModelServer({ modelRepository: slow.path, grpcPort: 0, host: '127.0.0.1', log: () => {}, modelControlMode: 'explicit', loadModels: ['caption_decoder'] });
    slowClient = new TritonClient(slowServer.address);
  });
  after(async () => {
    slowClient.close();
    await slowServer.stop();
    slow.remove();
  });

  it('stops waiting at its own deadline, with the code of the deadline that ended it, while the batch goes on', async () => {
    const spec = statelessDecoderSpecOf(await slowClient.modelConfig('caption_decoder', later()));
    const batcher = new DecoderStepBatcher(slowClient, spec);
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        () => order.push(`${name} ok`),
        (e: GatewayError) => order.push(`${name} ${e.code}: ${e.detail}`),
      );
    const request = batcher.stepFor({ imageEmbeds: embeds[0]!, deadline: Date.now() + 300 });
    const call = batcher.stepFor({ imageEmbeds: embeds[1]!, deadline: later(), callTimeoutMs: 300 });
    const patient = batcher.stepFor({ imageEmbeds: embeds[2]!, deadline: later() });
    await Promise.all([track('request', request([prefix()])), track('call', call([prefix()])), track('patient', patient([prefix()]))]);
    const detail = "ModelStreamInfer 'caption_decoder': decoder step did not finish before its deadline";
    assert.deepEqual(order.slice(0, 2).sort(), [`call GW_ERR_TRITON_DEADLINE: ${detail}`, `request GW_ERR_DEADLINE: ${detail}`]);
    assert.equal(order[2], 'patient ok');
  });
});

