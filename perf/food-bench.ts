/**
 * @module perf/food-bench
 * The food half of the model repository, measured on the embedded model server (child processes):
 *  1. the food_caption ensemble (one ModelInfer: classifier and caption encoder in parallel on the
 *     server) versus the same two models called separately and concurrently by the client, at
 *     concurrency 1 and 16: latency and throughput;
 *  2. POST /classify throughput at concurrency 16 with the `dynamic` configuration (dynamic
 *     batching) versus `cpu` (no batching), each served through --model-config-name.
 * Usage: npm run bench:food [-- --requests 400]. Prints tables; writes perf/results/food.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { writePixelValues } from '../gateway/src/preprocess/pixel-values.js';
import { type RawTensor, TritonClient } from '../gateway/src/triton/client.js';
import { imageSpecOf } from '../gateway/src/triton/model-spec.js';
import { generateScene, renderScene, resizeForModel } from '../model-tools/scenes/index.js';
import { closedLoop, type LoadResult, type LoadSummary, mergeLoads, printTable, summariseLoad } from './lib/measure.js';
import { httpPoster } from './lib/http-post.js';
import { startGatewayProcess, startModelServerProcess } from './lib/processes.js';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '400' }, out: { type: 'string', default: 'perf/results/food.json' } } });
const REQUESTS = Number(args.requests);
const REPO = 'model_repository';
const later = () => Date.now() + 30_000;

interface Row extends LoadSummary {
  readonly path: string;
  readonly concurrency: number;
}

const row = (path: string, concurrency: number, r: LoadResult): Row => ({ path, concurrency, ...summariseLoad(r) });

async function ensembleVersusSeparate(): Promise<Row[]> {
  const server = await startModelServerProcess(REPO);
  const client = new TritonClient(server.url);
  try {
    const spec = imageSpecOf(await client.modelConfig('caption_encoder', later()));
    const n = spec.size * spec.size;
    const inputs: Array<Record<string, RawTensor>> = [];
    for (let i = 0; i < 16; i++) {
      const rgb = await resizeForModel(await renderScene(generateScene(6_000_000 + i), 'jpeg'), spec.size);
      const pixels = writePixelValues(rgb, n, spec, new Float32Array(3 * n));
      inputs.push({ pixel_values: { datatype: 'FP32', shape: [1, 3, spec.size, spec.size], raw: new Uint8Array(pixels.buffer) } });
    }
    let k = 0;
    const ensemble = () =>
      client.infer('food_caption', inputs[k++ % inputs.length]!, {
        deadline: later(),
        outputs: [{ name: 'food_probabilities', classification: 1 }, { name: 'image_embeds' }],
      });
    const separate = () => {
      const input = inputs[k++ % inputs.length]!;
      return Promise.all([
        client.infer('food_classifier', input, { deadline: later(), outputs: [{ name: 'probabilities', classification: 1 }] }),
        client.infer('caption_encoder', input, { deadline: later() }),
      ]);
    };
    await closedLoop(4, 0, ensemble, 32);
    await closedLoop(4, 0, separate, 32);
    const rows: Row[] = [];
    for (const concurrency of [1, 16]) {
      // Alternated in rounds so drift on a shared machine hits both paths alike.
      const runs = { ensemble: [] as LoadResult[], separate: [] as LoadResult[] };
      for (let round = 0; round < 4; round++) {
        runs.ensemble.push(await closedLoop(concurrency, 0, ensemble, REQUESTS / 4));
        runs.separate.push(await closedLoop(concurrency, 0, separate, REQUESTS / 4));
      }
      for (const [path, results] of Object.entries(runs)) rows.push(row(path, concurrency, mergeLoads(results)));
    }
    return rows;
  } finally {
    client.close();
    await server.stop();
  }
}

async function classifyThroughput(configName: string, jpegs: Buffer[]): Promise<Row> {
  const gw = await startGatewayProcess({ MODEL_CONFIG_NAME: configName });
  const http = httpPoster(16);
  try {
    let k = 0;
    const send = async () => {
      const res = await http.post(`${gw.url}/classify`, jpegs[k++ % jpegs.length]!, 'image/jpeg');
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    };
    await closedLoop(16, 0, send, 64);
    return row(`/classify ${configName}`, 16, await closedLoop(16, 0, send, REQUESTS));
  } finally {
    http.close();
    await gw.stop();
  }
}

async function main(): Promise<void> {
  const paths = await ensembleVersusSeparate();
  const jpegs = await Promise.all(Array.from({ length: 32 }, (_, i) => renderScene(generateScene(6_100_000 + i), 'jpeg')));
  const classify = [await classifyThroughput('dynamic', jpegs), await classifyThroughput('cpu', jpegs)];

  const table = (rows: Row[]) => rows.map((r) => [r.path, r.concurrency, r.p50, r.p90, r.rps, r.errors]);
  printTable('food_caption ensemble vs classifier + encoder called separately (gRPC, embedded model server)', ['path', 'concurrency', 'p50 ms', 'p90 ms', 'req/s', 'errors'], table(paths));
  printTable('POST /classify at concurrency 16, by --model-config-name', ['config', 'concurrency', 'p50 ms', 'p90 ms', 'req/s', 'errors'], table(classify));
  const find = (path: string, c: number) => paths.find((r) => r.path === path && r.concurrency === c)!;
  const ratios = {
    ensembleOverSeparateP50C1: find('ensemble', 1).p50 / find('separate', 1).p50,
    ensembleOverSeparateThroughputC16: find('ensemble', 16).rps / find('separate', 16).rps,
    dynamicOverCpuClassifyThroughputC16: classify[0]!.rps / classify[1]!.rps,
  };
  printTable('Ratios', ['figure', 'value'], [
    ['ensemble p50 / separate p50, concurrency 1', ratios.ensembleOverSeparateP50C1],
    ['ensemble throughput / separate throughput, concurrency 16', ratios.ensembleOverSeparateThroughputC16],
    ['/classify throughput dynamic / cpu, concurrency 16', ratios.dynamicOverCpuClassifyThroughputC16],
  ]);
  mkdirSync('perf/results', { recursive: true });
  writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), paths, classify, ratios }, null, 2));
  console.log(`wrote ${args.out}`);
}

await main();
