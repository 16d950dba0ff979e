/**
 * @module perf/modelserver-bench
 * Benchmarks the embedded model server against ONNX Runtime called in-process:
 *  1. gRPC overhead: ModelInfer p50 on a small model versus session.run p50 on the same model.
 *  2. Dynamic batching: throughput at concurrency 16 with and without `dynamic_batching` on a
 *     small image classifier, beside the in-process batch-size sweep (its ceiling).
 * Usage: npm run bench:modelserver [-- --seconds 5]. Prints tables and writes
 * perf/results/modelserver.json. Figures, not assertions: nothing here fails a build.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GRPCInferenceServiceClient, type ModelInferRequest, type ModelInferResponse } from '../proto/gen/grpc_service.js';
import { addSubModel, linearClassifierModel, makeTempRepository, smallConvNetModel, writeModelRepository } from '../modelserver/test/fixtures/models.js';
import { closedLoop, percentile, printTable } from './lib/measure.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, out: { type: 'string', default: 'perf/results/modelserver.json' } } });
const SECONDS = Number(args.seconds);
const CONCURRENCY = 16;
const IMAGE = 64;
const MAX_BATCH = 16;

interface BenchModel {
  readonly key: string;
  readonly describe: string;
  readonly onnx: Uint8Array;
  readonly input: string;
  readonly dims: readonly number[];
  readonly output: string;
  readonly outputDims: readonly number[];
}

// Two small classifiers at the two ends of the batching spectrum: a conv net, which already
// keeps both cores busy at batch 1, and a wide linear head (4096 features x 1000 classes),
// memory-bound at batch 1, where batching turns matrix-vector into matrix-matrix products.
const MODELS: BenchModel[] = [
  { key: 'conv', describe: `conv net ${IMAGE}x${IMAGE}`, onnx: smallConvNetModel({ size: IMAGE }), input: 'pixel_values', dims: [3, IMAGE, IMAGE], output: 'probabilities', outputDims: [10] },
  { key: 'linear', describe: 'linear head 4096x1000', onnx: linearClassifierModel(1000, 4096), input: 'INPUT0', dims: [4096], output: 'PROB', outputDims: [1000] },
];
const simple = addSubModel();
const classifierConfig = (name: string, m: BenchModel, batching: string) => `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${MAX_BATCH}
input [ { name: "${m.input}" data_type: TYPE_FP32 dims: [ ${m.dims.join(', ')} ] } ]
output [ { name: "${m.output}" data_type: TYPE_FP32 dims: [ ${m.outputDims.join(', ')} ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
${batching}`;
const DYNAMIC = `dynamic_batching { preferred_batch_size: [ ${MAX_BATCH} ] max_queue_delay_microseconds: 500 }`;
const sample = (m: BenchModel, batch: number) => new Float32Array(batch * m.dims.reduce((a, b) => a * b, 1)).map((_, i) => (i % 255) / 255);

// ---- in-process ceilings ----------------------------------------------------------------------

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: availableParallelism(),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

async function inProcessP50(): Promise<number> {
  const session = await ort.InferenceSession.create(simple, SESSION_OPTIONS);
  const samples: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const feeds = {
      INPUT0: new ort.Tensor('float32', Float32Array.from([i, 2, 3, 4]), [1, 4]),
      INPUT1: new ort.Tensor('float32', Float32Array.from([5, 6, 7, i]), [1, 4]),
    };
    const t0 = performance.now();
    await session.run(feeds);
    if (i >= 200) samples.push(performance.now() - t0);
  }
  await session.release();
  return percentile(samples, 50);
}

async function batchSweep(m: BenchModel): Promise<Array<{ batch: number; imagesPerSecond: number }>> {
  const session = await ort.InferenceSession.create(m.onnx, SESSION_OPTIONS);
  const out = [];
  for (const batch of [1, 2, 4, 8, 16]) {
    const feeds = { [m.input]: new ort.Tensor('float32', sample(m, batch), [batch, ...m.dims]) };
    for (let i = 0; i < 5; i++) await session.run(feeds);
    let images = 0;
    const start = performance.now();
    while (performance.now() - start < (SECONDS * 1000) / 3) {
      await session.run(feeds);
      images += batch;
    }
    out.push({ batch, imagesPerSecond: images / ((performance.now() - start) / 1000) });
  }
  await session.release();
  return out;
}

// ---- served -----------------------------------------------------------------------------------

async function startServer(repository: string): Promise<{ address: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'modelserver/src/cli.ts', '--model-repository', repository, '--grpc-port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const listening = /listening on ([\d.:]+)/.exec(log);
      if (listening && /server ready/.test(log)) resolve(listening[1]!);
      if (/server live but not ready/.test(log)) reject(new Error(log));
    });
    child.on('exit', (code) => reject(new Error(`model server exited with ${code}: ${log}`)));
  });
  return {
    address,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function inferOnce(client: GRPCInferenceServiceClient, req: ModelInferRequest): Promise<ModelInferResponse> {
  return new Promise((resolve, reject) => client.modelInfer(req, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))));
}

const request = (modelName: string, inputs: Array<{ name: string; shape: number[]; data: Float32Array }>): ModelInferRequest => ({
  modelName,
  modelVersion: '',
  id: '',
  parameters: {},
  inputs: inputs.map((i) => ({ name: i.name, datatype: 'FP32', shape: i.shape.map(BigInt), parameters: {}, contents: undefined })),
  outputs: [],
  rawInputContents: inputs.map((i) => new Uint8Array(i.data.buffer)),
});

async function main(): Promise<void> {
  console.log(`machine: ${cpus()[0]?.model} x${availableParallelism()}, node ${process.version}, onnxruntime-node ${ort.env.versions.node}`);
  const repository = makeTempRepository('modelserver-bench-');
  writeModelRepository(repository, {
    simple: {
      config: `name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
      versions: { 1: simple },
    },
    ...Object.fromEntries(
      MODELS.flatMap((m) => [
        [`${m.key}_plain`, { config: classifierConfig(`${m.key}_plain`, m, ''), versions: { 1: m.onnx } }],
        [`${m.key}_dynamic`, { config: classifierConfig(`${m.key}_dynamic`, m, DYNAMIC), versions: { 1: m.onnx } }],
      ]),
    ),
  });

  const inProcess = await inProcessP50();
  const sweeps = new Map<string, Awaited<ReturnType<typeof batchSweep>>>();
  for (const m of MODELS) sweeps.set(m.key, await batchSweep(m));

  const server = await startServer(repository);
  const client = new GRPCInferenceServiceClient(server.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  try {
    const small = request('simple', [
      { name: 'INPUT0', shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) },
      { name: 'INPUT1', shape: [1, 4], data: Float32Array.from([5, 6, 7, 8]) },
    ]);
    for (let i = 0; i < 200; i++) await inferOnce(client, small);
    const overheadRun = await closedLoop(1, 0, () => inferOnce(client, small), 3000);
    const servedP50 = percentile(overheadRun.latenciesMs, 50);

    printTable('1. gRPC overhead (simple add/sub model, batch 1, concurrency 1)', ['path', 'p50 ms'], [
      ['ONNX Runtime session.run in-process', inProcess],
      ['ModelInfer over gRPC (embedded server)', servedP50],
      ['difference (target <= 0.5 ms)', servedP50 - inProcess],
    ]);

    const results: Record<string, unknown> = {};
    for (const m of MODELS) {
      const sweep = sweeps.get(m.key)!;
      const served: Record<string, { imagesPerSecond: number; p50Ms: number; p99Ms: number; errors: number }> = {};
      for (const variant of ['plain', 'dynamic']) {
        const req = request(`${m.key}_${variant}`, [{ name: m.input, shape: [1, ...m.dims], data: sample(m, 1) }]);
        await closedLoop(CONCURRENCY, 1, () => inferOnce(client, req));
        const run = await closedLoop(CONCURRENCY, SECONDS, () => inferOnce(client, req));
        served[variant] = {
          imagesPerSecond: run.requests / run.seconds,
          p50Ms: percentile(run.latenciesMs, 50),
          p99Ms: percentile(run.latenciesMs, 99),
          errors: run.errors,
        };
      }
      const sweepGain = Math.max(...sweep.map((x) => x.imagesPerSecond)) / sweep[0]!.imagesPerSecond;
      const servedGain = served['dynamic']!.imagesPerSecond / served['plain']!.imagesPerSecond;
      const target = sweepGain >= 1.5 ? servedGain >= 1.5 : servedGain >= 0.9 * sweepGain;
      printTable(`2. ${m.describe}: in-process batch sweep (ONNX Runtime, no server)`, ['batch', 'items/s', 'x batch 1'], sweep.map((x) => [x.batch, x.imagesPerSecond, x.imagesPerSecond / sweep[0]!.imagesPerSecond]));
      printTable(`   ${m.describe}: served over gRPC, concurrency ${CONCURRENCY}, batch-1 requests, ${SECONDS} s each`, ['config', 'items/s', 'p50 ms', 'p99 ms', 'errors'], Object.entries(served).map(([k, v]) => [k, v.imagesPerSecond, v.p50Ms, v.p99Ms, v.errors]));
      printTable(`   ${m.describe}: dynamic batching gain`, ['figure', 'value'], [
        ['served gain (dynamic / plain)', servedGain],
        ['sweep gain (best batch / batch 1)', sweepGain],
        ['served gain / sweep gain', servedGain / sweepGain],
        [sweepGain >= 1.5 ? 'target: served gain >= 1.5' : 'target: served gain >= 0.9 x sweep gain', target ? 'met' : 'NOT met'],
      ]);
      results[m.key] = { sweep, served, servedGain, sweepGain, targetMet: target };
    }

    mkdirSync('perf/results', { recursive: true });
    writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), overhead: { inProcessP50Ms: inProcess, grpcP50Ms: servedP50 }, models: results }, null, 2));
    console.log(`\nwrote ${args.out}`);
  } finally {
    client.close();
    await server.stop();
    rmSync(repository, { recursive: true, force: true });
  }
}

await main();
