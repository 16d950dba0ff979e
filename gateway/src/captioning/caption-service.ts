/**
 * @module captioning/caption-service
 * One caption, start to finish, in request order: preprocess the upload with the encoder's own
 * parameters, run the encoder on the model server (or, with `food`, the food_caption ensemble,
 * which classifies the food and encodes the image in one call), run the decode loop against the
 * decoder on the model server (conditioned on the food label with `food`), turn tokens into text.
 * Every stage is timed for Server-Timing.
 */
import { GatewayError } from '../errors/index.js';
import { type CaptionTokenizer, type DecodeStep, generate, type GenerationConfig, scoreLogits } from '../generation/index.js';
import { type ImageLimits, preprocessImage } from '../preprocess/index.js';
import { parseClassification } from '../triton/classification.js';
import type { RawTensor, TritonClient } from '../triton/client.js';
import { type RequestDeadlines, throwIfRequestDeadlinePassed, withCallDeadline } from '../triton/deadlines.js';
import { cachedDecodeStep } from '../triton/cached-decode-step.js';
import { DecoderStepBatcher, type DecodeStepOptions } from '../triton/decode-step.js';
import { imageInput } from '../triton/image-input.js';
import { type DecoderSpec, type FoodCaptionSpec, type ImageSpec, isStateless } from '../triton/model-spec.js';
import type { CaptionOptions } from '../validation/index.js';

export interface CaptionModels {
  readonly encoder: ImageSpec;
  readonly decoder: DecoderSpec;
  readonly tokenizer: CaptionTokenizer;
  /** The food_caption ensemble, read on first use (see lazySpec). */
  readonly foodCaption: () => Promise<FoodCaptionSpec>;
}

/**
 * The caption's deadlines: `deadline` for the whole caption, `callTimeoutMs` for each
 * model-server call (encoder, ensemble, every decoder step), capped by `deadline`.
 */
export interface CaptionContext extends RequestDeadlines {
  readonly requestId: string;
  /** Told as the caption enters each stage (for the log line of a request abandoned during it). */
  readonly onStage?: (stage: 'preprocess' | 'encode' | 'generate') => void;
}

export interface CaptionResult {
  readonly caption: string;
  readonly tokens: number;
  readonly finishReason: 'eos' | 'length';
  readonly timingsMs: { preprocess: number; encode: number; generate: number; total: number };
  /**
   * Image decode, ms: the header check plus sharp's one decode, orient, colour and resize pass
   * (libvips streams them, so they cannot be timed apart). Part of `timingsMs.preprocess`, which
   * adds normalisation; reported to metrics, not to the client.
   */
  readonly decodeMs: number;
  readonly steps: number;
  /** With `food`: the ensemble's top food class, which conditioned the caption. */
  readonly food?: { readonly label: string; readonly confidence: number };
}

const since = (t0: number) => performance.now() - t0;

export class CaptionService {
  /** The DecodeStep of one caption, as the decoder's config says it is stepped. */
  private readonly decodeStepFor: (options: DecodeStepOptions) => DecodeStep;

  constructor(
    private readonly client: TritonClient,
    readonly models: CaptionModels,
    private readonly limits: ImageLimits,
  ) {
    const { decoder } = models;
    if (isStateless(decoder)) {
      const batcher = new DecoderStepBatcher(client, decoder);
      this.decodeStepFor = (options) => scoreLogits(batcher.stepFor(options), decoder.eosTokenId);
    } else {
      this.decodeStepFor = (options) => cachedDecodeStep(client, decoder, options);
    }
  }

  async caption(image: Uint8Array, options: CaptionOptions, ctx: CaptionContext): Promise<CaptionResult> {
    const { encoder, decoder, tokenizer } = this.models;
    const t0 = performance.now();
    ctx.onStage?.('preprocess');
    const { pixelValues, timingsMs: preprocessMs } = await preprocessImage(image, encoder, this.limits, undefined, 0, { signal: ctx.signal });
    const preprocess = since(t0);

    ctx.onStage?.('encode');
    const t1 = performance.now();
    const { embeds, food } = options.food ? await this.encodeWithFood(pixelValues, ctx) : { embeds: await this.encode(pixelValues, ctx), food: undefined };
    const encode = since(t1);

    ctx.onStage?.('generate');
    const t2 = performance.now();
    // The food label fills the decoder's prompt_template ("a photo of {label},"): conditional
    // captioning, as BLIP does with a text prompt.
    const prompt = food ? decoder.promptTemplate.replace('{label}', food.label) : (options.prompt ?? decoder.defaultPrompt);
    const prefix = tokenizer.prefix(prompt);
    const maxNewTokens = options.max_new_tokens ?? decoder.maxNewTokens;
    if (prefix.length >= decoder.maxLength) {
      throw new GatewayError('GW_ERR_OPTION_INVALID', `prompt is ${prefix.length - 1} tokens; the decoder holds ${decoder.maxLength - 1} at most including the caption`);
    }
    // The cached decoder ranks on the server and returns a fixed number of candidates per beam;
    // beam search needs 2 x num_beams of them.
    if (decoder.stepping.kind === 'cached' && 2 * options.num_beams > decoder.stepping.candidates) {
      throw new GatewayError('GW_ERR_OPTION_INVALID', `num_beams ${options.num_beams} exceeds ${decoder.stepping.candidates / 2}, the most that '${decoder.model}' ranks candidates for`);
    }
    const config: GenerationConfig = {
      bosTokenId: decoder.bosTokenId,
      eosTokenId: decoder.eosTokenId,
      maxLength: decoder.maxLength,
      maxNewTokens,
      minNewTokens: Math.min(options.min_new_tokens, maxNewTokens),
      numBeams: options.num_beams,
      repetitionPenalty: options.repetition_penalty,
    };
    // Each step is a model-server call of its own: TRITON_TIMEOUT_MS bounds every one.
    const step = this.decodeStepFor({ imageEmbeds: embeds, deadline: ctx.deadline, callTimeoutMs: ctx.callTimeoutMs, requestId: ctx.requestId, signal: ctx.signal });
    // No step starts once the request's deadline has passed or its client has gone.
    const guarded: DecodeStep = {
      next: (request) => {
        throwIfRequestDeadlinePassed(ctx);
        return step.next(request);
      },
      end: () => step.end(),
    };
    let result;
    try {
      result = await generate(guarded, prefix, config);
    } finally {
      // Not awaited: the caption is answered while the decoder frees what it holds (a cached
      // decoder's sequence slot). A failure there changes nothing for this caption; the server
      // reclaims the slot after its idle time anyway.
      step.end().catch(() => undefined);
    }
    const generateMs = since(t2);
    // As Hugging Face's BLIP does, the caption includes the prompt it continues.
    const caption = tokenizer.decode([...prefix.slice(1), ...result.tokens]);
    return {
      caption,
      tokens: result.tokens.length,
      finishReason: result.finishReason,
      steps: result.steps,
      timingsMs: { preprocess, encode, generate: generateMs, total: since(t0) },
      decodeMs: preprocessMs.decode + preprocessMs.resize,
      ...(food ? { food } : {}),
    };
  }

  /** The caption encoder's image embeddings. */
  private async encode(pixelValues: Float32Array, ctx: CaptionContext): Promise<RawTensor> {
    const { encoder } = this.models;
    const out = await withCallDeadline(ctx, (deadline, signal) =>
      this.client.inferStreamed(encoder.model, imageInput(encoder.inputName, encoder.size, pixelValues), { deadline, signal, requestId: ctx.requestId }),
    );
    const embeds = [...out.values()][0];
    if (!embeds) throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${encoder.model}' returned no output`);
    return embeds;
  }

  /** One call to the food_caption ensemble: the top food class and the image embeddings. */
  private async encodeWithFood(pixelValues: Float32Array, ctx: CaptionContext): Promise<{ embeds: RawTensor; food: { label: string; confidence: number } }> {
    const spec = await this.models.foodCaption();
    const { encoder } = this.models;
    const out = await withCallDeadline(ctx, (deadline, signal) =>
      this.client.inferStreamed(spec.model, imageInput(spec.inputName, encoder.size, pixelValues), {
        deadline,
        signal,
        requestId: ctx.requestId,
        outputs: [{ name: spec.scoresOutput, classification: 1 }, { name: spec.embedsOutput }],
      }),
    );
    const scores = out.get(spec.scoresOutput);
    const embeds = out.get(spec.embedsOutput);
    const top = scores && parseClassification(scores.raw)[0];
    if (!top || !embeds) throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${spec.model}' did not return '${spec.scoresOutput}' and '${spec.embedsOutput}'`);
    return { embeds, food: { label: top.label, confidence: top.score } };
  }
}
