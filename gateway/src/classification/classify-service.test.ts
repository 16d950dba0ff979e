/**
 * ClassifyService against the embedded model server over real gRPC with the committed food
 * classifier. The reference is the classifier's own full output, asked for without the
 * classification extension, ranked here and named from labels.txt read here: the service must
 * give the same classes, scores and embedding summary, for both preprocessing profiles.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type RunningModelServer } from '../../../modelserver/src/index.js';
import { generateScene, renderScene } from '../../../model-tools/scenes/index.js';
import { REPOSITORY } from '../../test/helpers.js';
import { type SlowRepository, slowRepository } from '../../test/slow-repository.js';
import { AlteredAnswersClient } from '../../test/altered-answers-client.js';
import { GatewayError } from '../errors/index.js';
import { decodeToRgb, writePixelValues, zoomCrop } from '../preprocess/index.js';
import { float32View, TritonClient } from '../triton/client.js';
import { imageInput } from '../triton/image-input.js';
import { lazySpec } from '../triton/lazy-spec.js';
import { type ClassifierSpec, classifierSpecOf } from '../triton/model-spec.js';
import { parseClassifyOptions } from '../validation/index.js';
import { type ClassifyContext, ClassifyService, summarise } from './classify-service.js';

const LIMITS = { maxPixels: 50_000_000, minSide: 1 };
const LABELS = readFileSync(join(REPOSITORY, 'food_classifier', 'labels.txt'), 'utf8').trim().split('\n');

let server: RunningModelServer;
let client: TritonClient;
let spec: ClassifierSpec;
let service: ClassifyService;
let png: Buffer;

let repository: SlowRepository;
const HOLD_MS = 1200;

before(async () => {
  // The committed classifier, and a copy whose batches are held 1.2 s for the deadline tests.
  repository = slowRepository({ food_classifier_slow: HOLD_MS }, { food_classifier_slow: 'food_classifier' });
  server = await startModelServer({ modelRepository: repository.path, grpcPort: 0, log: () => {}, modelControlMode: 'explicit', loadModels: ['food_classifier', 'food_classifier_slow'] });
  client = new TritonClient(server.address);
  spec = classifierSpecOf(await client.modelConfig('food_classifier', Date.now() + 10_000));
  service = new ClassifyService(client, lazySpec('food_classifier', async () => spec), LIMITS);
  png = await renderScene(generateScene(1), 'png');
});
after(async () => {
  client.close();
  await server.stop();
  repository.remove();
});

const ctx = (over: Partial<ClassifyContext> = {}): ClassifyContext => ({ requestId: 'test', deadline: Date.now() + 10_000, callTimeoutMs: 10_000, ...over });
const options = (fields: Record<string, string> = {}) => parseClassifyOptions(fields);

/** The classifier's full answer for the view `seed` picks (none: the plain resize), ranked here. */
async function reference(image: Uint8Array, seed?: number) {
  let { rgb } = await decodeToRgb(image, spec.image, LIMITS);
  if (seed !== undefined) rgb = (await zoomCrop(rgb, spec.image.size, seed)).rgb;
  const pixels = writePixelValues(rgb, spec.image.size ** 2, spec.image, new Float32Array(3 * spec.image.size ** 2));
  const out = await client.infer(spec.model, imageInput(spec.image.inputName, spec.image.size, pixels), { deadline: Date.now() + 10_000 });
  const probabilities = Array.from(float32View(out.get('probabilities')!.raw));
  const ranked = probabilities.map((confidence, index) => ({ label: LABELS[index]!, index, confidence })).sort((a, b) => b.confidence - a.confidence);
  return { ranked, embedding: Array.from(float32View(out.get('embedding')!.raw)) };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);

function sameLabels(got: ReadonlyArray<{ label: string; index: number; confidence: number }>, want: ReadonlyArray<{ label: string; index: number; confidence: number }>) {
  assert.deepEqual(got.map((l) => [l.label, l.index]), want.map((l) => [l.label, l.index]));
  got.forEach((l, i) => close(l.confidence, want[i]!.confidence, l.label));
}

describe('ClassifyService.classify', () => {
  it('answers the top 2 classes by default, named by the model server, and the embedding summary', async () => {
    const want = await reference(png);
    const result = await service.classify(png, options(), ctx());
    assert.equal(result.model, 'food_classifier');
    sameLabels(result.labels, want.ranked.slice(0, 2));
    assert.equal(result.labels[0]!.label, 'rice');
    assert.deepEqual(result.profile, { name: 'resize' });
    const mean = want.embedding.reduce((s, v) => s + v, 0) / want.embedding.length;
    assert.equal(result.embedding.dim, 128);
    close(result.embedding.mean, mean, 'mean');
    close(result.embedding.variance, want.embedding.reduce((s, v) => s + (v - mean) ** 2, 0) / want.embedding.length, 'variance');
    assert.equal(result.embedding.values, undefined);
    const t = result.timingsMs;
    assert.ok(t.preprocess > 0 && t.classify > 0 && t.total >= t.preprocess + t.classify && t.total < 10_000, JSON.stringify(t));
  });

  it('top_k picks how many; more than the classes gives every class; embedding=full the values', async () => {
    const want = await reference(png);
    sameLabels((await service.classify(png, options({ top_k: '4' }), ctx())).labels, want.ranked.slice(0, 4));
    const all = await service.classify(png, options({ top_k: '50', embedding: 'full' }), ctx());
    sameLabels(all.labels, want.ranked);
    assert.equal(all.labels.length, LABELS.length);
    assert.equal(all.embedding.values?.length, 128);
    all.embedding.values!.forEach((v, i) => close(v, want.embedding[i]!, `embedding[${i}]`));
  });

  it('zoom_crop classifies the seeded view and returns its seed and crop; without a seed one is drawn', async () => {
    const seeded = await service.classify(png, options({ profile: 'zoom_crop', seed: '7', top_k: '11' }), ctx());
    const rgb = (await decodeToRgb(png, spec.image, LIMITS)).rgb;
    assert.deepEqual(seeded.profile, { name: 'zoom_crop', seed: 7, crop: (await zoomCrop(rgb, spec.image.size, 7)).crop });
    const want = await reference(png, 7);
    sameLabels(seeded.labels, want.ranked);
    assert.notDeepEqual(
      want.ranked.map((l) => l.confidence),
      (await reference(png)).ranked.map((l) => l.confidence),
      'the view changes the scores',
    );
    const drawn = await service.classify(png, options({ profile: 'zoom_crop', top_k: '11' }), ctx());
    const seed = drawn.profile.seed!;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
    sameLabels(drawn.labels, (await reference(png, seed)).ranked);
  });

  it('applies its image limits, and answers 503 while the classifier is not loaded', async () => {
    const strict = new ClassifyService(client, async () => spec, { maxPixels: 100, minSide: 1 });
    await assert.rejects(strict.classify(png, options(), ctx()), (e: GatewayError) => e.code === 'GW_ERR_IMAGE_TOO_MANY_PIXELS');
    const missing = new ClassifyService(client, lazySpec('food_classifier', () => client.modelConfig('no_classifier', Date.now() + 1000).then(classifierSpecOf)), LIMITS);
    await assert.rejects(missing.classify(png, options(), ctx()), (e: GatewayError) => e.code === 'GW_ERR_MODEL_UNAVAILABLE' && e.status === 503);
  });

  it('an answer without the scores or the embedding (injected) is GW_ERR_TRITON_INTERNAL naming the model', async () => {
    for (const dropped of [spec.scoresOutput, spec.embeddingOutput]) {
      const faulty = AlteredAnswersClient.dropping(server.address, [dropped]);
      try {
        await assert.rejects(new ClassifyService(faulty, async () => spec, LIMITS).classify(png, options(), ctx()), (e: GatewayError) => {
          assert.equal(e.code, 'GW_ERR_TRITON_INTERNAL', `${dropped}: ${e.message}`);
          assert.match(e.detail, /model 'food_classifier'/);
          return true;
        });
      } finally {
        faulty.close();
      }
    }
  });

  it('makes no model-server call once the request deadline has passed: 504 GW_ERR_DEADLINE', async () => {
    await assert.rejects(service.classify(png, options(), ctx({ deadline: Date.now() - 1 })), (e: GatewayError) => e.code === 'GW_ERR_DEADLINE');
  });

  it('the classifier call gets callTimeoutMs: GW_ERR_TRITON_DEADLINE; cut short by the request deadline: GW_ERR_DEADLINE', async () => {
    const slowSpec = classifierSpecOf(await client.modelConfig('food_classifier_slow', Date.now() + 10_000));
    const slow = new ClassifyService(client, async () => slowSpec, LIMITS);
    const expectCode = (code: string) => (e: GatewayError) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.detail, /food_classifier_slow/);
      return true;
    };
    await assert.rejects(slow.classify(png, options(), ctx({ callTimeoutMs: 400 })), expectCode('GW_ERR_TRITON_DEADLINE'));
    await assert.rejects(slow.classify(png, options(), ctx({ deadline: Date.now() + 600 })), expectCode('GW_ERR_DEADLINE'));
  });
});

describe('summarise', () => {
  it('gives dimension, mean and population variance; values only when asked', () => {
    assert.deepEqual(summarise(Float32Array.of(1, 2, 3, 6), false), { dim: 4, mean: 3, variance: 3.5 });
    assert.deepEqual(summarise(Float32Array.of(-1, 1), true), { dim: 2, mean: 0, variance: 1, values: [-1, 1] });
    assert.deepEqual(summarise(new Float32Array(0), false), { dim: 0, mean: 0, variance: 0 });
  });
});
