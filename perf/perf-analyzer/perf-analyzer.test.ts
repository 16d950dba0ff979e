/**
 * NVIDIA's perf_analyzer completes a measurement of every model of model_repository, the
 * food_caption ensemble included, against both the real tritonserver and the embedded model
 * server (short windows: a smoke run, not a benchmark; perf/perf-analyzer/compare-servers.ts
 * measures). perf_analyzer reads ServerLive/Ready, ModelMetadata, ModelConfig and
 * ModelStatistics before and after each window, so any of those answering differently from
 * Triton fails it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningModelServer, startModelServer } from '../../modelserver/src/index.js';
import { type RunningTriton, startTriton } from '../../triton-harness/start-triton.js';
import { makeInputData } from './make-input-data.js';
import { runPerfAnalyzer } from './perf-analyzer.js';

const REPOSITORY = new URL('../../model_repository', import.meta.url).pathname;
const MODELS = ['caption_encoder', 'caption_decoder', 'food_classifier', 'food_caption'];

let dataDir: string;
let triton: RunningTriton;
let embedded: RunningModelServer;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'perf-analyzer-data-'));
  await makeInputData(REPOSITORY, dataDir, 4, () => {});
  [triton, embedded] = await Promise.all([
    startTriton({ modelRepository: REPOSITORY }),
    startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} }),
  ]);
});
after(async () => {
  await Promise.all([triton?.stop(), embedded?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

for (const server of ['triton', 'embedded'] as const) {
  describe(`perf_analyzer against the ${server} server`, () => {
    for (const model of MODELS) {
      it(`measures ${model}`, async () => {
        const address = server === 'triton' ? triton.address : embedded.address;
        // A loose stability rule: this checks that perf_analyzer completes, not how fast.
        const result = await runPerfAnalyzer(address, model, { dataDir, requestsPerWindow: 40, stabilityPercent: 100, maxTrials: 5 });
        assert.equal(result.concurrency, 1);
        assert.ok(result.inferPerSec > 0, JSON.stringify(result));
        // Server-side compute comes from ModelStatistics deltas: zero would mean none were counted.
        assert.ok(result.serverComputeUs > 0, JSON.stringify(result));
      });
    }
  });
}
