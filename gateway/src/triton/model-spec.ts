/**
 * @module triton/model-spec
 * What the gateway needs to know about a model, read from its ModelConfig (the config.pbtxt
 * `parameters` and tensor declarations) rather than from code: preprocessing for image models,
 * token ids and lengths for the caption decoder. The same reader serves demo and real models.
 */
import { z } from 'zod';
import type { ModelConfig } from '../../../proto/gen/model_config.js';

const numberList = (n: number) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .refine((xs) => xs.length === n && xs.every(Number.isFinite), `expected ${n} comma-separated numbers`);

const intString = z.coerce.number().int().nonnegative();

const ImageParameters = z.object({
  image_size: z.coerce.number().int().positive(),
  resize_mode: z.enum(['squash']).default('squash'),
  resample: z.enum(['bicubic', 'bilinear', 'nearest']).default('bicubic'),
  rescale_factor: z.coerce.number().positive().default(1 / 255),
  image_mean: numberList(3),
  image_std: numberList(3),
});

const DecoderParameters = z.object({
  tokenizer: z.string().min(1).default('tokenizer.json'),
  max_length: intString,
  bos_token_id: intString,
  eos_token_id: intString,
  pad_token_id: intString,
  default_prompt: z.string().default(''),
  prompt_template: z.string().default('a photo of {label},'),
  max_new_tokens: intString.default(20),
});

export interface ImageSpec {
  readonly model: string;
  /** The image input's name (the model's only FP32 [3,S,S] input). */
  readonly inputName: string;
  readonly size: number;
  readonly resizeMode: 'squash';
  readonly resample: 'bicubic' | 'bilinear' | 'nearest';
  readonly rescaleFactor: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

export interface DecoderSpec {
  readonly model: string;
  readonly tokenizerFile: string;
  readonly maxLength: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly defaultPrompt: string;
  readonly promptTemplate: string;
  readonly maxNewTokens: number;
  /** Vocabulary size: the logits output's last dimension. */
  readonly vocabSize: number;
}

function parametersOf(config: ModelConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(config.parameters).map(([k, v]) => [k, v.stringValue]));
}

function parse<T>(schema: z.ZodType<T>, config: ModelConfig): T {
  const result = schema.safeParse(parametersOf(config));
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`model '${config.name}' has unusable parameters: ${issues}`);
  }
  return result.data;
}

/** Preprocessing for an image model, from its parameters and its FP32 [3,S,S] input. */
export function imageSpecOf(config: ModelConfig): ImageSpec {
  const p = parse(ImageParameters, config);
  const input = config.input.find((i) => i.dims.length === 3 && Number(i.dims[0]) === 3);
  if (!input) throw new Error(`model '${config.name}' has no image input of dims [3, H, W]`);
  if (Number(input.dims[1]) !== p.image_size || Number(input.dims[2]) !== p.image_size) {
    throw new Error(`model '${config.name}': image_size ${p.image_size} disagrees with input dims [${input.dims.join(',')}]`);
  }
  return {
    model: config.name,
    inputName: input.name,
    size: p.image_size,
    resizeMode: p.resize_mode,
    resample: p.resample,
    rescaleFactor: p.rescale_factor,
    mean: p.image_mean as [number, number, number],
    std: p.image_std as [number, number, number],
  };
}

/** Token ids and lengths for the caption decoder. */
export function decoderSpecOf(config: ModelConfig): DecoderSpec {
  const p = parse(DecoderParameters, config);
  const logits = config.output.find((o) => o.name === 'logits');
  if (!logits || logits.dims.length !== 1) throw new Error(`model '${config.name}' has no 'logits' output of dims [V]`);
  const ids = config.input.find((i) => i.name === 'input_ids');
  if (!ids || Number(ids.dims[0]) !== p.max_length) {
    throw new Error(`model '${config.name}': max_length ${p.max_length} disagrees with input_ids dims`);
  }
  return {
    model: config.name,
    tokenizerFile: p.tokenizer,
    maxLength: p.max_length,
    bosTokenId: p.bos_token_id,
    eosTokenId: p.eos_token_id,
    padTokenId: p.pad_token_id,
    defaultPrompt: p.default_prompt,
    promptTemplate: p.prompt_template,
    maxNewTokens: p.max_new_tokens,
    vocabSize: Number(logits.dims[0]),
  };
}
