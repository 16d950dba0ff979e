/**
 * CaptionService against the embedded model server over real gRPC, with the committed caption
 * models plus slowed copies of the encoder and decoder (their dynamic batchers hold each request
 * 1.2 s; see gateway/test/slow-repository.ts). Each option's answer is compared with a
 * reference built here from the lower parts (preprocessImage, a unary encoder or ensemble call,
 * DecoderStepBatcher, generate) with the decoder's ids written out from its config.pbtxt, so a
 * service that drops, swaps or mis-defaults an option gives a different caption. Inputs were
 * chosen so each option changes the answer: with min_new_tokens 20 greedy runs past its EOS into
 * repetitions, where beams and the repetition penalty pick differently.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { startModelServer, type RunningModelServer } from '../../../modelserver/src/index.js';
import { generateScene, renderScene } from '../../../model-tools/scenes/index.js';
import { GRPCInferenceServiceClient, type ModelStatisticsResponse } from '../../../proto/gen/grpc_service.js';
import { AlteredAnswersClient } from '../../test/altered-answers-client.js';
import { type SlowRepository, slowRepository } from '../../test/slow-repository.js';
import { GatewayError } from '../errors/index.js';
import { CaptionTokenizer, generate, scoreLogits } from '../generation/index.js';
import { preprocessImage } from '../preprocess/index.js';
import { parseClassification } from '../triton/classification.js';
import { type RawTensor, TritonClient } from '../triton/client.js';
import { DecoderStepBatcher } from '../triton/decode-step.js';
import { imageInput } from '../triton/image-input.js';
import { lazySpec } from '../triton/lazy-spec.js';
import { statelessDecoderSpecOf, type StatelessDecoderSpec, foodCaptionSpecOf, imageSpecOf, type ImageSpec } from '../triton/model-spec.js';
import { parseCaptionOptions } from '../validation/index.js';
import { type CaptionContext, type CaptionModels, type CaptionResult, CaptionService } from './caption-service.js';

const LIMITS = { maxPixels: 50_000_000, minSide: 1 };
const OPTION_LIMITS = { maxNewTokens: 30, maxBeams: 8 };
// caption_decoder/config.pbtxt's parameters, written out rather than read through model-spec.ts.
const BOS = 5;
const EOS = 3;
const MAX_LENGTH = 32;
const DEFAULT_MAX_NEW_TOKENS = 20;
const HOLD_MS = 1200;

let repository: SlowRepository;
let server: RunningModelServer;
let client: TritonClient;
let stats: GRPCInferenceServiceClient;
let models: CaptionModels;
let statelessDecoder: StatelessDecoderSpec;
let service: CaptionService;
let png: Buffer;

before(async () => {
  repository = slowRepository(
    { caption_encoder_slow: HOLD_MS, caption_decoder_slow: HOLD_MS },
    { caption_encoder_slow: 'caption_encoder', caption_decoder_slow: 'caption_decoder' },
  );
  server = await startModelServer({ modelRepository: repository.path, grpcPort: 0, log: () => {} });
  client = new TritonClient(server.address);
  stats = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
  const deadline = Date.now() + 10_000;
  const encoder = imageSpecOf(await client.modelConfig('caption_encoder', deadline));
  const decoder = statelessDecoderSpecOf(await client.modelConfig('caption_decoder', deadline));
  const tokenizer = CaptionTokenizer.fromJson(JSON.parse(readFileSync(join(repository.path, 'caption_decoder', 'tokenizer.json'), 'utf8')), BOS);
  const foodCaption = lazySpec('food_caption', async () => foodCaptionSpecOf(await client.modelConfig('food_caption', Date.now() + 10_000), encoder));
  statelessDecoder = decoder;
  models = { encoder, decoder, tokenizer, foodCaption };
  service = new CaptionService(client, models, LIMITS);
  png = await renderScene(generateScene(1), 'png');
});
after(async () => {
  stats.close();
  client.close();
  await server.stop();
  repository.remove();
});

const ctx = (over: Partial<CaptionContext> = {}): CaptionContext => ({ requestId: 'test', deadline: Date.now() + 30_000, callTimeoutMs: 10_000, ...over });
const options = (fields: Record<string, string> = {}) => parseCaptionOptions(fields, OPTION_LIMITS);

interface Reference {
  readonly prompt?: string;
  readonly food?: boolean;
  readonly maxNewTokens?: number;
  readonly minNewTokens?: number;
  readonly numBeams?: number;
  readonly repetitionPenalty?: number;
}

/** The caption the service should give, from the lower parts and the decoder's literal ids. */
async function reference(image: Uint8Array, r: Reference): Promise<Pick<CaptionResult, 'caption' | 'tokens' | 'finishReason' | 'steps'> & { label?: string }> {
  const { encoder, tokenizer } = models;
  const decoder = statelessDecoder;
  const { pixelValues } = await preprocessImage(image, encoder, LIMITS);
  const deadline = Date.now() + 10_000;
  let embeds: RawTensor;
  let prompt = r.prompt ?? '';
  let label: string | undefined;
  if (r.food) {
    const spec = await models.foodCaption();
    const out = await client.infer(spec.model, imageInput(spec.inputName, encoder.size, pixelValues), {
      deadline,
      outputs: [{ name: spec.scoresOutput, classification: 1 }, { name: spec.embedsOutput }],
    });
    label = parseClassification(out.get(spec.scoresOutput)!.raw)[0]!.label;
    prompt = `a photo of ${label},`;
    embeds = out.get(spec.embedsOutput)!;
  } else {
    embeds = (await client.infer(encoder.model, imageInput(encoder.inputName, encoder.size, pixelValues), { deadline })).get('image_embeds')!;
  }
  const prefix = tokenizer.prefix(prompt);
  const step = new DecoderStepBatcher(client, decoder).stepFor({ imageEmbeds: embeds, deadline });
  const result = await generate(scoreLogits(step, EOS), prefix, {
    bosTokenId: BOS,
    eosTokenId: EOS,
    maxLength: MAX_LENGTH,
    maxNewTokens: r.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
    minNewTokens: r.minNewTokens ?? 0,
    numBeams: r.numBeams ?? 1,
    repetitionPenalty: r.repetitionPenalty ?? 1,
  });
  return { caption: tokenizer.decode([...prefix.slice(1), ...result.tokens]), tokens: result.tokens.length, finishReason: result.finishReason, steps: result.steps, ...(label ? { label } : {}) };
}

const pick = (r: CaptionResult) => ({ caption: r.caption, tokens: r.tokens, finishReason: r.finishReason, steps: r.steps });

async function requestCount(model: string): Promise<number> {
  const res = await new Promise<ModelStatisticsResponse>((resolve, reject) =>
    stats.modelStatistics({ name: model, version: '' }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
  );
  return Number(res.modelStats[0]!.inferenceStats!.success!.count);
}

describe('CaptionService.caption', () => {
  it('with default options: greedy to EOS within the decoder default, the caption without BOS, timed', async () => {
    const result = await service.caption(png, options(), ctx());
    assert.deepEqual(pick(result), await reference(png, {}));
    assert.equal(result.caption, 'a boiled egg next to a plate of rice on a green table');
    assert.equal(result.finishReason, 'eos');
    assert.equal(result.steps, result.tokens + 1, 'one step per token and one for EOS');
    assert.equal(result.food, undefined);
    assert.ok(!('food' in result));
    const t = result.timingsMs;
    for (const v of [t.preprocess, t.encode, t.generate, result.decodeMs]) assert.ok(v > 0 && v < 30_000, JSON.stringify(result));
    assert.ok(t.total >= t.preprocess + t.encode + t.generate && t.total < 30_000, JSON.stringify(t));
    assert.ok(result.decodeMs <= t.preprocess, JSON.stringify(result));
  });

  it('continues a prompt, which the caption includes', async () => {
    const result = await service.caption(png, options({ prompt: 'two' }), ctx());
    assert.deepEqual(pick(result), await reference(png, { prompt: 'two' }));
    assert.match(result.caption, /^two eggs /);
  });

  it('stops at max_new_tokens; without it at the decoder default, also under min_new_tokens', async () => {
    const three = await service.caption(png, options({ max_new_tokens: '3' }), ctx());
    assert.deepEqual(pick(three), await reference(png, { maxNewTokens: 3 }));
    assert.deepEqual([three.tokens, three.finishReason], [3, 'length']);
    // min_new_tokens above the decoder's default of 20 is capped by it.
    const capped = await service.caption(png, options({ min_new_tokens: '25' }), ctx());
    assert.deepEqual(pick(capped), await reference(png, { minNewTokens: 20 }));
    assert.deepEqual([capped.tokens, capped.finishReason], [DEFAULT_MAX_NEW_TOKENS, 'length']);
  });

  it('min_new_tokens, num_beams and repetition_penalty each change the caption as generate does', async () => {
    const long = { min_new_tokens: '20', max_new_tokens: '24' };
    const greedy = await service.caption(png, options(long), ctx());
    assert.deepEqual(pick(greedy), await reference(png, { minNewTokens: 20, maxNewTokens: 24 }));
    assert.ok(greedy.tokens >= 20);
    const beams = await service.caption(png, options({ ...long, num_beams: '4' }), ctx());
    assert.deepEqual(pick(beams), await reference(png, { minNewTokens: 20, maxNewTokens: 24, numBeams: 4 }));
    const penalised = await service.caption(png, options({ ...long, repetition_penalty: '10' }), ctx());
    assert.deepEqual(pick(penalised), await reference(png, { minNewTokens: 20, maxNewTokens: 24, repetitionPenalty: 10 }));
    assert.equal(new Set([greedy.caption, beams.caption, penalised.caption]).size, 3, 'each option changed the caption');
  });

  it('with food: one ensemble call classifies and encodes; the label fills the prompt template', async () => {
    const encoderCalls = await requestCount('caption_encoder');
    const ensembleCalls = await requestCount('food_caption');
    const result = await service.caption(png, options({ food: 'true' }), ctx());
    assert.equal(await requestCount('food_caption'), ensembleCalls + 1);
    assert.equal(await requestCount('caption_encoder'), encoderCalls + 1, 'the ensemble runs the encoder once; the service does not call it again');
    const want = await reference(png, { food: true });
    assert.equal(want.label, 'rice');
    assert.deepEqual(pick(result), { caption: want.caption, tokens: want.tokens, finishReason: want.finishReason, steps: want.steps });
    assert.match(result.caption, /^a photo of rice, /);
    assert.equal(result.food?.label, 'rice');
    assert.ok(result.food.confidence > 0.1 && result.food.confidence <= 1, String(result.food.confidence));
  });

  it('refuses a prompt that leaves the decoder no room, and takes one that leaves one token', async () => {
    // 'a' is one token: BOS plus 31 of them fill the decoder's 32 positions.
    await assert.rejects(service.caption(png, options({ prompt: Array(31).fill('a').join(' ') }), ctx()), (e: GatewayError) => {
      assert.equal(e.code, 'GW_ERR_OPTION_INVALID');
      assert.equal(e.detail, 'prompt is 31 tokens; the decoder holds 31 at most including the caption');
      return true;
    });
    const fits = await service.caption(png, options({ prompt: Array(30).fill('a').join(' ') }), ctx());
    assert.deepEqual([fits.tokens, fits.finishReason], [1, 'length']);
  });

  it('applies its image limits', async () => {
    const strict = new CaptionService(client, models, { maxPixels: 100, minSide: 1 });
    await assert.rejects(strict.caption(png, options(), ctx()), (e: GatewayError) => e.code === 'GW_ERR_IMAGE_TOO_MANY_PIXELS');
  });

  it('makes no model-server call once the request deadline has passed', async () => {
    const before = await requestCount('caption_encoder');
    await assert.rejects(service.caption(png, options(), ctx({ deadline: Date.now() - 1 })), (e: GatewayError) => {
      assert.deepEqual([e.code, e.detail], ['GW_ERR_DEADLINE', 'the request deadline passed before the answer was complete']);
      return true;
    });
    await assert.rejects(service.caption(png, options({ food: 'true' }), ctx({ deadline: Date.now() - 1 })), (e: GatewayError) => e.code === 'GW_ERR_DEADLINE');
    assert.equal(await requestCount('caption_encoder'), before);
  });
});

describe('CaptionService with answers that lack an output (injected)', () => {
  it('an encoder or ensemble answer without an output it needs is GW_ERR_TRITON_INTERNAL naming the model', async () => {
    const spec = await models.foodCaption();
    for (const [dropped, food, model] of [
      ['image_embeds', 'false', 'caption_encoder'],
      [spec.scoresOutput, 'true', 'food_caption'],
      [spec.embedsOutput, 'true', 'food_caption'],
    ] as const) {
      const faulty = AlteredAnswersClient.dropping(server.address, [dropped]);
      try {
        await assert.rejects(new CaptionService(faulty, models, LIMITS).caption(png, options({ food }), ctx()), (e: GatewayError) => {
          assert.equal(e.code, 'GW_ERR_TRITON_INTERNAL', `${dropped}: ${e.message}`);
          assert.match(e.detail, new RegExp(`model '${model}'`));
          return true;
        });
      } finally {
        faulty.close();
      }
    }
  });
});

describe('CaptionService deadlines with a model held 1.2 s', () => {
  let slowEncoder: ImageSpec;
  let slowDecoder: StatelessDecoderSpec;
  before(async () => {
    const deadline = Date.now() + 10_000;
    slowEncoder = imageSpecOf(await client.modelConfig('caption_encoder_slow', deadline));
    slowDecoder = statelessDecoderSpecOf(await client.modelConfig('caption_decoder_slow', deadline));
  });

  const expectCode = (code: string, model: string) => (e: GatewayError) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.detail, new RegExp(model));
    return true;
  };

  it('each decoder step gets callTimeoutMs: GW_ERR_TRITON_DEADLINE well inside the request budget', async () => {
    const slow = new CaptionService(client, { ...models, decoder: slowDecoder }, LIMITS);
    await assert.rejects(slow.caption(png, options({ max_new_tokens: '2' }), ctx({ callTimeoutMs: 400 })), expectCode('GW_ERR_TRITON_DEADLINE', 'caption_decoder_slow'));
  });

  it('a decoder step cut short by the request deadline is GW_ERR_DEADLINE', async () => {
    const slow = new CaptionService(client, { ...models, decoder: slowDecoder }, LIMITS);
    await assert.rejects(slow.caption(png, options({ max_new_tokens: '2' }), ctx({ deadline: Date.now() + 600 })), expectCode('GW_ERR_DEADLINE', 'caption_decoder_slow'));
  });

  it('the encoder call gets callTimeoutMs too, and the request deadline the same way', async () => {
    const slow = new CaptionService(client, { ...models, encoder: slowEncoder }, LIMITS);
    await assert.rejects(slow.caption(png, options(), ctx({ callTimeoutMs: 400 })), expectCode('GW_ERR_TRITON_DEADLINE', 'caption_encoder_slow'));
    await assert.rejects(slow.caption(png, options(), ctx({ deadline: Date.now() + 600 })), expectCode('GW_ERR_DEADLINE', 'caption_encoder_slow'));
  });
});
