/**
 * @module scenes/write-dataset
 * CLI: `tsx model-tools/scenes/write-dataset.ts --out DIR --split NAME --count N
 *  [--seed-offset K] [--size S] [--concurrency C]` writes DIR/NAME/000000.png… and labels.jsonl
 * (see dataset-writer.ts), printing progress and throughput.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { writeDataset } from './dataset-writer.js';

const USAGE =
  'usage: write-dataset --out DIR --split NAME --count N [--seed-offset K=0] [--size S=64] [--concurrency C]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function integerArg(name: string, value: string | undefined, min: number): number {
  const parsed = Number(value);
  if (value === undefined || !Number.isSafeInteger(parsed) || parsed < min) fail(`--${name} must be an integer >= ${min}, got ${value}`);
  return parsed;
}

// sharp runs on libuv's thread pool (4 threads unless told otherwise), and the pool starts
// before this module runs, so on a machine with more cores re-run with a pool that fits it.
if (process.env.UV_THREADPOOL_SIZE === undefined && availableParallelism() > 4) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(availableParallelism()) },
  });
  process.exit(child.status ?? 1);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      out: { type: 'string' },
      split: { type: 'string' },
      count: { type: 'string' },
      'seed-offset': { type: 'string', default: '0' },
      size: { type: 'string', default: '64' },
      concurrency: { type: 'string' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (!args.out) fail('--out is required');
if (!args.split) fail('--split is required');

const count = integerArg('count', args.count, 0);
const seedOffset = integerArg('seed-offset', args['seed-offset'], Number.MIN_SAFE_INTEGER);
const size = integerArg('size', args.size, 1);
const concurrency = args.concurrency === undefined ? undefined : integerArg('concurrency', args.concurrency, 1);

const step = Math.max(1, Math.round(count / 20));
const result = await writeDataset({
  outDir: args.out,
  split: args.split,
  count,
  seedOffset,
  size,
  ...(concurrency === undefined ? {} : { concurrency }),
  onProgress: (done, total, elapsedS) => {
    if (done % step === 0 && done < total) {
      process.stdout.write(`[${args.split}] ${done}/${total} scenes, ${(done / elapsedS).toFixed(1)} scenes/s\n`);
    }
  },
});
process.stdout.write(
  `[${args.split}] wrote ${result.count} scenes (${size}x${size}) to ${result.dir} in ${result.elapsedS.toFixed(1)} s: ` +
    `${result.scenesPerSecond.toFixed(1)} scenes/s\n`,
);
