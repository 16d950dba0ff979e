/**
 * @module perf/perf-analyzer/compare-servers
 * perf_analyzer's infer/s and latency for every model of the repository on the real tritonserver
 * and on the embedded model server, side by side, in one run: each server in its own process,
 * the same input data (npm run perf:input-data writes it into a temp folder here), the servers
 * measured alternately per model so drift of this shared VM hits both alike. Triton runs the
 * ONNX files under its python backend (triton-harness/), so its compute is ONNX Runtime's Python
 * binding behind a stub process, not the onnxruntime backend of an NGC image.
 *
 * Usage: npm run bench:perf-analyzer [-- --concurrency 1,8 --requests 400]
 * Prints a table; writes perf/results/perf-analyzer-servers.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTriton } from '../../triton-harness/start-triton.js';
import { printTable } from '../lib/measure.js';
import { startModelServerProcess } from '../lib/processes.js';
import { makeInputData } from './make-input-data.js';
import { type PerfAnalyzerResult, runPerfAnalyzer } from './perf-analyzer.js';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,8' },
    requests: { type: 'string', default: '400' },
    out: { type: 'string', default: 'perf/results/perf-analyzer-servers.json' },
  },
});
const REPOSITORY = 'model_repository';
const MODELS = ['caption_encoder', 'caption_decoder', 'food_classifier', 'food_caption'];

const dataDir = mkdtempSync(join(tmpdir(), 'perf-analyzer-data-'));
await makeInputData(REPOSITORY, dataDir, 8, () => {});
const triton = await startTriton({ modelRepository: REPOSITORY });
const embedded = await startModelServerProcess(REPOSITORY);
const results: Array<PerfAnalyzerResult & { server: string }> = [];
try {
  for (const model of MODELS) {
    for (const concurrency of args.concurrency!.split(',').map(Number)) {
      for (const [server, address] of [['triton', triton.address], ['embedded', embedded.url]] as const) {
        const r = await runPerfAnalyzer(address, model, { dataDir, concurrency, requestsPerWindow: Number(args.requests) });
        results.push({ server, ...r });
      }
    }
  }
} finally {
  await Promise.all([triton.stop(), embedded.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
}
const find = (server: string, model: string, c: number) => results.find((r) => r.server === server && r.model === model && r.concurrency === c)!;
const rows = results
  .filter((r) => r.server === 'triton')
  .map((t) => {
    const e = find('embedded', t.model, t.concurrency);
    return [t.model, t.concurrency, t.inferPerSec, e.inferPerSec, e.inferPerSec / t.inferPerSec, t.p50Us / 1000, e.p50Us / 1000, t.serverComputeUs / 1000, e.serverComputeUs / 1000];
  });
printTable(
  'perf_analyzer over gRPC: real tritonserver 2.51 (python backend) vs the embedded model server, same ONNX files and input data',
  ['model', 'concurrency', 'Triton infer/s', 'embedded infer/s', 'embedded/Triton', 'Triton p50 ms', 'embedded p50 ms', 'Triton compute ms', 'embedded compute ms'],
  rows,
);
mkdirSync('perf/results', { recursive: true });
writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), results }, null, 2));
console.log(`wrote ${args.out}`);
