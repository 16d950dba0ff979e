/**
 * @module model-tools/export/check-gateway-captions
 * Replays export_blip.py's captions through a real gateway over the exported repository and
 * requires, token for token, what transformers' generate() produced (greedy and beam search,
 * with and without a prompt). The gateway runs as in production (startGateway: the embedded
 * model server on the repository, or with --triton the real tritonserver of triton-harness/), and
 * every caption is checked twice, all captions at once so that their decoder steps batch together:
 *
 *  1. token ids: the gateway's own pieces over its gRPC client — specs from ModelConfig,
 *     CaptionTokenizer on tokenizer.json, the encoder called as CaptionService does, `generate`
 *     (greedy or beam search) over DecoderStepBatcher — on transformers' pixel_values rows of
 *     <parity>/caption_encoder.json; ids and decoded text must equal transformers';
 *  2. HTTP: POST /caption with the S x S picture export_blip.py saved (<parity>/images/), so the
 *     gateway also decodes and preprocesses it itself; caption, token count and finish reason
 *     must equal transformers'. The gateway's pixel_values of that file are compared with
 *     transformers' for information (a difference there would explain an HTTP-only mismatch).
 *
 *  3. when the repository has caption_decoder_cached (model-tools/cached-decoder.md): POST
 *     /caption again through a second gateway whose CAPTION_DECODER_MODEL is the cached decoder,
 *     over the same model server, so the server's sequence batcher and state carry every
 *     caption; the same comparison, reported on its own line.
 *
 * `--generation FILE` (in the parity folder) replays another set of captions in the same format:
 * tests/hf_option_captions.py writes caption_options.json, whose captions also carry the options
 * they were generated with (max_new_tokens, min_new_tokens, repetition_penalty, sent as form
 * fields) and name their pixel file.
 *
 * Exit 0 when every caption matches, 1 otherwise, 2 on bad arguments.
 * Usage: tsx model-tools/export/check-gateway-captions.ts --repo OUT --parity OUT-parity [--triton] [--generation FILE]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../gateway/src/config/index.js';
import { CaptionTokenizer, generate, scoreLogits } from '../../gateway/src/generation/index.js';
import { startGateway } from '../../gateway/src/main.js';
import { preprocessImage } from '../../gateway/src/preprocess/index.js';
import type { RawTensor } from '../../gateway/src/triton/client.js';
import { DecoderStepBatcher } from '../../gateway/src/triton/decode-step.js';
import { imageInput } from '../../gateway/src/triton/image-input.js';
import { statelessDecoderSpecOf, imageSpecOf } from '../../gateway/src/triton/model-spec.js';
import { type RunningTriton, startTriton } from '../../triton-harness/start-triton.js';

interface Caption {
  readonly image: string;
  readonly image_file: string;
  readonly pixel_row: number;
  readonly prompt: string;
  readonly num_beams: number;
  readonly transformers_ids: number[];
  readonly transformers_text: string;
  readonly transformers_caption: string;
  readonly transformers_tokens: number;
  readonly transformers_finish: 'eos' | 'length';
  /** Options other than num_beams (caption_options.json): absent = transformers' defaults. */
  readonly max_new_tokens?: number;
  readonly min_new_tokens?: number;
  readonly repetition_penalty?: number;
}

interface Generation {
  readonly hf_max_length: number;
  /** The file of pixel_values rows the captions' pixel_row index; default caption_encoder.json. */
  readonly pixel_file?: string;
  readonly captions: Caption[];
}

interface TensorRecord {
  readonly shape: number[];
  readonly b64: string;
}

interface CaptionResponse {
  readonly caption: string;
  readonly tokens: number;
  readonly finish_reason: string;
}

const { values } = parseArgs({
  options: { repo: { type: 'string' }, parity: { type: 'string' }, triton: { type: 'boolean', default: false }, generation: { type: 'string', default: 'caption_generation.json' } },
});
if (!values.repo || !values.parity) {
  console.error('usage: tsx model-tools/export/check-gateway-captions.ts --repo OUT --parity OUT-parity [--triton] [--generation FILE]');
  process.exit(2);
}
const repo = resolve(values.repo);
const parity = resolve(values.parity);
const generation = JSON.parse(readFileSync(join(parity, values.generation), 'utf8')) as Generation;
const pixels = (JSON.parse(readFileSync(join(parity, generation.pixel_file ?? 'caption_encoder.json'), 'utf8')) as { inputs: Record<string, TensorRecord> }).inputs['pixel_values']!;
const pixelRows = new Float32Array(new Uint8Array(Buffer.from(pixels.b64, 'base64')).buffer);

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((t, i) => t === b[i]);
const limits = { maxPixels: 40_000_000, minSide: 8 };

let triton: RunningTriton | undefined;
// The exported repository has no food_classifier, so Triton cannot load the food_caption ensemble;
// captions do not use it, so Triton must not exit over it.
if (values.triton) triton = await startTriton({ modelRepository: repo, args: ['--exit-on-error=false', '--strict-readiness=false'] });
// Deadlines far above production's: all captions are sent at once, and at BLIP-base's scale on a
// few CPU cores their encoder and decoder calls queue for longer than the 10 s call default.
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  MODEL_REPOSITORY: repo,
  LOG_LEVEL: 'silent',
  TRITON_TIMEOUT_MS: '600000',
  REQUEST_TIMEOUT_MS: '600000',
  ...(triton ? { TRITON_URL: triton.address } : {}),
});
const gateway = await startGateway(config).catch(async (err: unknown) => {
  await triton?.stop();
  throw err;
});
const CACHED_DECODER = 'caption_decoder_cached';
const cachedGateway = existsSync(join(repo, CACHED_DECODER, 'config.pbtxt'))
  ? await startGateway({ ...config, CAPTION_DECODER_MODEL: CACHED_DECODER, TRITON_URL: triton?.address ?? gateway.modelServer!.address }).catch(async (err: unknown) => {
      await gateway.stop();
      await triton?.stop();
      throw err;
    })
  : undefined;
let failed = 0;
try {
  const { client } = gateway;
  const deadline = () => Date.now() + 600_000;
  const encoder = imageSpecOf(await client.modelConfig(config.CAPTION_ENCODER_MODEL, deadline()));
  const decoder = statelessDecoderSpecOf(await client.modelConfig(config.CAPTION_DECODER_MODEL, deadline()));
  const tokenizer = CaptionTokenizer.fromJson(JSON.parse(readFileSync(join(repo, decoder.model, decoder.tokenizerFile), 'utf8')), decoder.bosTokenId);
  const steps = new DecoderStepBatcher(client, decoder);
  const rowFloats = 3 * encoder.size * encoder.size;
  const rowOf = (row: number) => pixelRows.subarray(row * rowFloats, (row + 1) * rowFloats);
  const embeds = new Map<number, Promise<RawTensor>>();
  const encode = (row: number) =>
    client.inferStreamed(encoder.model, imageInput(encoder.inputName, encoder.size, rowOf(row)), { deadline: deadline() }).then((out) => [...out.values()][0]!);
  const budgetOf = (c: Caption, prefixLength: number) => {
    if (c.max_new_tokens !== undefined) return c.max_new_tokens;
    // transformers' max_length counts the whole decoder sequence, [DEC] and prompt included.
    const budget = generation.hf_max_length - prefixLength;
    if (budget < 1) throw new Error(`prompt ${JSON.stringify(c.prompt)} leaves no token of transformers' max_length ${generation.hf_max_length}`);
    return budget;
  };

  /** Path 1: the gateway's decode loop over its gRPC client; token ids compared. */
  async function viaClient(c: Caption): Promise<string[]> {
    if (!embeds.has(c.pixel_row)) embeds.set(c.pixel_row, encode(c.pixel_row));
    const prefix = tokenizer.prefix(c.prompt);
    const step = steps.stepFor({ imageEmbeds: await embeds.get(c.pixel_row)!, deadline: deadline() });
    const result = await generate(scoreLogits(step, decoder.eosTokenId), prefix, {
      bosTokenId: decoder.bosTokenId,
      eosTokenId: decoder.eosTokenId,
      maxLength: decoder.maxLength,
      maxNewTokens: budgetOf(c, prefix.length),
      minNewTokens: c.min_new_tokens ?? 0,
      numBeams: c.num_beams,
      repetitionPenalty: c.repetition_penalty ?? 1,
    });
    const ids = [...prefix, ...result.tokens, ...(result.finishReason === 'eos' ? [decoder.eosTokenId] : [])];
    const text = tokenizer.decode(result.tokens);
    const problems: string[] = [];
    if (!sameIds(ids, c.transformers_ids)) problems.push(`ids: transformers ${JSON.stringify(c.transformers_ids)}\n          gateway      ${JSON.stringify(ids)}`);
    if (text !== c.transformers_text) problems.push(`text: transformers ${JSON.stringify(c.transformers_text)}, gateway ${JSON.stringify(text)}`);
    return problems;
  }

  /** Path 2: POST /caption with the picture; caption, token count and finish reason compared. */
  const viaHttp = (c: Caption) => viaHttpOf(gateway.url, c);

  async function viaHttpOf(url: string, c: Caption): Promise<string[]> {
    const png = readFileSync(join(parity, c.image_file));
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'image.png');
    form.append('num_beams', String(c.num_beams));
    form.append('max_new_tokens', String(budgetOf(c, tokenizer.prefix(c.prompt).length)));
    if (c.prompt) form.append('prompt', c.prompt);
    if (c.min_new_tokens !== undefined) form.append('min_new_tokens', String(c.min_new_tokens));
    if (c.repetition_penalty !== undefined) form.append('repetition_penalty', String(c.repetition_penalty));
    const res = await fetch(`${url}/caption`, { method: 'POST', body: form });
    const body = await res.text();
    if (res.status !== 200) return [`HTTP ${res.status}: ${body}`];
    const got = JSON.parse(body) as CaptionResponse;
    const want = { caption: c.transformers_caption, tokens: c.transformers_tokens, finish_reason: c.transformers_finish };
    const seen = { caption: got.caption, tokens: got.tokens, finish_reason: got.finish_reason };
    return JSON.stringify(seen) === JSON.stringify(want) ? [] : [`HTTP: transformers ${JSON.stringify(want)}\n          gateway      ${JSON.stringify(seen)}`];
  }

  const server = triton ? 'tritonserver 2.51 (triton-harness)' : 'the embedded model server';
  for (const [name, check] of [
    ['ids ', viaClient],
    ['http', viaHttp],
  ] as const) {
    const results = await Promise.all(generation.captions.map(check));
    generation.captions.forEach((c, i) => {
      const problems = results[i]!;
      if (problems.length) failed++;
      const options = c.max_new_tokens === undefined ? '' : ` max_new_tokens ${c.max_new_tokens} min_new_tokens ${c.min_new_tokens} repetition_penalty ${c.repetition_penalty}`;
      const label = `${c.image} prompt ${JSON.stringify(c.prompt)} beams ${c.num_beams}${options}`;
      console.log(`${problems.length ? 'FAIL' : 'ok  '} gateway ${name} ${label}: ${JSON.stringify(c.transformers_caption)} (${c.transformers_finish})`);
      for (const p of problems) console.log(`     ${p}`);
    });
  }
  const statelessFailed = failed;
  if (cachedGateway) {
    const results = await Promise.all(generation.captions.map((c) => viaHttpOf(cachedGateway.url, c)));
    let cachedFailed = 0;
    generation.captions.forEach((c, i) => {
      const problems = results[i]!;
      if (problems.length) cachedFailed++;
      console.log(`${problems.length ? 'FAIL' : 'ok  '} cached decoder http ${c.image} prompt ${JSON.stringify(c.prompt)} beams ${c.num_beams}: ${JSON.stringify(c.transformers_caption)}`);
      for (const p of problems) console.log(`     ${p}`);
    });
    failed += cachedFailed;
    const n = generation.captions.length;
    console.log(`cached decoder captions: ${n - cachedFailed}/${n} identical to transformers (over HTTP through ${CACHED_DECODER}; ${server})`);
  }
  const rows = [...new Set(generation.captions.map((c) => c.pixel_row))];
  for (const row of rows) {
    const c = generation.captions.find((x) => x.pixel_row === row)!;
    const { pixelValues } = await preprocessImage(readFileSync(join(parity, c.image_file)), encoder, limits);
    const want = rowOf(row);
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(pixelValues[i]! - want[i]!));
    console.log(`info: ${c.image_file}: the gateway's pixel_values vs transformers' max |diff| ${max.toExponential(2)}`);
  }
  const total = 2 * generation.captions.length;
  console.log(
    `gateway captions: ${total - statelessFailed}/${total} identical to transformers (${generation.captions.length} by token ids through the gateway's generate over gRPC, ` +
      `${generation.captions.length} over HTTP; ${server})`,
  );
} finally {
  await cachedGateway?.stop();
  await gateway.stop();
  await triton?.stop();
}
process.exit(failed ? 1 : 0);
