/**
 * @module perf/perf-analyzer/perf-analyzer
 * Runs NVIDIA's perf_analyzer (the tritonclient 2.51.0 wheel's, in .venv/bin) against a KServe v2
 * gRPC endpoint and reads its CSV, so benchmarks and the CI smoke test use one invocation.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The binary, and the folder of the libcudart.so.12 it links even on CPU (PyPI's nvidia-cuda-runtime-cu12). */
export const PERF_ANALYZER = process.env.PERF_ANALYZER ?? join(ROOT, '.venv/bin/perf_analyzer');
const CUDA_RUNTIME_LIB = join(ROOT, '.venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib');
export const DEFAULT_DATA_DIR = join(ROOT, 'perf/perf-analyzer/data');

export interface PerfAnalyzerOptions {
  /** Closed-loop concurrency (default 1). */
  readonly concurrency?: number;
  /** Requests per measurement window (count_windows mode; default 200). */
  readonly requestsPerWindow?: number;
  /** perf_analyzer's stability rule: the last 3 windows within this % (default 10, as perf_analyzer). */
  readonly stabilityPercent?: number;
  /** Windows before it gives up on stability (default 10). */
  readonly maxTrials?: number;
  /** Folder of `<model>.json` input-data files (npm run perf:input-data). */
  readonly dataDir?: string;
}

export interface PerfAnalyzerResult {
  readonly model: string;
  readonly concurrency: number;
  readonly inferPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Server-side compute (input + infer + output) per request, µs, from the server's statistics. */
  readonly serverComputeUs: number;
}

/** One perf_analyzer measurement of `model` at `address` (host:port). Rejects with its output on failure. */
export async function runPerfAnalyzer(address: string, model: string, options: PerfAnalyzerOptions = {}): Promise<PerfAnalyzerResult> {
  const data = join(options.dataDir ?? DEFAULT_DATA_DIR, `${model}.json`);
  if (!existsSync(data)) throw new Error(`no ${data}: run npm run perf:input-data first`);
  if (!existsSync(PERF_ANALYZER)) throw new Error(`no perf_analyzer at ${PERF_ANALYZER}: run bash scripts/setup-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'perf-analyzer-'));
  const csv = join(dir, 'result.csv');
  const concurrency = options.concurrency ?? 1;
  const args = [
    '-i', 'grpc', '-u', address, '-m', model, '--input-data', data,
    '--concurrency-range', String(concurrency),
    '--measurement-mode', 'count_windows', '--measurement-request-count', String(options.requestsPerWindow ?? 200),
    '--stability-percentage', String(options.stabilityPercent ?? 10), '--max-trials', String(options.maxTrials ?? 10),
    '-f', csv,
  ];
  const env = { ...process.env, LD_LIBRARY_PATH: [CUDA_RUNTIME_LIB, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(PERF_ANALYZER, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`perf_analyzer ${args.join(' ')} failed (${err.code}):\n${stdout.slice(-3000)}${stderr.slice(-2000)}`));
        else resolve();
      });
    });
    return { model, ...parseCsv(readFileSync(csv, 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first row of perf_analyzer's `-f` CSV, by column name. */
function parseCsv(text: string): Omit<PerfAnalyzerResult, 'model'> {
  const [header, row] = text.trim().split('\n').map((line) => line.split(','));
  if (!header || !row) throw new Error(`perf_analyzer wrote no result row:\n${text}`);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`perf_analyzer CSV lacks "${name}": ${header.join(',')}`);
    return Number(row[i]);
  };
  return {
    concurrency: col('Concurrency'),
    inferPerSec: col('Inferences/Second'),
    p50Us: col('p50 latency'),
    p99Us: col('p99 latency'),
    serverComputeUs: col('Server Compute Input') + col('Server Compute Infer') + col('Server Compute Output'),
  };
}
