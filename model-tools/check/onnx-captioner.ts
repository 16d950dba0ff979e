/**
 * @module model-tools/check/onnx-captioner
 * The committed caption encoder, decoder and food classifier run in-process on ONNX Runtime,
 * with the same preprocessing, tokenizer and decode loop the gateway uses, the settings read from
 * the models' config.pbtxt, and the embedded model server's session options (thread counts, no
 * spinning). Used by the evaluation, the parity check, the tests and the gateway benchmark.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CaptionTokenizer, type DecodeStep, type LogitsStep, scoreLogits } from '../../gateway/src/generation/index.js';
import { writePixelValues } from '../../gateway/src/preprocess/pixel-values.js';
import { decoderInputs } from '../../gateway/src/triton/decoder-inputs.js';
import { statelessDecoderSpecOf, type StatelessDecoderSpec, imageSpecOf, type ImageSpec } from '../../gateway/src/triton/model-spec.js';
import { intraOpThreadsOf, onnxSessionOptions } from '../../modelserver/src/backend/session-options.js';
import { normaliseModelConfig, parseModelConfigText } from '../../modelserver/src/config/index.js';
import type { ModelConfig } from '../../proto/gen/model_config.js';

export function readConfig(repository: string, model: string): ModelConfig {
  const file = join(repository, model, 'config.pbtxt');
  return parseModelConfigText(readFileSync(file, 'utf8'), file);
}

export class OnnxCaptioner {
  private constructor(
    readonly image: ImageSpec,
    readonly decoder: StatelessDecoderSpec,
    readonly tokenizer: CaptionTokenizer,
    readonly encoderSession: ort.InferenceSession,
    readonly decoderSession: ort.InferenceSession,
    readonly classifierSession: ort.InferenceSession,
    readonly labels: string[],
  ) {}

  static async load(repository: string): Promise<OnnxCaptioner> {
    const models = ['caption_encoder', 'caption_decoder', 'food_classifier'] as const;
    // Each readConfig runs protoc once; each config is read once.
    const [encoderConfig, decoderConfig, classifierConfig] = models.map((m) => readConfig(repository, m)) as [ModelConfig, ModelConfig, ModelConfig];
    const image = imageSpecOf(encoderConfig);
    const decoder = statelessDecoderSpecOf(decoderConfig);
    const tokenizer = CaptionTokenizer.fromJson(
      JSON.parse(readFileSync(join(repository, 'caption_decoder', decoder.tokenizerFile), 'utf8')),
      decoder.bosTokenId,
    );
    // Each session runs as the embedded model server runs it: same thread count, no spinning.
    const [enc, dec, cls] = await Promise.all(
      [encoderConfig, decoderConfig, classifierConfig].map((config, i) => {
        const threads = intraOpThreadsOf(normaliseModelConfig(config, models[i]!));
        return ort.InferenceSession.create(join(repository, models[i]!, '1', 'model.onnx'), onnxSessionOptions(threads));
      }),
    );
    const labels = readFileSync(join(repository, 'food_classifier', 'labels.txt'), 'utf8').trim().split('\n');
    return new OnnxCaptioner(image, decoder, tokenizer, enc!, dec!, cls!, labels);
  }

  /** `pixel_values` for RGB images already resized to the model's size. */
  pixelValues(rgbImages: readonly Uint8Array[]): ort.Tensor {
    const s = this.image.size;
    const out = new Float32Array(rgbImages.length * 3 * s * s);
    rgbImages.forEach((rgb, i) => writePixelValues(rgb, s * s, this.image, out, i));
    return new ort.Tensor('float32', out, [rgbImages.length, 3, s, s]);
  }

  async encode(pixelValues: ort.Tensor): Promise<ort.Tensor> {
    return (await this.encoderSession.run({ [this.image.inputName]: pixelValues }))['image_embeds']!;
  }

  /** Class probabilities per image, [batch][classes]. */
  async classify(pixelValues: ort.Tensor): Promise<Float32Array[]> {
    const probs = (await this.classifierSession.run({ pixel_values: pixelValues }))['probabilities']!;
    const n = probs.dims[1]!;
    const data = probs.data as Float32Array;
    return Array.from({ length: probs.dims[0]! }, (_, i) => data.subarray(i * n, (i + 1) * n));
  }

  /** {@link stepFor} as the decode loop calls it, scored in the gateway as the stateless decoder is. */
  decodeStepFor(embeds: ort.Tensor, index: number): DecodeStep {
    return scoreLogits(this.stepFor(embeds, index), this.decoder.eosTokenId);
  }

  /** A decode step bound to image `index` of `embeds`: pads to L, masks, runs the decoder. */
  stepFor(embeds: ort.Tensor, index: number): LogitsStep {
    const [, tokens, hidden] = embeds.dims as [number, number, number];
    const row = (embeds.data as Float32Array).subarray(index * tokens * hidden, (index + 1) * tokens * hidden);
    const L = this.decoder.maxLength;
    return async (sequences) => {
      const n = sequences.length;
      const { inputIds, attentionMask } = decoderInputs(sequences, L, this.decoder.padTokenId);
      const image = new Float32Array(n * tokens * hidden);
      for (let i = 0; i < n; i++) image.set(row, i * tokens * hidden);
      const out = await this.decoderSession.run({
        input_ids: new ort.Tensor('int64', inputIds, [n, L]),
        attention_mask: new ort.Tensor('int64', attentionMask, [n, L]),
        image_embeds: new ort.Tensor('float32', image, [n, tokens, hidden]),
      });
      const logits = out['logits']!.data as Float32Array;
      const v = this.decoder.vocabSize;
      return sequences.map((_, i) => logits.slice(i * v, (i + 1) * v));
    };
  }
}
