/**
 * perf/perf-analyzer/make-input-data: float32 values survive the short JSON numbers, and the files
 * made from the committed models follow perf_analyzer's --input-data format with every input of
 * each model's config.pbtxt, at its dims, holding what the gateway's preprocessing makes.
 * Run: node --import tsx --test perf/perf-analyzer/input-data.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preprocessImage } from '../../gateway/src/preprocess/decode-image.js';
import { decoderSpecOf, imageSpecOf } from '../../gateway/src/triton/model-spec.js';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { loadModelConfig } from '../../modelserver/src/config/index.js';
import { FIRST_SEED, type InputEntry, type MadeFile, makeInputData, shortestFloat32 } from './make-input-data.js';

const REPO = 'model_repository';
const ENTRIES = 2;

describe('shortestFloat32', () => {
  it('keeps the float32 exactly, in at most 9 significant digits', () => {
    const values = new Float32Array(2000);
    for (let i = 0; i < values.length; i++) values[i] = (Math.random() - 0.5) * 10 ** (Math.random() * 12 - 6);
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
  const read = (model: string) => JSON.parse(readFileSync(made.find((m) => m.model === model)!.file, 'utf8')) as { data: InputEntry[] };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'input-data-'));
    made = await makeInputData(REPO, dir, ENTRIES, () => {});
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes {"data": [...]} with every input of each model at its config dims', async () => {
    assert.ok(['caption_encoder', 'caption_decoder', 'food_classifier'].every((m) => made.some((f) => f.model === m)));
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

  it('holds exactly the pixel values the gateway computes for the same upload', async () => {
    const spec = imageSpecOf((await loadModelConfig(join(REPO, 'caption_encoder'))).config);
    const jpeg = await renderScene(generateScene(FIRST_SEED), 'jpeg');
    const { pixelValues } = await preprocessImage(jpeg, spec, { maxPixels: 40_000_000, minSide: 8 });
    const written = read('caption_encoder').data[0]![spec.inputName]!.content;
    assert.equal(written.length, pixelValues.length);
    for (let k = 0; k < written.length; k++) if (Math.fround(written[k]!) !== pixelValues[k]) assert.fail(`value ${k}: ${written[k]} != ${pixelValues[k]}`);
  });

  it('gives the decoder right-padded real prefixes from the start token', async () => {
    const spec = decoderSpecOf((await loadModelConfig(join(REPO, 'caption_decoder'))).config);
    for (const entry of read('caption_decoder').data) {
      const ids = entry['input_ids']!.content;
      const mask = entry['attention_mask']!.content;
      const n = mask.indexOf(0) === -1 ? mask.length : mask.indexOf(0);
      assert.equal(ids[0], spec.bosTokenId);
      assert.ok(n >= 1 && mask.slice(n).every((m) => m === 0) && mask.slice(0, n).every((m) => m === 1));
      assert.ok(ids.slice(n).every((t) => t === spec.padTokenId));
      assert.ok(ids.every((t) => Number.isInteger(t) && t >= 0 && t < spec.vocabSize));
    }
    // Real embeddings vary between images.
    const [a, b] = read('caption_decoder').data.map((e) => e['image_embeds']!.content);
    assert.notDeepEqual(a, b);
  });
});
