/**
 * @module perf/blip-bench
 * Captioning at BLIP-base's real scale (BlipForConditionalGeneration(BlipConfig()): a ViT-B/16 at
 * 384 px and a 12-layer BERT decoder of 768 with cross-attention, random weights, exported by
 * `export_blip.py --random-base`), on this machine's CPU, in one run:
 *  - transformers' generate() in-process (greedy, its KV cache) at batch 1 and 16: the peer a user
 *    would run instead (perf/blip/transformers_generate.py, torch on 2 threads);
 *  - the exported ONNX in-process on ONNX Runtime for Node (sessions set up as the model server
 *    sets them up), the gateway's own greedy loop with no HTTP and no gRPC, at batch 1, 4 and 16:
 *    the limit of this decoder;
 *  - the gateway over the embedded model server (npm start) at concurrency 1 and 16, with
 *    timeouts long enough that nothing is refused;
 *  - the baseline a Triton user would write instead (perf/baseline/: FastAPI + PIL +
 *    tritonclient, one stateless decoder call per step, nothing batched or cached) over the same
 *    embedded model server (the CLI in its own process), loaded as the gateway is, at concurrency
 *    1 and 16; the target: the gateway's captions/s at 16 at least 5x the baseline's.
 * Every caption has exactly NEW_TOKENS new tokens (min_new_tokens = max_new_tokens), so every
 * system does the same work. Per decode step: the tensor bytes a step sends and receives per
 * sequence (from the decoder's config), wall ms and CPU ms; per caption: p50 and captions/s.
 * Usage: npm run bench:blip [-- --repo DIR --batches 1,4,16 --requests 4 --skip-transformers --skip-baseline]. Writes the repository
 * first when it is missing (about a minute, 0.9 GB under .cache/, never committed). Prints tables;
 * writes perf/results/blip.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { decoderSpecOf, imageSpecOf, statelessDecoderSpecOf } from '../gateway/src/triton/model-spec.js';
import { cachedDecoder, statelessDecoder } from './blip/in-process-decoders.js';
import { readConfig } from '../model-tools/check/onnx-captioner.js';
import { generateScene, renderScene } from '../model-tools/scenes/index.js';
import { intraOpThreadsOf, onnxSessionOptions } from '../modelserver/src/backend/session-options.js';
import { normaliseModelConfig } from '../modelserver/src/config/index.js';
import type { ModelConfig, ModelInput } from '../proto/gen/model_config.js';
import { DataType } from '../proto/gen/model_config.js';
import { closedLoop, mean, percentile, printTable } from './lib/measure.js';
import { httpPoster } from './lib/http-post.js';
import { cpuSeconds } from './lib/proc.js';
import { startBaseline } from './lib/baseline-process.js';
import { startGatewayProcess, startModelServerProcess } from './lib/processes.js';

const NEW_TOKENS = 20;
const { values: args } = parseArgs({
  options: {
    repo: { type: 'string', default: '.cache/blip-base-random/model_repository' },
    batches: { type: 'string', default: '1,4,16' },
    requests: { type: 'string', default: '4' },
    'skip-transformers': { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    out: { type: 'string', default: 'perf/results/blip.json' },
  },
});
const REPO = args.repo!;
const BATCHES = args.batches!.split(',').map(Number);
const REQUESTS = Number(args.requests);

/** One row of the results: a system at one batch size or concurrency. */
interface Row {
  readonly system: string;
  readonly batchOrConcurrency: number;
  readonly captionsPerS: number;
  /** Wall time of one caption (for batches: of the whole batch). */
  readonly p50Ms: number;
  readonly stepMs: number;
  readonly stepCpuMs?: number;
  /** Decode-step tensor bytes per sequence, request and response. */
  readonly stepBytesUp?: number;
  readonly stepBytesDown?: number;
  readonly note?: string;
}

const BYTES: Partial<Record<DataType, number>> = { [DataType.TYPE_FP32]: 4, [DataType.TYPE_INT64]: 8, [DataType.TYPE_INT32]: 4, [DataType.TYPE_FP16]: 2 };

/**
 * Tensor bytes of one sequence's tensors per step (dims without the batch dimension). A -1 counts
 * as 1: for the cached decoder that is a greedy caption's token step (one beam, one token, the
 * image placeholder); its first step also sends the prefix and the image once.
 */
function bytesPerSequence(tensors: ReadonlyArray<Pick<ModelInput, 'dims' | 'dataType'>>): number {
  return tensors.reduce((sum, t) => sum + t.dims.reduce((n, d) => n * Math.max(1, Number(d)), 1) * (BYTES[t.dataType] ?? NaN), 0);
}

function ensureRepository(): void {
  if (existsSync(join(REPO, 'caption_decoder', '1', 'model.onnx'))) return;
  console.log(`${REPO} is missing: writing it with export_blip.py --random-base (about a minute)`);
  execFileSync('.venv/bin/python', ['model-tools/export/export_blip.py', '--random-base', '--repo', REPO, '--no-check'], { stdio: 'inherit' });
}

function transformersRows(): Row[] {
  const out = execFileSync('.venv/bin/python', ['perf/blip/transformers_generate.py', '--batches', '1,16', '--threads', '2', '--new-tokens', String(NEW_TOKENS)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { batch: number; seconds_per_batch: number; vision_seconds: number; cpu_seconds_per_batch: number; captions_per_s: number; new_tokens: number })
    .map((r) => ({
      system: 'transformers generate() in-process',
      batchOrConcurrency: r.batch,
      captionsPerS: r.captions_per_s,
      p50Ms: 1000 * r.seconds_per_batch,
      // generate() runs the vision tower too: a step is what is left, spread over the tokens.
      stepMs: (1000 * (r.seconds_per_batch - r.vision_seconds)) / r.new_tokens,
      note: `vision ${(1000 * r.vision_seconds).toFixed(0)} ms of it; CPU ${(r.cpu_seconds_per_batch).toFixed(2)} s per batch`,
    }));
}

type DecoderKind = 'stateless' | 'cached';
const DECODER_MODEL: Record<DecoderKind, string> = { stateless: 'caption_decoder', cached: 'caption_decoder_cached' };

/** The exported encoder and one decoder in this process, greedy over a batch of captions. */
async function onnxRows(kind: DecoderKind, encoderConfig: ModelConfig, decoderConfig: ModelConfig): Promise<{ rows: Row[]; step10Ms: Record<number, number> }> {
  const image = imageSpecOf(encoderConfig);
  const model = DECODER_MODEL[kind];
  const session = (name: string, config: ModelConfig) =>
    ort.InferenceSession.create(join(REPO, name, '1', 'model.onnx'), onnxSessionOptions(intraOpThreadsOf(normaliseModelConfig(config, name))));
  const [enc, dec] = await Promise.all([session('caption_encoder', encoderConfig), session(model, decoderConfig)]);
  const bos = decoderSpecOf(decoderConfig).bosTokenId;
  const rows: Row[] = [];
  const step10Ms: Record<number, number> = {};
  try {
    for (const batch of BATCHES) {
      const size = image.size;
      const pixels = new Float32Array(batch * 3 * size * size).map((_, i) => Math.sin(i) * 0.9);
      const caption = async () => {
        const t0 = performance.now();
        const embeds = (await enc.run({ [image.inputName]: new ort.Tensor('float32', pixels, [batch, 3, size, size]) }))[encoderConfig.output[0]!.name]!;
        const step = kind === 'cached' ? cachedDecoder(dec, decoderConfig, bos, embeds) : statelessDecoder(dec, statelessDecoderSpecOf(decoderConfig), embeds);
        const steps: Array<{ ms: number; cpuMs: number }> = [];
        for (let i = 0; i < NEW_TOKENS; i++) {
          const cpu0 = process.cpuUsage();
          const s0 = performance.now();
          await step();
          const cpu = process.cpuUsage(cpu0);
          steps.push({ ms: performance.now() - s0, cpuMs: (cpu.user + cpu.system) / 1000 });
        }
        return { ms: performance.now() - t0, steps };
      };
      await caption(); // ONNX Runtime's first run at a shape allocates its buffers
      const runs = [];
      for (let r = 0; r < Math.max(1, Math.ceil(REQUESTS / batch)); r++) runs.push(await caption());
      const wall = percentile(runs.map((r) => r.ms), 50);
      step10Ms[batch] = percentile(runs.map((r) => r.steps[9]!.ms), 50);
      rows.push({
        system: `exported ONNX in-process (${kind} decoder)`,
        batchOrConcurrency: batch,
        captionsPerS: (1000 * batch) / wall,
        p50Ms: wall,
        stepMs: mean(runs.flatMap((r) => r.steps.map((s) => s.ms))),
        stepCpuMs: mean(runs.flatMap((r) => r.steps.map((s) => s.cpuMs))),
        stepBytesUp: bytesPerSequence(decoderConfig.input),
        stepBytesDown: bytesPerSequence(decoderConfig.output),
        note: `step 10: ${step10Ms[batch].toFixed(1)} ms`,
      });
    }
  } finally {
    await Promise.all([enc.release(), dec.release()]);
  }
  return { rows, step10Ms };
}

/** POST /caption through npm start's process on the embedded model server, closed loop, with `kind`'s decoder. */
async function gatewayRows(kind: DecoderKind, decoderConfig: ModelConfig): Promise<Row[]> {
  const jpeg = await renderScene(generateScene(18_000), 'jpeg');
  const long = String(30 * 60_000);
  const gw = await startGatewayProcess({
    MODEL_REPOSITORY: REPO,
    CAPTION_DECODER_MODEL: DECODER_MODEL[kind],
    REQUEST_TIMEOUT_MS: long,
    TRITON_TIMEOUT_MS: long,
    UPLOAD_TIMEOUT_MS: long,
  });
  const http = httpPoster(16);
  const rows: Row[] = [];
  try {
    const url = `${gw.url}/caption?min_new_tokens=${NEW_TOKENS}&max_new_tokens=${NEW_TOKENS}`;
    let generateMs: number[] = [];
    const send = async () => {
      const res = await http.post(url, jpeg, 'image/jpeg');
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.toString()}`);
      const m = /generate;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
      if (m) generateMs.push(Number(m[1]));
    };
    await send(); // the first caption of a fresh process allocates the sessions' buffers
    for (const concurrency of [1, 16]) {
      generateMs = [];
      const pid = gw.process.pid!;
      const cpu0 = cpuSeconds(pid)!;
      const load = await closedLoop(concurrency, 0, send, Math.max(REQUESTS, concurrency));
      const cpu = cpuSeconds(pid)! - cpu0;
      if (load.errors > 0) throw new Error(`${load.errors} of ${load.requests + load.errors} captions failed at concurrency ${concurrency}`);
      rows.push({
        system: `gateway over the embedded server (${kind} decoder)`,
        batchOrConcurrency: concurrency,
        captionsPerS: load.requests / load.seconds,
        p50Ms: percentile(load.latenciesMs, 50),
        stepMs: mean(generateMs) / NEW_TOKENS,
        stepCpuMs: (1000 * cpu) / (load.requests * NEW_TOKENS),
        stepBytesUp: bytesPerSequence(decoderConfig.input),
        stepBytesDown: bytesPerSequence(decoderConfig.output),
        note: `CPU per step includes the caption's share of preprocessing and encoding`,
      });
    }
  } finally {
    http.close();
    await gw.stop();
  }
  return rows;
}

/**
 * The FastAPI baseline over the embedded model server (its CLI, in a process of its own) with the
 * stateless decoder, its only loop, loaded as {@link gatewayRows} loads the gateway.
 */
async function baselineRows(decoderConfig: ModelConfig): Promise<Row[]> {
  const jpeg = await renderScene(generateScene(18_000), 'jpeg');
  // Only the two models it calls: the repository's food_caption ensemble lacks its classifier here,
  // which would leave a server that loads everything not ready.
  const server = await startModelServerProcess(REPO, ['--model-control-mode', 'explicit', '--load-model', 'caption_encoder', '--load-model', DECODER_MODEL.stateless]);
  const rows: Row[] = [];
  try {
    const baseline = await startBaseline({ tritonUrl: server.url, env: { MODEL_REPOSITORY: REPO, CAPTION_DECODER_MODEL: DECODER_MODEL.stateless } });
    const http = httpPoster(16);
    try {
      const url = `${baseline.url}/caption?min_new_tokens=${NEW_TOKENS}&max_new_tokens=${NEW_TOKENS}`;
      const send = async () => {
        const res = await http.post(url, jpeg, 'image/jpeg');
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.toString()}`);
      };
      await send(); // the model server's first run at a shape allocates its buffers
      for (const concurrency of [1, 16]) {
        const pid = baseline.process.pid!;
        const cpu0 = cpuSeconds(pid)!;
        const load = await closedLoop(concurrency, 0, send, Math.max(REQUESTS, concurrency));
        const cpu = cpuSeconds(pid)! - cpu0;
        if (load.errors > 0) throw new Error(`the baseline failed ${load.errors} of ${load.requests + load.errors} captions at concurrency ${concurrency}`);
        rows.push({
          system: 'FastAPI baseline over the embedded server (stateless decoder)',
          batchOrConcurrency: concurrency,
          captionsPerS: load.requests / load.seconds,
          p50Ms: percentile(load.latenciesMs, 50),
          // No Server-Timing: a step is the caption's wall time over its tokens (encoding included).
          stepMs: percentile(load.latenciesMs, 50) / NEW_TOKENS,
          stepBytesUp: bytesPerSequence(decoderConfig.input),
          stepBytesDown: bytesPerSequence(decoderConfig.output),
          // The model server runs apart, so only the service's own CPU is known here.
          note: `its own CPU ${((1000 * cpu) / load.requests).toFixed(0)} ms per caption, model server apart; step ms includes encoding`,
        });
      }
    } finally {
      http.close();
      await baseline.stop();
    }
  } finally {
    await server.stop();
  }
  return rows;
}

async function main(): Promise<void> {
  ensureRepository();
  const encoderConfig = readConfig(REPO, 'caption_encoder');
  const kinds = (['stateless', 'cached'] as const).filter((k) => existsSync(join(REPO, DECODER_MODEL[k], 'config.pbtxt')));
  const decoderConfigs = Object.fromEntries(kinds.map((k) => [k, readConfig(REPO, DECODER_MODEL[k])])) as Partial<Record<DecoderKind, ModelConfig>>;
  const rows: Row[] = [];
  if (!args['skip-transformers']) rows.push(...transformersRows());
  const step10: Partial<Record<DecoderKind, Record<number, number>>> = {};
  for (const kind of kinds) {
    const onnx = await onnxRows(kind, encoderConfig, decoderConfigs[kind]!);
    rows.push(...onnx.rows);
    step10[kind] = onnx.step10Ms;
  }
  for (const kind of kinds) rows.push(...(await gatewayRows(kind, decoderConfigs[kind]!)));
  if (!args['skip-baseline'] && decoderConfigs.stateless) rows.push(...(await baselineRows(decoderConfigs.stateless)));

  const kb = (n: number | undefined) => (n === undefined ? '' : (n / 1024).toFixed(2));
  printTable(
    `${REPO}, ${NEW_TOKENS} new tokens per caption, ${availableParallelism()} CPUs`,
    ['system', 'batch / conc.', 'captions/s', 'p50 ms', 'step ms', 'step CPU ms', 'step KB up/seq', 'step KB down/seq', 'note'],
    rows.map((r) => [r.system, r.batchOrConcurrency, r.captionsPerS, r.p50Ms, r.stepMs, r.stepCpuMs ?? '', kb(r.stepBytesUp), kb(r.stepBytesDown), r.note ?? '']),
  );
  const find = (system: string, n: number) => rows.find((r) => r.system.startsWith(system) && r.batchOrConcurrency === n);
  const best = (system: string) => rows.filter((r) => r.system.startsWith(system)).reduce((a, r) => (r.captionsPerS > a.captionsPerS ? r : a));
  const hf1 = find('transformers', 1);
  const hf16 = find('transformers', 16);
  // The targets, for the newest decoder this repository has (cached when present).
  const kind = kinds.at(-1)!;
  const gw1 = find(`gateway over the embedded server (${kind}`, 1)!;
  const gw16 = find(`gateway over the embedded server (${kind}`, 16)!;
  const bestOnnx = best(`exported ONNX in-process (${kind}`);
  const targets: Array<[string, number, string, boolean]> = [];
  if (hf1) targets.push([`gateway c=1 p50 / transformers at batch 1 (${kind})`, gw1.p50Ms / hf1.p50Ms, '<= 1.1', gw1.p50Ms / hf1.p50Ms <= 1.1]);
  if (hf16) targets.push([`gateway c=16 captions/s / transformers at batch 16 (${kind})`, gw16.captionsPerS / hf16.captionsPerS, '>= 1.0', gw16.captionsPerS / hf16.captionsPerS >= 1]);
  const baseline16 = find('FastAPI baseline', 16);
  if (baseline16) {
    const ratio = gw16.captionsPerS / baseline16.captionsPerS;
    targets.push([`gateway c=16 captions/s / the FastAPI baseline's at c=16 (${kind})`, ratio, '>= 5', ratio >= 5]);
  }
  const onnxRatio = gw16.captionsPerS / bestOnnx.captionsPerS;
  targets.push([`gateway c=16 captions/s / its ONNX in-process at the best batch (${bestOnnx.batchOrConcurrency})`, onnxRatio, '>= 0.9', onnxRatio >= 0.9]);
  targets.push([`step KB up per sequence (${kind})`, (gw1.stepBytesUp ?? NaN) / 1024, '<= 5', (gw1.stepBytesUp ?? Infinity) <= 5 * 1024]);
  targets.push([`step KB down per sequence (${kind})`, (gw1.stepBytesDown ?? NaN) / 1024, '<= 5', (gw1.stepBytesDown ?? Infinity) <= 5 * 1024]);
  if (step10.cached && step10.stateless) {
    for (const batch of BATCHES) {
      const ratio = step10.cached[batch]! / step10.stateless[batch]!;
      targets.push([`step 10 in-process, cached / stateless, batch ${batch}`, ratio, '<= 0.1', ratio <= 0.1]);
    }
  }
  printTable('Targets (ratios within this run)', ['figure', 'value', 'target', 'met'], targets.map(([f, v, t, met]) => [f, v, t, met ? 'yes' : 'NO']));
  mkdirSync('perf/results', { recursive: true });
  writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), newTokens: NEW_TOKENS, repository: REPO, rows, targets, step10Ms: step10 }, null, 2));
  console.log(`wrote ${args.out}`);
}

await main();
