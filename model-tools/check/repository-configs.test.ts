/**
 * The committed model repository as a server sees it, over real gRPC on the embedded model
 * server: the food_caption ensemble gives what its two models give when called apart, and every
 * alternative configuration in configs/ (selected as Triton's --model-config-name does) loads,
 * KIND_GPU falling back to CPU, and computes exactly what config.pbtxt computes.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type RunningModelServer } from '../../modelserver/src/index.js';
import { parseClassification } from '../../gateway/src/triton/classification.js';
import { float32View, type RawTensor, TritonClient } from '../../gateway/src/triton/client.js';
import { decoderInputs } from '../../gateway/src/triton/decoder-inputs.js';
import { writePixelValues } from '../../gateway/src/preprocess/pixel-values.js';
import { statelessDecoderSpecOf, type StatelessDecoderSpec, imageSpecOf, type ImageSpec } from '../../gateway/src/triton/model-spec.js';
import { generateScene, renderScene, resizeForModel } from '../scenes/index.js';

const REPO = new URL('../../model_repository', import.meta.url).pathname;
const MODELS = ['caption_encoder', 'caption_decoder', 'caption_decoder_cached', 'food_classifier'];
const CACHED = 'caption_decoder_cached';
const VARIANTS = ['cpu', 'gpu', 'dynamic', 'multi_gpu'];
const later = () => Date.now() + 20_000;

let server: RunningModelServer;
let client: TritonClient;
let image: ImageSpec;
let decoder: StatelessDecoderSpec;
let pixels: Float32Array;
const BATCH = 2;

async function start(modelConfigName?: string): Promise<{ server: RunningModelServer; client: TritonClient }> {
  const s = await startModelServer({ modelRepository: REPO, grpcPort: 0, host: '127.0.0.1', log: () => {}, ...(modelConfigName ? { modelConfigName } : {}) });
  return { server: s, client: new TritonClient(s.address) };
}

const pixelInput = (): Record<string, RawTensor> => ({
  pixel_values: { datatype: 'FP32', shape: [BATCH, 3, image.size, image.size], raw: new Uint8Array(pixels.buffer) },
});

/** Every model's outputs on the same two scenes (the decoder on its start token). */
async function outputsOf(c: TritonClient): Promise<Record<string, Float32Array>> {
  const enc = await c.infer('caption_encoder', pixelInput(), { deadline: later() });
  const embeds = enc.get('image_embeds')!;
  const L = decoder.maxLength;
  const { inputIds, attentionMask } = decoderInputs([[decoder.bosTokenId], [decoder.bosTokenId, decoder.eosTokenId + 1]], L, decoder.padTokenId);
  const dec = await c.infer(
    'caption_decoder',
    {
      input_ids: { datatype: 'INT64', shape: [BATCH, L], raw: new Uint8Array(inputIds.buffer) },
      attention_mask: { datatype: 'INT64', shape: [BATCH, L], raw: new Uint8Array(attentionMask.buffer) },
      image_embeds: embeds,
    },
    { deadline: later() },
  );
  const cls = await c.infer('food_classifier', pixelInput(), { deadline: later() });
  // The cached decoder's first step on the first image: one sequence, batch size 1, START and END.
  const first = { ...embeds, shape: [1, ...embeds.shape.slice(1)], raw: embeds.raw.subarray(0, embeds.raw.byteLength / BATCH) };
  const i64 = (v: bigint) => ({ datatype: 'INT64', shape: [1, 1], raw: new Uint8Array(BigInt64Array.of(v).buffer) });
  const cached = await c.infer(
    CACHED,
    {
      input_ids: { datatype: 'INT64', shape: [1, 1, 1], raw: new Uint8Array(BigInt64Array.of(BigInt(decoder.bosTokenId)).buffer) },
      beam_idx: i64(0n),
      image_embeds: first,
      repetition_penalty: { datatype: 'FP32', shape: [1, 1], raw: new Uint8Array(Float32Array.of(1).buffer) },
      suppress_eos: i64(0n),
      normalize_scores: i64(1n),
    },
    { deadline: later(), sequence: { id: `configs-${Math.random()}`, start: true, end: true } },
  );
  return {
    image_embeds: float32View(embeds.raw),
    logits: float32View(dec.get('logits')!.raw),
    top_scores: float32View(cached.get('top_scores')!.raw),
    probabilities: float32View(cls.get('probabilities')!.raw),
    embedding: float32View(cls.get('embedding')!.raw),
  };
}

before(async () => {
  ({ server, client } = await start());
  image = imageSpecOf(await client.modelConfig('caption_encoder', later()));
  decoder = statelessDecoderSpecOf(await client.modelConfig('caption_decoder', later()));
  const n = image.size * image.size;
  pixels = new Float32Array(BATCH * 3 * n);
  for (let i = 0; i < BATCH; i++) {
    const rgb = await resizeForModel(await renderScene(generateScene(4_300_000 + i), 'png'), image.size);
    writePixelValues(rgb, n, image, pixels, i);
  }
});
after(async () => {
  client.close();
  await server.stop();
});

describe('food_caption ensemble', () => {
  it('returns the label and embeddings the classifier and the encoder give when called apart', async () => {
    const out = await client.infer('food_caption', pixelInput(), {
      deadline: later(),
      outputs: [{ name: 'food_probabilities', classification: 1 }, { name: 'image_embeds' }],
    });
    const separate = await outputsOf(client);
    assert.deepEqual(float32View(out.get('image_embeds')!.raw), separate.image_embeds);
    const top = parseClassification(out.get('food_probabilities')!.raw);
    assert.equal(top.length, BATCH);
    const labels = (await client.infer('food_classifier', pixelInput(), { deadline: later(), outputs: [{ name: 'probabilities', classification: 1 }] })).get('probabilities')!;
    assert.deepEqual(top, parseClassification(labels.raw));
    for (const [i, c] of top.entries()) {
      const classes = separate.probabilities.length / BATCH;
      const row = separate.probabilities.subarray(i * classes, (i + 1) * classes);
      assert.equal(c.index, row.indexOf(Math.max(...row)));
      assert.ok(Math.abs(c.score - row[c.index]!) < 1e-6);
    }
  });
});

describe('alternative configurations', () => {
  it('every model has the four documented configs/', () => {
    for (const m of MODELS) assert.deepEqual(readdirSync(join(REPO, m, 'configs')).sort(), VARIANTS.map((v) => `${v}.pbtxt`).sort(), m);
  });

  for (const variant of VARIANTS) {
    it(`--model-config-name=${variant} loads every model and computes what config.pbtxt computes`, async () => {
      const expected = await outputsOf(client);
      const alt = await start(variant);
      try {
        for (const m of MODELS) {
          const config = await alt.client.modelConfig(m, later());
          const kinds = config.instanceGroup.map((g) => g.kind);
          assert.ok(kinds.length > 0, `${m}: instance groups`);
          if (m === CACHED) assert.ok(config.sequenceBatching?.state.length, `${m}: sequence batching with state in ${variant}`);
          else assert.equal(config.dynamicBatching !== undefined, variant === 'dynamic' || variant === 'multi_gpu', `${m}: dynamic batching in ${variant}`);
        }
        const got = await outputsOf(alt.client);
        // Instances split the cores between them, and ONNX Runtime's sums may then round in
        // another order: equal to float precision, not necessarily bit for bit.
        for (const [name, values] of Object.entries(expected)) {
          const worst = values.reduce((m, v, i) => Math.max(m, Math.abs(v - got[name]![i]!)), 0);
          assert.equal(got[name]!.length, values.length);
          assert.ok(worst < 1e-5, `${variant}: ${name} differs by ${worst}`);
        }
      } finally {
        alt.client.close();
        await alt.server.stop();
      }
    });
  }
});
