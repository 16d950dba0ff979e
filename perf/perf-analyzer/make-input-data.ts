/**
 * @module perf/perf-analyzer/make-input-data
 * Writes perf_analyzer `--input-data` files with real tensors, made the way the gateway makes
 * them, so a perf_analyzer run loads Triton as the gateway does:
 *  - caption_encoder, food_classifier, food_caption: `pixel_values` of generated food scenes
 *    (model-tools/scenes, JPEG at their generated sizes, as uploads arrive) through the gateway's
 *    own preprocessing (decodeToRgb, then writePixelValues) with each model's parameters read from
 *    its config.pbtxt (the ensemble gets the caption encoder's, as the gateway sends it);
 *  - caption_decoder: `image_embeds` from running the encoder ONNX in-process (onnxruntime-node)
 *    on those pixel values, and `input_ids`/`attention_mask` for real decode steps: the gateway's
 *    greedy loop runs on the decoder ONNX from the empty prompt or the food prompt template, and
 *    each entry takes a prefix of that run (at the start, a third, two thirds, the last step),
 *    right-padded to L by the gateway's decoderInputs.
 *
 * Format (perf_analyzer's, see shared reference 4c): `{"data": [ {<input>: {"content": [...],
 * "shape": [...]}, ...}, ... ]}`, one entry per batch-1 request, replayed round-robin, content
 * flat and row-major, shape without the batch dimension (perf_analyzer adds it for -b N).
 * FP32 values are written with the fewest digits that read back to the same float32.
 *
 * Usage: npm run perf:input-data [-- --entries 8 --repository model_repository --out perf/perf-analyzer/data]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { CaptionTokenizer, greedyDecode, scoreLogits } from '../../gateway/src/generation/index.js';
import { decodeToRgb } from '../../gateway/src/preprocess/decode-image.js';
import { writePixelValues } from '../../gateway/src/preprocess/pixel-values.js';
import { decoderInputs } from '../../gateway/src/triton/decoder-inputs.js';
import { classifierSpecOf, statelessDecoderSpecOf, foodCaptionSpecOf, type ImageSpec, imageSpecOf } from '../../gateway/src/triton/model-spec.js';
import { generateScene, renderScene, type Scene } from '../../model-tools/scenes/index.js';
import { loadModelConfig } from '../../modelserver/src/config/index.js';
import type { ModelConfig } from '../../proto/gen/model_config.js';

/** The gateway's default upload limits (MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE). */
const LIMITS = { maxPixels: 40_000_000, minSide: 8 };
/** Scenes FIRST_SEED, FIRST_SEED+1, …; apart from the k6 images' and the benchmarks' seeds. */
export const FIRST_SEED = 7_200_000;

/** One perf_analyzer input value: flat row-major content and the shape without the batch dimension. */
export interface InputValue {
  readonly content: number[];
  readonly shape: number[];
}
/** One request: every input of the model by name. */
export type InputEntry = Record<string, InputValue>;

/** The number with the fewest significant digits that is the same float32 as `x`. */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p < 9; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return Number(f.toPrecision(9)); // 9 significant digits always round-trip a float32
}

const floats = (a: Float32Array): number[] => Array.from(a, shortestFloat32);

/** The `--input-data` document: `{"data": [...]}`, one entry a line. */
export function inputDataJson(entries: readonly InputEntry[]): string {
  return `{"data": [\n${entries.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

async function config(repository: string, model: string): Promise<ModelConfig | undefined> {
  const dir = join(repository, model);
  if (!existsSync(join(dir, 'config.pbtxt'))) return undefined;
  return (await loadModelConfig(dir)).config;
}

async function required(repository: string, model: string): Promise<ModelConfig> {
  const c = await config(repository, model);
  if (c === undefined) throw new Error(`${join(repository, model, 'config.pbtxt')} not found`);
  return c;
}

/** `pixel_values` of `jpeg` for `spec`, by the gateway's decode and normalisation. */
async function pixelValues(jpeg: Buffer, spec: ImageSpec): Promise<Float32Array> {
  const { rgb } = await decodeToRgb(jpeg, spec, LIMITS);
  return writePixelValues(rgb, spec.size * spec.size, spec, new Float32Array(3 * spec.size * spec.size));
}

function onnxFile(repository: string, c: ModelConfig): string {
  return join(repository, c.name, '1', c.defaultModelFilename || 'model.onnx');
}

export interface MadeFile {
  readonly model: string;
  readonly file: string;
  readonly entries: number;
  readonly bytes: number;
}

/** Writes one file per model into `out`; `log` gets a line per decoder entry and the notes. */
export async function makeInputData(repository: string, out: string, count: number, log: (line: string) => void = console.log): Promise<MadeFile[]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`entries must be a positive integer, got ${count}`);
  const encoderConfig = await required(repository, 'caption_encoder');
  const decoderConfig = await required(repository, 'caption_decoder');
  const classifierConfig = await required(repository, 'food_classifier');
  const ensembleConfig = await config(repository, 'food_caption');
  const encoder = imageSpecOf(encoderConfig);
  const decoder = statelessDecoderSpecOf(decoderConfig);
  const classifier = classifierSpecOf(classifierConfig);

  const scenes: Scene[] = Array.from({ length: count }, (_, i) => generateScene(FIRST_SEED + i));
  const jpegs = await Promise.all(scenes.map((s) => renderScene(s, 'jpeg')));
  const encoderPixels = await Promise.all(jpegs.map((j) => pixelValues(j, encoder)));
  const classifierPixels = await Promise.all(jpegs.map((j) => pixelValues(j, classifier.image)));
  const imageShape = (spec: ImageSpec) => [3, spec.size, spec.size];

  const files: Array<{ model: string; entries: InputEntry[] }> = [
    { model: encoder.model, entries: encoderPixels.map((p) => ({ [encoder.inputName]: { content: floats(p), shape: imageShape(encoder) } })) },
    { model: classifier.model, entries: classifierPixels.map((p) => ({ [classifier.image.inputName]: { content: floats(p), shape: imageShape(classifier.image) } })) },
  ];
  if (ensembleConfig !== undefined) {
    // The gateway preprocesses once, with the encoder's parameters, and sends that to the ensemble.
    const ensemble = foodCaptionSpecOf(ensembleConfig, encoder);
    files.push({ model: ensemble.model, entries: encoderPixels.map((p) => ({ [ensemble.inputName]: { content: floats(p), shape: imageShape(encoder) } })) });
  } else {
    log(`note: ${join(repository, 'food_caption', 'config.pbtxt')} not found: no input data for food_caption (run again once it exists)`);
  }

  // ---- decoder: real image embeddings and real decode steps ----
  const session: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const [encoderSession, decoderSession] = await Promise.all([
    ort.InferenceSession.create(onnxFile(repository, encoderConfig), session),
    ort.InferenceSession.create(onnxFile(repository, decoderConfig), session),
  ]);
  try {
    const n = 3 * encoder.size * encoder.size;
    const batch = new Float32Array(count * n);
    encoderPixels.forEach((p, i) => batch.set(p, i * n));
    const embeds = (await encoderSession.run({ [encoder.inputName]: new ort.Tensor('float32', batch, [count, ...imageShape(encoder)]) }))['image_embeds']!;
    const [, tokens, hidden] = embeds.dims as [number, number, number];
    if (tokens !== decoder.embedsShape[0] || hidden !== decoder.embedsShape[1]) {
      throw new Error(`encoder image_embeds [${tokens},${hidden}] do not fit the decoder's [${decoder.embedsShape.join(',')}]`);
    }
    const tokenizer = CaptionTokenizer.fromJson(
      JSON.parse(readFileSync(join(repository, decoder.model, decoder.tokenizerFile), 'utf8')) as object,
      decoder.bosTokenId,
    );
    const L = decoder.maxLength;
    const entries: InputEntry[] = [];
    for (let i = 0; i < count; i++) {
      const image = (embeds.data as Float32Array).subarray(i * tokens * hidden, (i + 1) * tokens * hidden);
      const step = async (sequences: ReadonlyArray<readonly number[]>) => {
        const { inputIds, attentionMask } = decoderInputs(sequences, L, decoder.padTokenId);
        const images = new Float32Array(sequences.length * image.length);
        sequences.forEach((_, k) => images.set(image, k * image.length));
        const res = await decoderSession.run({
          input_ids: new ort.Tensor('int64', inputIds, [sequences.length, L]),
          attention_mask: new ort.Tensor('int64', attentionMask, [sequences.length, L]),
          image_embeds: new ort.Tensor('float32', images, [sequences.length, tokens, hidden]),
        });
        const logits = res['logits']!.data as Float32Array;
        return sequences.map((_, k) => logits.slice(k * decoder.vocabSize, (k + 1) * decoder.vocabSize));
      };
      // Half the entries caption from the default prompt, half continue the food prompt (?food=true).
      const prompt = i % 2 === 0 ? decoder.defaultPrompt : decoder.promptTemplate.replace('{label}', scenes[i]!.label);
      const prefix = tokenizer.prefix(prompt);
      const result = await greedyDecode(scoreLogits(step, decoder.eosTokenId), prefix, {
        bosTokenId: decoder.bosTokenId,
        eosTokenId: decoder.eosTokenId,
        maxLength: L,
        maxNewTokens: decoder.maxNewTokens,
        minNewTokens: 0,
        numBeams: 1,
        repetitionPenalty: 1,
      });
      // The sequence the decoder saw at one of its steps: the start, a third, two thirds, the last.
      const taken = Math.round((((i >> 1) % 4) / 3) * result.tokens.length);
      const sequence = [...prefix, ...result.tokens.slice(0, Math.min(taken, result.tokens.length))].slice(0, L);
      const { inputIds, attentionMask } = decoderInputs([sequence], L, decoder.padTokenId);
      entries.push({
        input_ids: { content: Array.from(inputIds, Number), shape: [L] },
        attention_mask: { content: Array.from(attentionMask, Number), shape: [L] },
        image_embeds: { content: floats(image), shape: [tokens, hidden] },
      });
      log(`decoder entry ${i}: ${sequence.length}/${L} tokens, '${tokenizer.decode(sequence)}' (full: '${tokenizer.decode([...prefix, ...result.tokens])}')`);
    }
    files.splice(1, 0, { model: decoder.model, entries });
  } finally {
    await Promise.all([encoderSession.release(), decoderSession.release()]);
  }

  mkdirSync(out, { recursive: true });
  return files.map(({ model, entries }) => {
    const file = join(out, `${model}.json`);
    const text = inputDataJson(entries);
    writeFileSync(file, text);
    return { model, file, entries: entries.length, bytes: Buffer.byteLength(text) };
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '8' },
      repository: { type: 'string', default: 'model_repository' },
      out: { type: 'string', default: 'perf/perf-analyzer/data' },
    },
  });
  const made = await makeInputData(values.repository!, values.out!, Number(values.entries));
  for (const m of made) console.log(`${m.file}: ${m.entries} entries, ${(m.bytes / 1024).toFixed(0)} KiB`);
  console.log(`total ${(made.reduce((a, m) => a + m.bytes, 0) / 1024 / 1024).toFixed(2)} MiB`);
}
