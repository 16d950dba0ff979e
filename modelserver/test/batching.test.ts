/**
 * @module test/batching
 * Scheduling semantics over real gRPC, proven through ModelStatistics (kserve-v2-grpc.md §1.4,
 * §3.5, §4.5, §4.6, §4.8): the dynamic batcher (queue delay, preferred sizes, shape
 * compatibility, queue policies, priority levels), the default scheduler, instance groups,
 * warmup, and the statistics fields themselves.
 *
 * Nothing is judged by the wall clock. A test that needs requests queued behind a busy instance
 * first waits until the server has started the blocking execution (ModelStatistics counts its
 * queue wait then), and the blocking execution is hundreds of milliseconds against the few
 * milliseconds the queued requests take to arrive. Queue delays that must not run out are 10 s
 * or more; durations are read from what the server recorded.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InferStatistics, ModelInferResponse, ModelStatistics, ModelStreamInferResponse } from '../../proto/gen/grpc_service.js';
import { addSubModel, identityModel, slowModel } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

const SLOW_FEATURES = 512;

/** Triton's "simple" add/sub model with the given batching and scheduling lines. */
const addSubConfig = (name: string, extra: string, maxBatchSize = 16) => `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${maxBatchSize}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
${extra}`;

/** The slow model ([batch, 512] → [batch, 512]) on one CPU instance, with a dynamic batcher. */
const slowConfig = (name: string, batching: string, maxBatchSize = 8) => `name: "${name}"
backend: "onnxruntime"
max_batch_size: ${maxBatchSize}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ ${SLOW_FEATURES} ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ ${SLOW_FEATURES} ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${batching}`;

const ONE_INSTANCE = 'instance_group [ { count: 1 kind: KIND_CPU } ]';

const warmupInput = (name: string, source: string) =>
  `inputs { key: "${name}" value: { data_type: TYPE_FP32 dims: [ 4 ] ${source} } }`;

const logs: Array<{ level: string; message: string }> = [];
let t: TestServer;

before(async () => {
  t = await startTestServer(
    {
      batched: {
        config: addSubConfig('batched', `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 10000000 }`),
        versions: { 1: addSubModel() },
      },
      lone: {
        config: addSubConfig('lone', `${ONE_INSTANCE}\ndynamic_batching { max_queue_delay_microseconds: 200000 }`),
        versions: { 1: addSubModel() },
      },
      unbatched: { config: addSubConfig('unbatched', ''), versions: { 1: addSubModel() } },
      preferred: {
        config: addSubConfig(
          'preferred',
          `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 20000000 }`,
          8,
        ),
        versions: { 1: addSubModel() },
      },
      ragged: {
        config: `name: "ragged"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
${ONE_INSTANCE}
dynamic_batching { max_queue_delay_microseconds: 10000000 }`,
        versions: { 1: identityModel('FP32', { batch: true, dims: [-1] }) },
      },
      slow_queue: {
        // allow_timeout_override with no default timeout: Triton has nothing to lower, so a
        // request `timeout` is ignored here.
        config: slowConfig('slow_queue', 'dynamic_batching { default_queue_policy { max_queue_size: 2 allow_timeout_override: true } }'),
        versions: { 1: slowModel() },
      },
      slow_reject: {
        config: slowConfig(
          'slow_reject',
          'dynamic_batching { default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 20000 allow_timeout_override: true } }',
        ),
        versions: { 1: slowModel() },
      },
      slow_override: {
        config: slowConfig(
          'slow_override',
          'dynamic_batching { default_queue_policy { default_timeout_microseconds: 10000000 allow_timeout_override: true } }',
        ),
        versions: { 1: slowModel() },
      },
      slow_fixed: {
        config: slowConfig('slow_fixed', 'dynamic_batching { default_queue_policy { default_timeout_microseconds: 10000000 } }'),
        versions: { 1: slowModel() },
      },
      prio: {
        // Level 1 DELAYs its timed-out requests: they still go before every level-2 request.
        config: slowConfig(
          'prio',
          `dynamic_batching {
  priority_levels: 3
  default_priority_level: 2
  priority_queue_policy { key: 1 value: { timeout_action: DELAY default_timeout_microseconds: 20000 } }
}`,
          1,
        ),
        versions: { 1: slowModel({ layers: 80 }) },
      },
      slow_two: {
        config: slowConfig('slow_two', '').replace('count: 1 kind: KIND_CPU', 'count: 2 kind: KIND_CPU'),
        versions: { 1: slowModel() },
      },
      slow_unordered: {
        config: slowConfig('slow_unordered', 'dynamic_batching { }').replace('count: 1 kind: KIND_CPU', 'count: 2 kind: KIND_CPU'),
        versions: { 1: slowModel() },
      },
      slow_ordered: {
        config: slowConfig('slow_ordered', 'dynamic_batching { preserve_ordering: true }').replace('count: 1 kind: KIND_CPU', 'count: 2 kind: KIND_CPU'),
        versions: { 1: slowModel() },
      },
      gpu: {
        config: addSubConfig('gpu', 'instance_group [ { count: 1 kind: KIND_GPU }, { count: 1 kind: KIND_GPU } ]'),
        versions: { 1: addSubModel() },
      },
      warm_ok: {
        config: addSubConfig(
          'warm_ok',
          `${ONE_INSTANCE}
model_warmup [
  { name: "zeros_and_random" batch_size: 2 ${warmupInput('INPUT0', 'zero_data: true')} ${warmupInput('INPUT1', 'random_data: true')} },
  { name: "from_file" batch_size: 1 count: 2 ${warmupInput('INPUT0', 'input_data_file: "in0.bin"')} ${warmupInput('INPUT1', 'zero_data: true')} }
]`,
        ),
        versions: { 1: addSubModel() },
        files: { 'warmup/in0.bin': f32([1, 2, 3, 4]) },
      },
      warm_missing: {
        config: addSubConfig(
          'warm_missing',
          `${ONE_INSTANCE}
model_warmup [ { name: "missing" batch_size: 1
  ${warmupInput('INPUT0', 'input_data_file: "missing.bin"')} ${warmupInput('INPUT1', 'zero_data: true')} } ]`,
        ),
        versions: { 1: addSubModel() },
      },
      warm_bad_dims: {
        // The config itself is valid; only running the sample on the model shows [1,3] is wrong.
        config: addSubConfig(
          'warm_bad_dims',
          `${ONE_INSTANCE}
model_warmup [ { name: "short_rows" batch_size: 1
  inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 3 ] zero_data: true } } ${warmupInput('INPUT1', 'zero_data: true')} } ]`,
        ),
        versions: { 1: addSubModel() },
      },
      stats: { config: addSubConfig('stats', ONE_INSTANCE), versions: { 1: addSubModel() } },
    },
    { log: (level, message) => logs.push({ level, message }) },
  );
});
after(() => t.close());

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One of a model's inference_stats durations (always present in a snapshot). */
const duration = (s: ModelStatistics, field: keyof InferStatistics) => s.inferenceStats![field]!;

async function statsOf(model: string): Promise<ModelStatistics> {
  const res = await t.call('modelStatistics', { name: model, version: '' });
  assert.equal(res.modelStats.length, 1);
  return res.modelStats[0]!;
}

/** batch_size → execution count, from batch_stats. */
const batchCounts = (s: ModelStatistics) => new Map(s.batchStats.map((b) => [Number(b.batchSize), Number(b.computeInfer!.count)]));

const outputsByName = (res: ModelInferResponse) =>
  new Map(res.outputs.map((o, i) => [o.name, { shape: o.shape.map(Number), values: readF32(res.rawOutputContents[i]!) }]));

/** One add/sub request of batch 1. */
function addSub(model: string, in0: number[], in1: number[], parameters: Record<string, { int64Param: bigint }> = {}) {
  return t.call(
    'modelInfer',
    inferRequest({
      modelName: model,
      parameters,
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined },
        { name: 'INPUT1', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined },
      ],
      rawInputContents: [f32(in0), f32(in1)],
    }),
  );
}

/** Eight distinct integer inputs, so float32 sums and differences are exact. */
const PAIRS = Array.from({ length: 8 }, (_, i) => ({
  in0: [i, 10 * i, 100 + i, -i],
  in1: [1, 2 * i, 3, i * i],
}));

function assertAddSub(res: ModelInferResponse, in0: number[], in1: number[]): void {
  const out = outputsByName(res);
  assert.deepEqual(out.get('OUTPUT0'), { shape: [1, 4], values: in0.map((v, i) => v + in1[i]!) });
  assert.deepEqual(out.get('OUTPUT1'), { shape: [1, 4], values: in0.map((v, i) => v - in1[i]!) });
}

/** A request to the slow model with `rows` rows and optional request parameters. */
function slowRequest(model: string, rows: number, parameters: Record<string, { int64Param: bigint }> = {}, id = '') {
  const values = Array.from({ length: rows * SLOW_FEATURES }, (_, i) => ((i % 7) - 3) / 10);
  return inferRequest({
    modelName: model,
    id,
    parameters,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(rows), BigInt(SLOW_FEATURES)], parameters: {}, contents: undefined }],
    rawInputContents: [f32(values)],
  });
}

const slow = (model: string, rows: number, parameters: Record<string, { int64Param: bigint }> = {}) =>
  t.call('modelInfer', slowRequest(model, rows, parameters));

/**
 * Waits until `model` has started an execution beyond the `queued` requests counted before: the
 * embedded server records a request's queue wait in ModelStatistics when its batch starts.
 */
async function executionStarted(model: string, queued: bigint): Promise<void> {
  for (let tries = 0; duration(await statsOf(model), 'queue').count <= queued; tries++) {
    if (tries > 3000) throw new Error(`no execution of ${model} started`);
    await sleep(5);
  }
}

/**
 * Sends a request of `rows` rows and resolves once its execution has started, with `settled`,
 * its outcome to come (in an object: a promise resolved with a promise would wait for it).
 */
async function runningBlocker(model: string, rows: number, parameters: Record<string, { int64Param: bigint }> = {}) {
  const queued = duration(await statsOf(model), 'queue').count;
  const settled = settle(slow(model, rows, parameters));
  await executionStarted(model, queued);
  return { settled };
}

/** Settles a call as `ok` or its gRPC error. */
const settle = (p: Promise<ModelInferResponse>) =>
  p.then(
    () => ({ ok: true as const }),
    (err: ServiceError) => ({ ok: false as const, code: err.code, details: err.details }),
  );

// ---------------------------------------------------------------------------------------------

describe('dynamic batcher', () => {
  it('(a) merges concurrent requests into fewer executions and splits outputs back per request', async () => {
    const responses = await Promise.all(PAIRS.map(({ in0, in1 }) => addSub('batched', in0, in1)));
    responses.forEach((res, i) => assertAddSub(res, PAIRS[i]!.in0, PAIRS[i]!.in1));

    // preferred_batch_size 8 and a 10 s delay: the eight go as one batch, however they trickle in.
    const s = await statsOf('batched');
    assert.equal(s.inferenceCount, 8n);
    assert.equal(s.executionCount, 1n);
    assert.deepEqual([...batchCounts(s)], [[8, 1]]);
    assert.equal(duration(s, 'success').count, 8n);
    assert.equal(duration(s, 'queue').count, 8n);
  });

  it('(b) without dynamic_batching runs every request as its own execution', async () => {
    const responses = await Promise.all(PAIRS.map(({ in0, in1 }) => addSub('unbatched', in0, in1)));
    responses.forEach((res, i) => assertAddSub(res, PAIRS[i]!.in0, PAIRS[i]!.in1));

    const s = await statsOf('unbatched');
    assert.equal(s.executionCount, 8n);
    assert.equal(s.inferenceCount, 8n);
    assert.deepEqual([...batchCounts(s)], [[1, 8]]);
  });

  it('(c) sends a preferred batch at once instead of waiting out the queue delay', async () => {
    const responses = await Promise.all(PAIRS.slice(0, 4).map(({ in0, in1 }) => addSub('preferred', in0, in1)));
    responses.forEach((res, i) => assertAddSub(res, PAIRS[i]!.in0, PAIRS[i]!.in1));

    const s = await statsOf('preferred');
    assert.deepEqual([...batchCounts(s)], [[4, 1]]);
    assert.equal(s.executionCount, 1n);
    // The queue delay is 20 s: had the batch waited for it, the oldest request alone would have
    // queued 20 s. Four arrivals take a tiny fraction of that on any machine.
    const queue = duration(s, 'queue');
    assert.equal(queue.count, 4n);
    assert.ok(queue.ns < 10_000_000_000n, `the preferred batch queued ${queue.ns} ns in all; it should go out at once`);
  });

  it('(d) holds a lone request for the queue delay, and not much longer', async () => {
    assertAddSub(await addSub('lone', [1, 2, 3, 4], [4, 3, 2, 1]), [1, 2, 3, 4], [4, 3, 2, 1]);
    const s = await statsOf('lone');
    // By the server's own clock: at least the 200 ms delay, and nowhere near 25 times it (a
    // delay read in the wrong unit, or a timer lost, would be seconds or forever).
    const queue = duration(s, 'queue');
    assert.equal(queue.count, 1n);
    assert.ok(queue.ns >= 200_000_000n, `queue time ${queue.ns} ns should cover the 200 ms delay`);
    assert.ok(queue.ns < 5_000_000_000n, `a lone request queued ${queue.ns} ns for a 200 ms delay`);
    assert.deepEqual([...batchCounts(s)], [[1, 1]]);
  });

  it('(e) batches only requests whose variable dims agree', async () => {
    const narrow = (i: number) => [i, i + 0.5, -i];
    const wide = (i: number) => [i, 2 * i, 3 * i, 4 * i, 5 * i];
    const send = (values: number[]) =>
      t.call(
        'modelInfer',
        inferRequest({
          modelName: 'ragged',
          inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1n, BigInt(values.length)], parameters: {}, contents: undefined }],
          rawInputContents: [f32(values)],
        }),
      );
    // With a 10 s delay and preferred size 8 (max_batch_size): the four narrow go when the first
    // wide one closes their batch, the eight wide as one full batch.
    const inputs = [0, 1, 2, 3].map(narrow).concat([0, 1, 2, 3, 4, 5, 6, 7].map(wide));
    const responses = await Promise.all(inputs.map(send));
    responses.forEach((res, i) => {
      const out = outputsByName(res).get('OUTPUT0')!;
      assert.deepEqual(out, { shape: [1, inputs[i]!.length], values: inputs[i] });
    });

    const s = await statsOf('ragged');
    assert.deepEqual([...batchCounts(s)], [[4, 1], [8, 1]]);
  });
});

describe('queue policy', () => {
  it('(f) rejects requests beyond max_queue_size with UNAVAILABLE and serves the rest', async () => {
    const blocker = (await runningBlocker('slow_queue', 8)).settled;
    const results = await Promise.all([blocker, ...Array.from({ length: 8 }, () => settle(slow('slow_queue', 1)))]);
    // The running request and a full queue of 2 are served, the other six refused.
    const full = { ok: false, code: status.UNAVAILABLE, details: 'Exceeds maximum queue size' };
    assert.deepEqual(results.filter((r) => r.ok).length, 3);
    assert.deepEqual(results.filter((r) => !r.ok), Array(6).fill(full));
    const s = await statsOf('slow_queue');
    // Refused before they were queued: Triton counts them nowhere (cancellation.test.ts checks it on tritonserver).
    assert.equal(duration(s, 'fail').count, 0n);
    assert.equal(duration(s, 'success').count, 3n);
    // The two queued requests ran as one batch after the blocker.
    assert.deepEqual([...batchCounts(s)], [[2, 1], [8, 1]]);
  });

  it('(g) rejects requests whose queue timeout expires behind a slow execution', async () => {
    const blocker = (await runningBlocker('slow_reject', 8)).settled;
    // A request cannot raise the 20 ms default, even with allow_timeout_override.
    const queued = [
      settle(slow('slow_reject', 1)),
      settle(slow('slow_reject', 1)),
      settle(slow('slow_reject', 1, { timeout: { int64Param: 10_000_000n } })),
    ];
    const results = await Promise.all([blocker, ...queued]);
    assert.deepEqual(results[0], { ok: true });
    for (const r of results.slice(1)) {
      assert.deepEqual(r, { ok: false, code: status.UNAVAILABLE, details: 'Request timeout expired' });
    }
    const s = await statsOf('slow_reject');
    assert.equal(duration(s, 'fail').count, 3n);
    assert.equal(s.executionCount, 1n);
  });

  it('(h) applies a lower request timeout only where allow_timeout_override permits it', async () => {
    const overridable = (await runningBlocker('slow_override', 8)).settled;
    const [blocker, shortened, untouched] = await Promise.all([
      overridable,
      settle(slow('slow_override', 1, { timeout: { int64Param: 20_000n } })),
      settle(slow('slow_override', 1)),
    ]);
    assert.deepEqual(blocker, { ok: true });
    assert.deepEqual(shortened, { ok: false, code: status.UNAVAILABLE, details: 'Request timeout expired' });
    assert.deepEqual(untouched, { ok: true });

    // Without allow_timeout_override the same request timeout is ignored.
    const fixed = (await runningBlocker('slow_fixed', 8)).settled;
    const ignored = settle(slow('slow_fixed', 1, { timeout: { int64Param: 20_000n } }));
    assert.deepEqual(await Promise.all([fixed, ignored]), [{ ok: true }, { ok: true }]);

    // With no default timeout there is nothing to lower (Triton's PolicyQueue::Enqueue).
    const noDefault = (await runningBlocker('slow_queue', 8)).settled;
    const nothingToLower = settle(slow('slow_queue', 1, { timeout: { int64Param: 20_000n } }));
    assert.deepEqual(await Promise.all([noDefault, nothingToLower]), [{ ok: true }, { ok: true }]);
  });
});

describe('priority levels', () => {
  it('(i) serves queued requests by priority level, then arrival', async () => {
    const done: string[] = [];
    const track = (label: string, p: Promise<unknown>) => p.then(() => done.push(label));
    const running = track('blocker', (await runningBlocker('prio', 1, { priority: { int64Param: 1n } })).settled);
    const queued: Promise<unknown>[] = [];
    // Sent while the blocker still runs (one instance, max_batch_size 1, 80 layers).
    for (const [label, priority] of [
      ['level3', 3n],
      ['default', 0n], // 0 → default_priority_level 2
      ['out_of_range', 9n], // above priority_levels → default level 2, as Triton's SetPriority does
      ['level1', 1n], // times out after 20 ms and is DELAYed, still ahead of level 2
    ] as const) {
      queued.push(track(label, slow('prio', 1, { priority: { int64Param: priority } })));
    }
    await Promise.all([running, ...queued]);
    // Within level 2, arrival order decides (src/scheduler/dynamic-batcher.test.ts pins it down);
    // over gRPC two requests sent together may arrive either way.
    assert.deepEqual([done[0], done[1], new Set(done.slice(2, 4)), done[4]], ['blocker', 'level1', new Set(['default', 'out_of_range']), 'level3']);
    const s = await statsOf('prio');
    assert.equal(s.executionCount, 5n);
    assert.equal(duration(s, 'fail').count, 0n);
  });
});

describe('preserve_ordering', () => {
  // A heavy request (8 rows, a full batch) runs on one instance; a light one (1 row), sent once
  // the heavy one is running, on the other: its execution ends long before the heavy one's.
  // Both go on one ModelStreamInfer stream, which writes each answer when the server releases
  // it, so the order of the stream's answers is the order of release. (Two unary calls could
  // not tell: the heavy answer's larger message may finish arriving after the light one's.)
  const answerOrder = async (model: string) => {
    const stream = t.client.modelStreamInfer();
    const order: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ModelStreamInferResponse) => {
        order.push(r.errorMessage || r.inferResponse!.id);
        if (order.length === 2) stream.end();
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const queued = duration(await statsOf(model), 'queue').count;
    stream.write(slowRequest(model, 8, {}, 'heavy'));
    await executionStarted(model, queued);
    stream.write(slowRequest(model, 1, {}, 'light'));
    await ended;
    return order;
  };

  it('without it, responses return as executions finish', async () => {
    assert.deepEqual(await answerOrder('slow_unordered'), ['light', 'heavy']);
  });

  it('with it, a later request is not answered before an earlier one', async () => {
    assert.deepEqual(await answerOrder('slow_ordered'), ['heavy', 'light']);
    const s = await statsOf('slow_ordered');
    // Both executed, on the two instances, even though the second waited to be answered: the
    // light one did not queue behind the heavy one.
    assert.deepEqual([...batchCounts(s)].sort(), [[1, 1], [8, 1]]);
    const queue = duration(s, 'queue');
    assert.ok(queue.ns * 4n < duration(s, 'computeInfer').ns, `queued ${queue.ns} ns against ${duration(s, 'computeInfer').ns} ns of compute`);
  });
});

describe('instance groups', () => {
  it('(j) runs two requests at once on a group of count 2', async () => {
    // One instance would run a pair one after the other: the second request would queue for the
    // whole of the first one's execution, so the pairs' queue time would be about half their
    // compute time. On two instances neither waits. Both durations are the server's own.
    for (let i = 0; i < 3; i++) await Promise.all([slow('slow_two', 1), slow('slow_two', 1)]);
    const s = await statsOf('slow_two');
    const queuedNs = duration(s, 'queue').ns;
    const inferNs = duration(s, 'computeInfer').ns;
    assert.ok(queuedNs * 4n < inferNs, `pairs queued ${queuedNs} ns against ${inferNs} ns of compute`);
    assert.equal(s.executionCount, 6n);
    assert.deepEqual([...batchCounts(s)], [[1, 6]]);
  });

  it('(j) serves a KIND_GPU model on CPU after exactly one warning', async () => {
    assertAddSub(await addSub('gpu', [1, 2, 3, 4], [1, 1, 1, 1]), [1, 2, 3, 4], [1, 1, 1, 1]);
    const warnings = logs.filter((l) => l.level === 'warn' && l.message.includes("'gpu'"));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.message, /KIND_GPU/);
    const config = await t.call('modelConfig', { name: 'gpu', version: '' });
    assert.equal(config.config!.instanceGroup.length, 2);
  });
});

describe('model warmup', () => {
  it('(k) runs zero_data, random_data and file samples before the model is ready', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'warm_ok', version: '' }), { ready: true });
    assertAddSub(await addSub('warm_ok', [1, 2, 3, 4], [0, 0, 0, 0]), [1, 2, 3, 4], [0, 0, 0, 0]);
    // Warmup executions are not inference traffic.
    const s = await statsOf('warm_ok');
    assert.equal(s.executionCount, 1n);
  });

  it('(k) fails the load when a sample cannot run, and names the reason', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const entry = (name: string) => index.models.find((m) => m.name === name);
    assert.equal(entry('warm_missing')?.state, 'UNAVAILABLE');
    assert.match(entry('warm_missing')!.reason, /missing\.bin/);
    assert.equal(entry('warm_bad_dims')?.state, 'UNAVAILABLE');
    assert.match(entry('warm_bad_dims')!.reason, /warmup sample 'short_rows' failed/);
    assert.deepEqual(await t.call('modelReady', { name: 'warm_missing', version: '1' }), { ready: false });
    await assert.rejects(addSub('warm_missing', [1, 2, 3, 4], [0, 0, 0, 0]), (err: ServiceError) => {
      assert.equal(err.code, status.NOT_FOUND);
      return true;
    });
    // The server stays up (not ready) and other models serve.
    assert.deepEqual(await t.call('serverReady', {}), { ready: false });
    assertAddSub(await addSub('stats', [1, 1, 1, 1], [2, 2, 2, 2]), [1, 1, 1, 1], [2, 2, 2, 2]);
  });
});

describe('statistics', () => {
  it('(l) counts successes, queue and compute time; refused requests are not counted', async () => {
    const before = await statsOf('stats');
    assertAddSub(await addSub('stats', [1, 2, 3, 4], [5, 6, 7, 8]), [1, 2, 3, 4], [5, 6, 7, 8]);
    const bad = inferRequest({
      modelName: 'stats',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1n, 3n], parameters: {}, contents: undefined },
        { name: 'INPUT1', datatype: 'FP32', shape: [1n, 3n], parameters: {}, contents: undefined },
      ],
      rawInputContents: [f32([1, 2, 3]), f32([1, 2, 3])],
    });
    await assert.rejects(t.call('modelInfer', bad), (err: ServiceError) => err.code === status.INVALID_ARGUMENT);
    const s = await statsOf('stats');
    assert.equal(s.name, 'stats');
    assert.equal(s.version, '1');
    // Triton refuses a malformed request before it reaches the model: no failure is counted.
    assert.equal(duration(s, 'fail').count - duration(before, 'fail').count, 0n);
    assert.equal(s.inferenceCount - before.inferenceCount, 1n);
    assert.equal(s.executionCount - before.executionCount, 1n);
    for (const field of ['success', 'queue', 'computeInput', 'computeInfer', 'computeOutput'] as const) {
      assert.equal(duration(s, field).count - duration(before, field).count, 1n, `${field}.count`);
      assert.ok(duration(s, field).ns > duration(before, field).ns, `${field}.ns should grow`);
    }
    // Compute is part of the end-to-end duration a success records.
    assert.ok(duration(s, 'computeInfer').ns < duration(s, 'success').ns);
    assert.equal(duration(s, 'cacheHit').count, 0n);
    assert.ok(Math.abs(Number(s.lastInference) - Date.now()) < 60_000, `last_inference ${s.lastInference} is not a recent ms timestamp`);
    assert.deepEqual([...batchCounts(s)], [[1, Number(s.executionCount)]]);
  });

  it('(l) answers for every loaded model when no name is given', async () => {
    const all = await t.call('modelStatistics', { name: '', version: '' });
    const names = all.modelStats.map((m) => m.name);
    for (const name of ['batched', 'unbatched', 'stats', 'warm_ok']) assert.ok(names.includes(name), name);
    assert.ok(!names.includes('warm_missing'));
  });
});
