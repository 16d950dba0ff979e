/**
 * @module test/batching-triton
 * The dynamic batcher against real Triton (kserve-v2-grpc.md §4.6): the same model configs,
 * served by tritonserver (a python-backend model that sleeps a fixed time per execution) and by
 * the embedded server (a slow ONNX model), get the same burst of requests behind a busy
 * instance, and both must form the same batches, read from ModelStatistics' batch_stats.
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { GRPCInferenceServiceClient, type ModelInferResponse, type ModelStatistics } from '../../proto/gen/grpc_service.js';
import { startTriton } from '../../triton-harness/start-triton.js';
import { startModelServer } from '../src/index.js';
import { makeTempRepository, slowModel, writeModelRepository } from './fixtures/models.js';
import { f32, inferRequest, quietLog } from './helpers.js';

const FEATURES = 512;
/**
 * The embedded server's model: a 32-row execution takes about 0.5 s on an idle 2-core VM, long
 * enough for the burst to queue and, several times slower on a loaded one, shorter than
 * past_preferred's 5 s delay.
 */
const EMBEDDED_MODEL = slowModel({ features: FEATURES, layers: 10 });
/**
 * Triton's execution time: the burst arrives well within the first one, which the test gives
 * {@link TRITON_RUNNING_MS} to have started (Triton's statistics count a request only once it
 * is answered, so there is nothing to wait on).
 */
const TRITON_SLEEP_MS = 2000;
const TRITON_RUNNING_MS = 200;
const SLEEP_MODEL = readFileSync(new URL('./fixtures/sleep_model.py', import.meta.url));

/**
 * food_classifier's batching (max_batch_size 32, one instance) with variations. Every model has
 * a `max_queue_size` queue policy: any queue policy limit turns off Triton's payload prefetching
 * (core src/scheduler_utils.cc, support_prefetching_), with which Triton forms a batch ahead of a
 * busy instance and keeps growing it while it waits, by thread timing (food_classifier's exact
 * config gave 17-19 and then 25-27 for the burst below). Without it Triton forms a batch when an
 * instance is free, from the whole queue, which is what the embedded server does.
 */
const SCENARIOS = [
  {
    // The delay has run out by the time the instance is free: everything pending up to
    // max_batch_size goes, the preferred sizes no longer matter.
    model: 'delay_expired',
    batching: 'preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000',
    burst: { requests: 44, rows: 1 },
    expected: [
      [12, 1],
      [32, 2],
    ],
  },
  {
    // No delay: the largest preferred size that the queue can form, then whatever remains.
    model: 'no_delay',
    batching: 'preferred_batch_size: [ 8, 16 ]',
    burst: { requests: 44, rows: 1 },
    expected: [
      [4, 1],
      [8, 1],
      [16, 2],
      [32, 1],
    ],
  },
  {
    // The delay has not run out when the instance is free, and 3-row requests reach no
    // preferred size: the batch stops before it would pass the largest one (15 rows, not 30);
    // the other 15 rows then wait out the delay.
    model: 'past_preferred',
    batching: 'preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 5000000',
    burst: { requests: 10, rows: 3 },
    expected: [
      [15, 2],
      [32, 1],
    ],
  },
] as const;

const config = (name: string, batching: string, backend: string) => `name: "${name}"
backend: "${backend}"
max_batch_size: 32
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { ${batching} default_queue_policy { max_queue_size: 1000 } }
parameters [ { key: "sleep_ms" value: { string_value: "${TRITON_SLEEP_MS}" } } ]
`;

type Counts = Array<[number, number]>;

interface Client {
  infer(model: string, rows: number): Promise<ModelInferResponse>;
  stats(model: string): Promise<ModelStatistics>;
  /** Resolves once the blocking request's execution is surely under way (`queued`: the queue count before it). */
  running(model: string, queued: bigint): Promise<void>;
  close(): void;
}

/** The embedded server counts a request's queue wait when its execution starts: wait for that. */
async function embeddedRunning(client: Client, model: string, queued: bigint): Promise<void> {
  for (let tries = 0; (await client.stats(model)).inferenceStats!.queue!.count <= queued; tries++) {
    if (tries > 3000) throw new Error(`no execution of ${model} started`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function connect(address: string, running: (client: Client, model: string, queued: bigint) => Promise<void>): Client {
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  const values = (rows: number) => f32(Array.from({ length: rows * FEATURES }, (_, i) => ((i % 5) - 2) / 10));
  const connection: Client = {
    infer: (model, rows) =>
      new Promise((resolve, reject) => {
        const request = inferRequest({
          modelName: model,
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(rows), BigInt(FEATURES)], parameters: {}, contents: undefined }],
          rawInputContents: [values(rows)],
        });
        client.modelInfer(request, new Metadata(), {}, (err: ServiceError | null, res) => (err ? reject(err) : resolve(res)));
      }),
    stats: (model) =>
      new Promise((resolve, reject) => {
        client.modelStatistics({ name: model, version: '' }, new Metadata(), {}, (err: ServiceError | null, res) =>
          err ? reject(err) : resolve(res.modelStats[0]!),
        );
      }),
    running: (model, queued) => running(connection, model, queued),
    close: () => client.close(),
  };
  return connection;
}

const countsOf = (s: ModelStatistics) => new Map(s.batchStats.map((b) => [Number(b.batchSize), Number(b.computeInfer!.count)]));

/**
 * A 32-row request occupies the one instance (a full batch goes at once), the burst queues
 * behind it; returns the batches this run added, batch_size → executions, sorted by size.
 */
async function runBurst(client: Client, scenario: (typeof SCENARIOS)[number]): Promise<Counts> {
  const before = await client.stats(scenario.model);
  const blocker = client.infer(scenario.model, 32);
  // It runs for hundreds of milliseconds (Triton: 2 s), and the burst arrives within a few.
  await client.running(scenario.model, before.inferenceStats!.queue!.count);
  const burst = Array.from({ length: scenario.burst.requests }, () => client.infer(scenario.model, scenario.burst.rows));
  await Promise.all([blocker, ...burst]);
  const earlier = countsOf(before);
  const added = [...countsOf(await client.stats(scenario.model))].map(([size, n]): [number, number] => [size, n - (earlier.get(size) ?? 0)]);
  return added.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
}

/**
 * Triton's answer to a scenario, which the embedded server's must equal. Its execution is a
 * fixed sleep that a loaded machine does not stretch, so a client starved long enough might
 * finish sending the burst only after the sleep: a run that does not form the batches the
 * scenario was built for is run again (twice at most), as a calibration, not a verdict.
 */
async function tritonBatches(client: Client, scenario: (typeof SCENARIOS)[number]): Promise<Counts> {
  let counts = await runBurst(client, scenario);
  for (let retry = 0; retry < 2 && !isDeepStrictEqual(counts, scenario.expected); retry++) counts = await runBurst(client, scenario);
  return counts;
}

const tritonRepository = makeTempRepository('batching-triton-');
const embeddedRepository = makeTempRepository('batching-embedded-');
const fromTriton = new Map<string, Counts>();
const fromEmbedded = new Map<string, Counts>();

before(async () => {
  const python = (s: (typeof SCENARIOS)[number]) => ({
    config: config(s.model, s.batching, 'python'),
    versions: { 1: null },
    files: { '1/model.py': SLEEP_MODEL },
  });
  const onnx = (s: (typeof SCENARIOS)[number]) => ({
    config: config(s.model, s.batching, 'onnxruntime'),
    versions: { 1: EMBEDDED_MODEL },
  });
  writeModelRepository(tritonRepository, Object.fromEntries(SCENARIOS.map((s) => [s.model, python(s)])));
  writeModelRepository(embeddedRepository, Object.fromEntries(SCENARIOS.map((s) => [s.model, onnx(s)])));
  // One server at a time, so neither slows the other on a small machine.
  const triton = await startTriton({ modelRepository: tritonRepository });
  const tritonClient = connect(triton.address, () => new Promise((resolve) => setTimeout(resolve, TRITON_RUNNING_MS)));
  try {
    for (const s of SCENARIOS) fromTriton.set(s.model, await tritonBatches(tritonClient, s));
  } finally {
    tritonClient.close();
    await triton.stop();
  }
  const embedded = await startModelServer({ modelRepository: embeddedRepository, grpcPort: 0, log: quietLog });
  const embeddedClient = connect(embedded.address, embeddedRunning);
  try {
    for (const s of SCENARIOS) fromEmbedded.set(s.model, await runBurst(embeddedClient, s));
  } finally {
    embeddedClient.close();
    await embedded.stop();
  }
});
after(() => {
  for (const dir of [tritonRepository, embeddedRepository]) rmSync(dir, { recursive: true, force: true });
});

describe('dynamic batcher, as Triton forms batches behind a busy instance', () => {
  for (const s of SCENARIOS) {
    it(`${s.model}: ${s.burst.requests} requests of ${s.burst.rows} row(s) behind a full batch`, () => {
      assert.deepEqual(fromTriton.get(s.model), s.expected, 'Triton formed other batches than this scenario was built for');
      assert.deepEqual(fromEmbedded.get(s.model), fromTriton.get(s.model), 'batch_size → executions differ from Triton');
    });
  }
});
