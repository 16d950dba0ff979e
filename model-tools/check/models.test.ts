/**
 * The committed demo models: they load, have the documented interface, match PyTorch, and caption
 * held-out generated scenes through the gateway's own preprocessing, tokenizer and decode loop.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { greedyDecode } from '../../gateway/src/generation/index.js';
import { generateScene, renderScene, resizeForModel } from '../scenes/index.js';
import { PARITY_FILES, parityOf } from './check-parity.js';
import { OnnxCaptioner } from './onnx-captioner.js';

const REPO = new URL('../../model_repository', import.meta.url).pathname;
const PARITY = new URL('../parity', import.meta.url).pathname;
const MODELS = ['caption_encoder', 'caption_decoder', 'food_classifier'];

let model: OnnxCaptioner;
before(async () => {
  model = await OnnxCaptioner.load(REPO);
});

describe('committed demo models', () => {
  it('are small: all ONNX files together under 25 MB', () => {
    const bytes = MODELS.reduce((n, m) => n + statSync(join(REPO, m, '1', 'model.onnx')).size, 0);
    assert.ok(bytes < 25 * 1024 * 1024, `${bytes} bytes`);
  });

  it('have the documented inputs and outputs, with a batch axis', async () => {
    const s = model.image.size;
    assert.deepEqual(model.encoderSession.inputNames, ['pixel_values']);
    assert.deepEqual(model.decoderSession.inputNames, ['input_ids', 'attention_mask', 'image_embeds']);
    assert.deepEqual(model.classifierSession.outputNames, ['probabilities', 'embedding']);
    for (const batch of [1, 3]) {
      const pixels = new ort.Tensor('float32', new Float32Array(batch * 3 * s * s), [batch, 3, s, s]);
      const embeds = await model.encode(pixels);
      assert.equal(embeds.dims.length, 3);
      assert.equal(embeds.dims[0], batch);
      const step = model.stepFor(embeds, 0);
      const logits = await step(Array.from({ length: batch }, () => [model.decoder.bosTokenId]));
      assert.equal(logits.length, batch);
      assert.equal(logits[0]!.length, model.decoder.vocabSize);
      const out = await model.classifierSession.run({ pixel_values: pixels });
      assert.deepEqual(out['probabilities']!.dims, [batch, model.labels.length]);
      assert.equal(out['embedding']!.dims[0], batch);
      const row = (out['probabilities']!.data as Float32Array).subarray(0, model.labels.length);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
    }
  });

  it('match PyTorch on the held-out parity batch within 1e-4', async () => {
    for (const f of PARITY_FILES) {
      const { model: name, maxAbsDiff } = await parityOf(REPO, join(PARITY, f));
      for (const [output, diff] of Object.entries(maxAbsDiff)) assert.ok(diff < 1e-4, `${name}.${output}: ${diff}`);
    }
  });

  it('caption held-out generated scenes and name their food', async () => {
    const seeds = Array.from({ length: 12 }, (_, i) => 3_000_000 + i * 7919);
    let exact = 0;
    let labelled = 0;
    for (const seed of seeds) {
      const scene = generateScene(seed);
      const pixels = model.pixelValues([await resizeForModel(await renderScene(scene, 'jpeg'), model.image.size)]);
      const embeds = await model.encode(pixels);
      const out = await greedyDecode(model.decodeStepFor(embeds, 0), model.tokenizer.prefix(''), {
        bosTokenId: model.decoder.bosTokenId,
        eosTokenId: model.decoder.eosTokenId,
        maxLength: model.decoder.maxLength,
        maxNewTokens: 20,
        minNewTokens: 0,
        numBeams: 1,
        repetitionPenalty: 1,
      });
      const caption = model.tokenizer.decode(out.tokens);
      if (caption === scene.caption) exact++;
      const [probs] = await model.classify(pixels);
      if (probs!.indexOf(Math.max(...probs!)) === scene.labelIndex) labelled++;
    }
    // Held-out accuracy is about 95 % (model cards): allow one miss in twelve for each.
    assert.ok(exact >= seeds.length - 1, `${exact}/${seeds.length} exact captions`);
    assert.ok(labelled >= seeds.length - 1, `${labelled}/${seeds.length} correct labels`);
  });

  it('tokenizes prompts as BLIP does: start token, prompt, no [SEP]', () => {
    const prefix = model.tokenizer.prefix('a photo of soup,');
    assert.equal(prefix[0], model.decoder.bosTokenId);
    assert.ok(!prefix.includes(model.decoder.eosTokenId));
    assert.equal(model.tokenizer.decode(prefix), 'a photo of soup,');
    assert.deepEqual(model.tokenizer.prefix(''), [model.decoder.bosTokenId]);
  });
});
