/**
 * @module captioning/caption-service
 * One caption, start to finish, in request order: preprocess the upload with the encoder's own
 * parameters, run the encoder on the model server, run the decode loop against the decoder on the
 * model server, turn tokens into text. Every stage is timed for Server-Timing.
 */
import { GatewayError } from '../errors/index.js';
import { type CaptionTokenizer, generate, type GenerationConfig } from '../generation/index.js';
import { type ImageLimits, preprocessImage } from '../preprocess/index.js';
import type { TritonClient } from '../triton/client.js';
import { tritonDecodeStep } from '../triton/decode-step.js';
import type { DecoderSpec, ImageSpec } from '../triton/model-spec.js';
import type { CaptionOptions } from '../validation/index.js';

export interface CaptionModels {
  readonly encoder: ImageSpec;
  readonly decoder: DecoderSpec;
  readonly tokenizer: CaptionTokenizer;
}

export interface CaptionContext {
  readonly requestId: string;
  /** Absolute deadline (ms since epoch) for the whole caption. */
  readonly deadline: number;
  /** Deadline of each model-server call, ms; capped by `deadline`. */
  readonly callTimeoutMs: number;
}

export interface CaptionResult {
  readonly caption: string;
  readonly tokens: number;
  readonly finishReason: 'eos' | 'length';
  readonly timingsMs: { preprocess: number; encode: number; generate: number; total: number };
  readonly steps: number;
}

const since = (t0: number) => performance.now() - t0;

export class CaptionService {
  constructor(
    private readonly client: TritonClient,
    readonly models: CaptionModels,
    private readonly limits: ImageLimits,
  ) {}

  private callDeadline(ctx: CaptionContext): number {
    if (Date.now() >= ctx.deadline) throw new GatewayError('GW_ERR_DEADLINE', 'the request deadline passed before the caption was complete');
    return Math.min(ctx.deadline, Date.now() + ctx.callTimeoutMs);
  }

  async caption(image: Uint8Array, options: CaptionOptions, ctx: CaptionContext, promptOverride?: string): Promise<CaptionResult> {
    const { encoder, decoder, tokenizer } = this.models;
    const t0 = performance.now();
    const { pixelValues } = await preprocessImage(image, encoder, this.limits);
    const preprocess = since(t0);

    const t1 = performance.now();
    const size = encoder.size;
    const out = await this.client.infer(
      encoder.model,
      { [encoder.inputName]: { datatype: 'FP32', shape: [1, 3, size, size], raw: new Uint8Array(pixelValues.buffer, pixelValues.byteOffset, pixelValues.byteLength) } },
      { deadline: this.callDeadline(ctx), requestId: ctx.requestId },
    );
    const embeds = [...out.values()][0];
    if (!embeds) throw new GatewayError('GW_ERR_TRITON_INTERNAL', `model '${encoder.model}' returned no output`);
    const encode = since(t1);

    const t2 = performance.now();
    const prompt = promptOverride ?? options.prompt ?? decoder.defaultPrompt;
    const prefix = tokenizer.prefix(prompt);
    const maxNewTokens = options.max_new_tokens ?? decoder.maxNewTokens;
    if (prefix.length >= decoder.maxLength) {
      throw new GatewayError('GW_ERR_OPTION_INVALID', `prompt is ${prefix.length - 1} tokens; the decoder holds ${decoder.maxLength - 1} at most including the caption`);
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
    const step = tritonDecodeStep(this.client, decoder, { imageEmbeds: embeds, deadline: ctx.deadline, requestId: ctx.requestId });
    const guarded: typeof step = (sequences) => {
      this.callDeadline(ctx);
      return step(sequences);
    };
    const result = await generate(guarded, prefix, config);
    const generateMs = since(t2);
    // As Hugging Face's BLIP does, the caption includes the prompt it continues.
    const caption = tokenizer.decode([...prefix.slice(1), ...result.tokens]);
    return {
      caption,
      tokens: result.tokens.length,
      finishReason: result.finishReason,
      steps: result.steps,
      timingsMs: { preprocess, encode, generate: generateMs, total: since(t0) },
    };
  }
}
