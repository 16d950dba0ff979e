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
  /** Vocabulary size: the logits output's last dimension; undefined for the cached decoder, which ranks tokens itself. */
  readonly vocabSize: number | undefined;
  /** Most sequences one request may carry (the config's max_batch_size). */
  readonly maxBatchSize: number;
  /** [N, D] of one image's `image_embeds`. */
  readonly embedsShape: readonly [number, number];
  /**
   * How a step runs: `stateless`, the whole prefix and the image every step and logits back;
   * `cached`, a Triton sequence whose state the server keeps (model-tools/cached-decoder.md),
   * one token per beam up and the best `candidates` tokens of each beam back.
   */
  readonly stepping: { readonly kind: 'stateless' } | { readonly kind: 'cached'; readonly candidates: number };
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

/** Token ids and lengths for the caption decoder, stateless or cached (chosen by its config). */
export function decoderSpecOf(config: ModelConfig): DecoderSpec {
  const p = parse(DecoderParameters, config);
  // Decode steps of concurrent captions are batched (by the gateway or the sequence batcher).
  if (config.maxBatchSize <= 0) throw new Error(`model '${config.name}' needs max_batch_size > 0 (decode steps are batched)`);
  const common = {
    model: config.name,
    tokenizerFile: p.tokenizer,
    maxLength: p.max_length,
    bosTokenId: p.bos_token_id,
    eosTokenId: p.eos_token_id,
    padTokenId: p.pad_token_id,
    defaultPrompt: p.default_prompt,
    promptTemplate: p.prompt_template,
    maxNewTokens: p.max_new_tokens,
    maxBatchSize: config.maxBatchSize,
  };
  return config.sequenceBatching?.state.length ? { ...common, ...cachedDecoderSpec(config, p.max_length) } : { ...common, ...statelessDecoderSpec(config, p.max_length) };
}

function statelessDecoderSpec(config: ModelConfig, maxLength: number): Pick<DecoderSpec, 'vocabSize' | 'embedsShape' | 'stepping'> {
  const logits = config.output.find((o) => o.name === 'logits');
  if (!logits || logits.dims.length !== 1) throw new Error(`model '${config.name}' has no 'logits' output of dims [V]`);
  const ids = config.input.find((i) => i.name === 'input_ids');
  if (!ids || Number(ids.dims[0]) !== maxLength) {
    throw new Error(`model '${config.name}': max_length ${maxLength} disagrees with input_ids dims`);
  }
  const embeds = config.input.find((i) => i.name === 'image_embeds');
  if (!embeds || embeds.dims.length !== 2 || embeds.dims.some((d) => Number(d) <= 0)) {
    throw new Error(`model '${config.name}' has no 'image_embeds' input of fixed dims [N, D]`);
  }
  return { vocabSize: Number(logits.dims[0]), embedsShape: [Number(embeds.dims[0]), Number(embeds.dims[1])], stepping: { kind: 'stateless' } };
}

/** A stateless decoder's spec: its vocabulary is known (the logits' dimension). */
export type StatelessDecoderSpec = DecoderSpec & { readonly vocabSize: number; readonly stepping: { readonly kind: 'stateless' } };

export function isStateless(spec: DecoderSpec): spec is StatelessDecoderSpec {
  return spec.stepping.kind === 'stateless';
}

/** {@link decoderSpecOf} for tools that run the stateless decoder themselves; throws for a cached one. */
export function statelessDecoderSpecOf(config: ModelConfig): StatelessDecoderSpec {
  const spec = decoderSpecOf(config);
  if (!isStateless(spec)) throw new Error(`model '${config.name}' is a cached decoder (sequence batching); this needs the stateless one`);
  return spec;
}

/** The tensors model-tools/cached-decoder.md names, each checked, so a wrong export fails at start-up. */
const CACHED_INPUTS = ['input_ids', 'beam_idx', 'image_embeds', 'repetition_penalty', 'suppress_eos', 'normalize_scores'] as const;

function cachedDecoderSpec(config: ModelConfig, maxLength: number): Pick<DecoderSpec, 'vocabSize' | 'embedsShape' | 'stepping'> {
  const batching = config.sequenceBatching!;
  const fail = (what: string): never => {
    throw new Error(`model '${config.name}' (sequence batching with state, model-tools/cached-decoder.md): ${what}`);
  };
  for (const name of CACHED_INPUTS) if (!config.input.some((i) => i.name === name)) fail(`no input '${name}'`);
  const topIds = config.output.find((o) => o.name === 'top_ids');
  const candidates = topIds?.dims.length === 2 ? Number(topIds.dims[1]) : NaN;
  if (!(candidates > 0)) fail("no output 'top_ids' of dims [-1, K]");
  for (const name of ['top_scores', 'log_normalizer']) if (!config.output.some((o) => o.name === name)) fail(`no output '${name}'`);
  const image = batching.state.find((s) => s.inputName === 'past_image');
  if (!image || image.dims.length !== 2 || image.dims.some((d) => Number(d) <= 0)) fail("no state 'past_image' of fixed dims [N, D]");
  const tokens = batching.state.find((s) => s.inputName === 'past_tokens');
  if (!tokens || Number(tokens.dims[1]) !== maxLength) fail(`state 'past_tokens' does not hold max_length ${maxLength} tokens`);
  return { vocabSize: undefined, embedsShape: [Number(image!.dims[0]), Number(image!.dims[1])], stepping: { kind: 'cached', candidates } };
}

/** The food classifier: its preprocessing and which output is which. */
export interface ClassifierSpec {
  readonly model: string;
  readonly image: ImageSpec;
  /** The class-score output (the one with a `label_filename`), [C]. */
  readonly scoresOutput: string;
  readonly classes: number;
  /** The image-embedding output, [E]. */
  readonly embeddingOutput: string;
}

/** The food_caption ensemble: one image in, the food class and the caption encoder's embeddings out. */
export interface FoodCaptionSpec {
  readonly model: string;
  readonly inputName: string;
  /** The class-score output (with a `label_filename`), asked for through classification. */
  readonly scoresOutput: string;
  /** The image embeddings output, [N, D] as the caption encoder's. */
  readonly embedsOutput: string;
}

function labelledOutput(config: ModelConfig): string {
  const scores = config.output.filter((o) => o.labelFilename !== '' && o.dims.length === 1);
  if (scores.length !== 1) throw new Error(`model '${config.name}' needs exactly one [C] output with a label_filename, has ${scores.length}`);
  return scores[0]!.name;
}

function requireBatching(config: ModelConfig): void {
  if (config.maxBatchSize <= 0) throw new Error(`model '${config.name}' needs max_batch_size > 0 (the gateway sends a batch dimension)`);
}

/** Preprocessing and outputs of a classifier with `probabilities` (labelled) and `embedding`. */
export function classifierSpecOf(config: ModelConfig): ClassifierSpec {
  requireBatching(config);
  const scoresOutput = labelledOutput(config);
  const embedding = config.output.find((o) => o.name !== scoresOutput && o.dims.length === 1);
  if (!embedding) throw new Error(`model '${config.name}' has no [E] embedding output beside '${scoresOutput}'`);
  return {
    model: config.name,
    image: imageSpecOf(config),
    scoresOutput,
    classes: Number(config.output.find((o) => o.name === scoresOutput)!.dims[0]),
    embeddingOutput: embedding.name,
  };
}

/**
 * The ensemble's tensors, checked against the caption encoder it feeds: its image input must be
 * the encoder's [3,S,S] (the gateway preprocesses once, with the encoder's parameters).
 */
export function foodCaptionSpecOf(config: ModelConfig, encoder: ImageSpec): FoodCaptionSpec {
  requireBatching(config);
  const input = config.input.find((i) => i.dims.length === 3 && i.dims.map(Number).join() === [3, encoder.size, encoder.size].join());
  if (!input) throw new Error(`model '${config.name}' has no [3,${encoder.size},${encoder.size}] input matching '${encoder.model}'`);
  const embeds = config.output.find((o) => o.dims.length === 2);
  if (!embeds) throw new Error(`model '${config.name}' has no [N,D] image embeddings output`);
  return { model: config.name, inputName: input.name, scoresOutput: labelledOutput(config), embedsOutput: embeds.name };
}
