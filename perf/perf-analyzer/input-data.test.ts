/**
 * perf/perf-analyzer/make-input-data: float32 values survive the short JSON numbers; the files
 * follow perf_analyzer's --input-data format with every input of each model's config.pbtxt at its
 * dims; and they load the model server as the gateway does: fed to the real model server (the
 * gateway's own, over gRPC), each entry gives what a running gateway answers for the same upload —
 * the classifier's probabilities and embedding, the ensemble's food class, encoder embeddings
 * equal to the decoder file's, and decoder entries whose next token continues the gateway's
 * caption. (perf-analyzer.test.ts runs perf_analyzer itself on these files against both servers.)
 * Run: node --import tsx --test perf/perf-analyzer/input-data.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CaptionTokenizer } from '../../gateway/src/generation/index.js';
import { mulberry32 } from '../../gateway/src/random/mulberry32.js';
import { float32View, type RawTensor } from '../../gateway/src/triton/client.js';
import { statelessDecoderSpecOf } from '../../gateway/src/triton/model-spec.js';
import { form, startTestGateway, type TestGateway } from '../../gateway/test/helpers.js';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { loadModelConfig } from '../../modelserver/src/config/index.js';
import { DataType } from '../../proto/gen/model_config.js';
import { FIRST_SEED, type InputEntry, type InputValue, type MadeFile, makeInputData, shortestFloat32 } from './make-input-data.js';

const REPO = 'model_repository';
/** Six entries: the decoder's take the start, a third and two thirds of a caption, each prompt kind. */
const ENTRIES = 6;

describe('shortestFloat32', () => {
  it('keeps the float32 exactly, in at most 9 significant digits', () => {
    const random = mulberry32(20_261_202);
    const values = new Float32Array(2000);
    for (let i = 0; i < values.length; i++) values[i] = (random() - 0.5) * 10 ** (random() * 12 - 6);
    values.set([0, -0, 1, -1.7922626, 0.1, 3.4028234663852886e38, 1.401298464324817e-45]);
    for (const v of values) {
      const s = JSON.stringify(shortestFloat32(v));
      assert.ok(Math.fround(Number(s)) === v, s); // (-0 is written as 0, which JSON cannot tell apart)
      assert.ok(s.replace(/^-|e.*$|\./g, '').replace(/^0+/, '').length <= 9, s);
    }
    assert.equal(shortestFloat32(Math.fround(0.1)), 0.1);
  });
});

describe('makeInputData on the committed models', () => {
  let dir: string;
  let made: MadeFile[];
  let gw: TestGateway;
  const read = (model: string) => JSON.parse(readFileSync(made.find((m) => m.model === model)!.file, 'utf8')) as { data: InputEntry[] };
  /** The uploads the entries were made from, made again here: entry i is scene FIRST_SEED + i as JPEG. */
  const scenes = Array.from({ length: ENTRIES }, (_, i) => generateScene(FIRST_SEED + i));
  const uploads = Promise.all(scenes.map((s) => renderScene(s, 'jpeg')));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'input-data-'));
    [made, gw] = await Promise.all([makeInputData(REPO, dir, ENTRIES, () => {}), startTestGateway()]);
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One entry as a batch-1 request to the gateway's model server; the outputs as floats. */
  async function infer(model: string, entry: InputEntry): Promise<Map<string, Float32Array>> {
    const tensor = (datatype: string, { content, shape }: InputValue): RawTensor => {
      const data = datatype === 'INT64' ? BigInt64Array.from(content, BigInt) : Float32Array.from(content);
      return { datatype, shape: [1, ...shape], raw: new Uint8Array(data.buffer) };
    };
    const { config } = await loadModelConfig(join(REPO, model));
    const inputs = Object.fromEntries(config.input.map((i) => [i.name, tensor(i.dataType === DataType.TYPE_INT64 ? 'INT64' : 'FP32', entry[i.name]!)]));
    const out = await gw.client.infer(model, inputs, { deadline: Date.now() + 30_000 });
    return new Map([...out].map(([name, t]) => [name, float32View(t.raw)]));
  }

  const near = (a: number, b: number, tolerance = 1e-5) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));

  it('writes {"data": [...]} with every input of each model at its config dims', async () => {
    assert.ok(['caption_encoder', 'caption_decoder', 'food_classifier', 'food_caption'].every((m) => made.some((f) => f.model === m)));
    for (const { model } of made) {
      const { config } = await loadModelConfig(join(REPO, model));
      const doc = read(model);
      assert.deepEqual(Object.keys(doc), ['data']);
      assert.equal(doc.data.length, ENTRIES);
      for (const entry of doc.data) {
        assert.deepEqual(Object.keys(entry).sort(), config.input.map((i) => i.name).sort());
        for (const input of config.input) {
          const v = entry[input.name]!;
          assert.deepEqual(v.shape, input.dims.map(Number), `${model}.${input.name}`);
          assert.equal(v.content.length, v.shape.reduce((a, b) => a * b, 1));
          assert.ok(v.content.every(Number.isFinite));
        }
      }
    }
  });

  it('food_classifier entries give the probabilities and embedding the gateway answers for the same upload', async () => {
    const entries = read('food_classifier').data;
    for (const [i, jpeg] of (await uploads).entries()) {
      const out = await infer('food_classifier', entries[i]!);
      const res = await fetch(`${gw.url}/classify?top_k=11&embedding=full`, { method: 'POST', body: form(jpeg, {}, 'scene.jpg', 'image/jpeg') });
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { labels: Array<{ index: number; confidence: number }>; embedding: { values: number[] } };
      const probabilities = out.get('probabilities')!;
      assert.equal(answer.labels.length, 11);
      for (const { index, confidence } of answer.labels) assert.ok(near(probabilities[index]!, confidence), `entry ${i}, class ${index}: ${probabilities[index]} vs ${confidence}`);
      const embedding = out.get('embedding')!;
      answer.embedding.values.forEach((v, k) => assert.ok(near(embedding[k]!, v), `entry ${i}, embedding ${k}: ${embedding[k]} vs ${v}`));
    }
  });

  it('food_caption entries give the food class the gateway conditions its caption on', async () => {
    const entries = read('food_caption').data;
    const labels = readFileSync(join(REPO, 'food_classifier', 'labels.txt'), 'utf8').trim().split('\n');
    for (const [i, jpeg] of (await uploads).entries()) {
      const probabilities = (await infer('food_caption', entries[i]!)).get('food_probabilities')!;
      const top = probabilities.indexOf(Math.max(...probabilities));
      const res = await fetch(`${gw.url}/caption?food=true`, { method: 'POST', body: form(jpeg, {}, 'scene.jpg', 'image/jpeg') });
      assert.equal(res.status, 200);
      const { food } = (await res.json()) as { food: { label: string; confidence: number } };
      assert.equal(labels[top], food.label, `entry ${i}`);
      assert.ok(near(probabilities[top]!, food.confidence), `entry ${i}: ${probabilities[top]} vs ${food.confidence}`);
    }
  });

  it('caption_encoder entries encode to the decoder entries’ image_embeds on the server', async () => {
    const encoder = read('caption_encoder').data;
    const decoder = read('caption_decoder').data;
    for (let i = 0; i < ENTRIES; i++) {
      const embeds = (await infer('caption_encoder', encoder[i]!)).get('image_embeds')!;
      const written = decoder[i]!['image_embeds']!.content;
      assert.equal(embeds.length, written.length);
      let worst = 0;
      written.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - embeds[k]!))));
      assert.ok(worst < 1e-4, `entry ${i}: embeddings differ by up to ${worst}`);
    }
    // Real embeddings vary between images.
    assert.notDeepEqual(decoder[0]!['image_embeds']!.content, decoder[1]!['image_embeds']!.content);
  });

  it('caption_decoder entries are states of the gateway’s own caption: a prefix, and the server’s next token continues it', async () => {
    const spec = statelessDecoderSpecOf((await loadModelConfig(join(REPO, 'caption_decoder'))).config);
    const tokenizer = CaptionTokenizer.fromJson(JSON.parse(readFileSync(join(REPO, 'caption_decoder', spec.tokenizerFile), 'utf8')) as object, spec.bosTokenId);
    const entries = read('caption_decoder').data;
    const lengths = new Set<number>();
    for (const [i, jpeg] of (await uploads).entries()) {
      const entry = entries[i]!;
      const ids = entry['input_ids']!.content;
      const mask = entry['attention_mask']!.content;
      const n = mask.indexOf(0) === -1 ? mask.length : mask.indexOf(0);
      assert.ok(mask.slice(0, n).every((m) => m === 1) && mask.slice(n).every((m) => m === 0), `entry ${i}: right-padded mask`);
      assert.ok(ids.slice(n).every((t) => t === spec.padTokenId), `entry ${i}: padding`);
      assert.equal(ids[0], spec.bosTokenId);
      lengths.add(n);

      // Even entries caption from the default prompt, odd ones continue the food prompt for the scene's label.
      const prompt = i % 2 === 0 ? spec.defaultPrompt : spec.promptTemplate.replace('{label}', scenes[i]!.label);
      const res = await fetch(`${gw.url}/caption`, { method: 'POST', body: form(jpeg, prompt ? { prompt } : {}, 'scene.jpg', 'image/jpeg') });
      assert.equal(res.status, 200);
      const { caption } = (await res.json()) as { caption: string };
      const prefix = ids.slice(0, n);
      assert.deepEqual(prefix.slice(0, tokenizer.prefix(prompt).length), tokenizer.prefix(prompt), `entry ${i}: starts with the prompt`);
      assert.ok(caption.startsWith(tokenizer.decode(prefix)), `entry ${i}: '${tokenizer.decode(prefix)}' is not the start of '${caption}'`);

      const logits = (await infer('caption_decoder', entry)).get('logits')!;
      assert.equal(logits.length, spec.vocabSize);
      const next = logits.indexOf(Math.max(...logits));
      if (next === spec.eosTokenId) assert.equal(tokenizer.decode(prefix), caption, `entry ${i}: eos before the caption ended`);
      else assert.ok(caption.startsWith(tokenizer.decode([...prefix, next])), `entry ${i}: next token '${tokenizer.decode([next])}' does not continue '${caption}'`);
    }
    // The entries take different points of the decode loop, not all its start.
    assert.ok(lengths.size >= 3, [...lengths].join());
  });
});
