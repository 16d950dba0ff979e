/**
 * @module test/cancellation
 * Abandoned calls over gRPC, on the embedded server and on tritonserver 2.51, with the same
 * model configs and the same assertions: a ModelInfer call cancelled by its client, or whose
 * deadline passes, while it is queued in the dynamic batcher behind a busy instance is never
 * executed and counts as one failure (core scheduler_utils.cc PolicyQueue::ApplyPolicy, then
 * dynamic_batch_scheduler.cc FinishRejectedCancelledRequests); so are the queued requests of a
 * cancelled ModelStreamInfer stream (server src/grpc/infer_handler.h, IssueRequestCancellation).
 * What Triton does not withdraw is asserted too: without dynamic batching a cancelled request
 * runs, and an ensemble's step that was queued before the cancellation runs.
 *
 * Each model has one instance held busy by a blocking request: on tritonserver a python-backend
 * model that sleeps (fixture sleep_model.py), on the embedded server a slow ONNX model. Every
 * model has a `max_queue_size` (any queue policy limit turns off Triton's payload prefetching,
 * with which Triton would put a queued request into a batch ahead of the busy instance, where
 * cancellation is no longer looked at; see batching-triton.test.ts). Verdicts wait on what the
 * server recorded (ModelStatistics); the only clock is the deadline under test, and each test
 * checks that the blocker was still running when its cancellations happened.
 */
import { type ClientDuplexStream, type ClientUnaryCall, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelStatistics,
  type ModelStreamInferResponse,
} from '../../proto/gen/grpc_service.js';
import { startTriton } from '../../triton-harness/start-triton.js';
import { startModelServer } from '../src/index.js';
import { makeTempRepository, slowModel, writeModelRepository, type RepositoryModelSpec } from './fixtures/models.js';
import { f32, inferRequest, quietLog } from './helpers.js';

const FEATURES = 512;
/** The embedded server's blocker: 32 rows of 40 layers, about 2 s on an idle 2-core VM (longer when loaded). */
const EMBEDDED_MODEL = slowModel({ features: FEATURES, layers: 40 });
const BLOCKER_ROWS = 32;
/** Triton's execution time, which a loaded machine does not shorten. */
const TRITON_SLEEP_MS = 3000;
/** Triton records nothing until a request is answered: the blocker is given this long to start. */
const TRITON_RUNNING_MS = 300;
/** The deadline of a call meant to expire in the queue: short against the blocker's execution. */
const DEADLINE_MS = 300;
const SLEEP_MODEL = readFileSync(new URL('./fixtures/sleep_model.py', import.meta.url));

const BOUNDED = 'default_queue_policy { max_queue_size: 100 }';
/** A batch that waits: two requests of 1 row are held 2 s for a preferred size of 16. */
const HELD = 'preferred_batch_size: [ 16 ] max_queue_delay_microseconds: 2000000';
const HELD_TIMEOUT = 'max_queue_size: 2 default_timeout_microseconds: 10000000 allow_timeout_override: true';
/** How long after they were sent a request of a held batch is cancelled: well inside the 2 s delay. */
const HELD_CANCEL_MS = 300;
/** Model name → its `dynamic_batching` block ('' for none). */
const MODELS: Record<string, string> = {
  cancelled: `dynamic_batching { ${BOUNDED} }`,
  expired: `dynamic_batching { ${BOUNDED} }`,
  streamed: `dynamic_batching { ${BOUNDED} }`,
  one_slot: 'dynamic_batching { default_queue_policy { max_queue_size: 1 } }',
  unbatched: '',
  first: `dynamic_batching { ${BOUNDED} }`,
  second: `dynamic_batching { ${BOUNDED} }`,
  held: `dynamic_batching { ${HELD} default_queue_policy { max_queue_size: 2 } }`,
  held_timeout: `dynamic_batching { ${HELD} default_queue_policy { ${HELD_TIMEOUT} } }`,
};
/**
 * The models whose idle instance holds a pending batch: their input has a variable dimension, so
 * Triton wakes its batcher on every arrival (core backend_model.cc enforce_equal_shape_tensors;
 * otherwise an arrival short of the next preferred size waits for the delay to be looked at).
 */
const VARIABLE_DIMS = new Set(['held', 'held_timeout']);

const config = (name: string, batching: string, backend: string) => `name: "${name}"
backend: "${backend}"
max_batch_size: ${BLOCKER_ROWS}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ ${VARIABLE_DIMS.has(name) ? -1 : FEATURES} ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${batching}
parameters [ { key: "sleep_ms" value: { string_value: "${TRITON_SLEEP_MS}" } } ]
`;

/** first → second: the ensemble whose second step the batcher drops. */
const CHAIN = `name: "chain"
platform: "ensemble"
max_batch_size: ${BLOCKER_ROWS}
input [ { name: "IN" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
ensemble_scheduling { step [
  { model_name: "first" model_version: -1 input_map { key: "INPUT0" value: "IN" } output_map { key: "OUTPUT0" value: "MID" } },
  { model_name: "second" model_version: -1 input_map { key: "INPUT0" value: "MID" } output_map { key: "OUTPUT0" value: "OUT" } }
] }
`;

function repository(kind: ServerKind): string {
  const dir = makeTempRepository(`cancellation-${kind}-`);
  const spec = (name: string, batching: string): RepositoryModelSpec =>
    kind === 'triton'
      ? { config: config(name, batching, 'python'), versions: { 1: null }, files: { '1/model.py': SLEEP_MODEL } }
      : { config: config(name, batching, 'onnxruntime'), versions: { 1: EMBEDDED_MODEL } };
  writeModelRepository(dir, {
    ...Object.fromEntries(Object.entries(MODELS).map(([name, batching]) => [name, spec(name, batching)])),
    chain: { config: CHAIN, versions: { 1: null } },
  });
  return dir;
}

type ServerKind = 'embedded' | 'triton';

/** How a call ended: answered, or its gRPC status. */
type Outcome = { ok: true } | { ok: false; code: status; details: string };

interface Target {
  readonly client: GRPCInferenceServiceClient;
  /** Resolves once the blocker just sent to `model` is surely executing (`queued`: the queue count before it). */
  running(model: string, queued: bigint): Promise<void>;
  stop(): Promise<void>;
}

async function startTarget(kind: ServerKind, repo: string): Promise<Target> {
  if (kind === 'triton') {
    const triton = await startTriton({ modelRepository: repo });
    const client = new GRPCInferenceServiceClient(triton.address, credentials.createInsecure());
    return {
      client,
      running: () => new Promise((resolve) => setTimeout(resolve, TRITON_RUNNING_MS)),
      stop: async () => {
        client.close();
        await triton.stop();
      },
    };
  }
  const server = await startModelServer({ modelRepository: repo, grpcPort: 0, log: quietLog });
  const client = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
  return {
    client,
    // The embedded server counts a request's queue wait when its execution starts.
    running: async (model, queued) => {
      for (let tries = 0; (await stats(client, model)).inferenceStats!.queue!.count <= queued; tries++) {
        if (tries > 3000) throw new Error(`no execution of ${model} started`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    stop: async () => {
      client.close();
      await server.stop();
    },
  };
}

const request = (model: string, rows: number): ModelInferRequest =>
  inferRequest({
    modelName: model,
    inputs: [{ name: model === 'chain' ? 'IN' : 'INPUT0', datatype: 'FP32', shape: [BigInt(rows), BigInt(FEATURES)], parameters: {}, contents: undefined }],
    rawInputContents: [f32(Array.from({ length: rows * FEATURES }, (_, i) => ((i % 7) - 3) / 10))],
  });

/** A ModelInfer call, its outcome, and whether it has ended yet. */
interface Call {
  readonly call: ClientUnaryCall;
  readonly outcome: Promise<Outcome>;
  readonly done: () => boolean;
}

function infer(client: GRPCInferenceServiceClient, model: string, rows: number, deadlineMs?: number): Call {
  let ended = false;
  let call!: ClientUnaryCall;
  const options = deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) };
  const outcome = new Promise<Outcome>((resolve) => {
    call = client.modelInfer(request(model, rows), new Metadata(), options, (err: ServiceError | null) => {
      ended = true;
      resolve(err ? { ok: false, code: err.code, details: err.details } : { ok: true });
    });
  });
  return { call, outcome, done: () => ended };
}

function stats(client: GRPCInferenceServiceClient, model: string): Promise<ModelStatistics> {
  return new Promise((resolve, reject) => {
    client.modelStatistics({ name: model, version: '' }, new Metadata(), {}, (err: ServiceError | null, res) =>
      err ? reject(err) : resolve(res.modelStats[0]!),
    );
  });
}

/** What a test compares: the counts ModelStatistics holds for a model. */
interface Counts {
  success: number;
  fail: number;
  queue: number;
  executions: number;
  inferences: number;
  /** batch_size → executions. */
  batches: Array<[number, number]>;
}

const countsOf = (s: ModelStatistics): Counts => ({
  success: Number(s.inferenceStats!.success!.count),
  fail: Number(s.inferenceStats!.fail!.count),
  queue: Number(s.inferenceStats!.queue!.count),
  executions: Number(s.executionCount),
  inferences: Number(s.inferenceCount),
  batches: s.batchStats.map((b) => [Number(b.batchSize), Number(b.computeInfer!.count)]),
});

/**
 * The model's counts once it has recorded `settled` requests (successes and failures): a
 * dropped request is recorded when batch forming reaches it, after the blocker's answer.
 */
async function settledCounts(client: GRPCInferenceServiceClient, model: string, settled: number): Promise<Counts> {
  for (let tries = 0; ; tries++) {
    const counts = countsOf(await stats(client, model));
    if (counts.success + counts.fail >= settled || tries > 1000) return counts;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const CANCELLED_ON_CLIENT = { ok: false, code: status.CANCELLED, details: 'Cancelled on client' };

/** Sends the blocker and resolves once it is executing. */
async function block(target: Target, model: string): Promise<Call> {
  const queued = (await stats(target.client, model)).inferenceStats!.queue!.count;
  const blocker = infer(target.client, model, BLOCKER_ROWS);
  await target.running(model, queued);
  return blocker;
}

/** Fails a run whose blocker ended before the test's cancellations: it could not judge them. */
function assertStillBlocked(blocker: Call): void {
  assert.equal(blocker.done(), false, 'the blocking request ended before the cancellations: the instance was not busy');
}

const expectDeadline = async (c: Call) => assert.equal(((await c.outcome) as { code?: status }).code, status.DEADLINE_EXCEEDED);

for (const kind of ['embedded', 'triton'] as const) {
  describe(`cancellation on ${kind === 'triton' ? 'tritonserver' : 'the embedded server'}`, () => {
    const repo = repository(kind);
    let target: Target;
    before(async () => {
      target = await startTarget(kind, repo);
    });
    after(async () => {
      await target?.stop();
      rmSync(repo, { recursive: true, force: true });
    });

    it('a unary call cancelled while queued behind a busy instance is never executed', async () => {
      const { client } = target;
      const blocker = await block(target, 'cancelled');
      const gone = infer(client, 'cancelled', 1);
      const kept = infer(client, 'cancelled', 1);
      // A call with a deadline, sent after them: once it has expired, both have surely arrived.
      await expectDeadline(infer(client, 'cancelled', 1, DEADLINE_MS));
      gone.call.cancel();
      assert.deepEqual(await gone.outcome, CANCELLED_ON_CLIENT);
      assertStillBlocked(blocker);
      assert.deepEqual([await blocker.outcome, await kept.outcome], [{ ok: true }, { ok: true }]);
      // The blocker and `kept` ran, one execution each; the two abandoned calls failed unexecuted.
      assert.deepEqual(await settledCounts(client, 'cancelled', 4), {
        success: 2,
        fail: 2,
        queue: 2,
        executions: 2,
        inferences: BLOCKER_ROWS + 1,
        batches: [
          [1, 1],
          [BLOCKER_ROWS, 1],
        ],
      });
    });

    // An idle instance: the two calls are taken into the batch being formed, which waits the 2 s
    // delay for a preferred size of 16; then one is cancelled. Triton forms that batch again, and
    // looks at cancellation, only when its cursor is invalid (core scheduler_utils.cc
    // PriorityQueue::IsCursorValid): on every pass while no member has a queue timeout, not
    // before the closest member timeout once one has.
    for (const [model, dropped] of [
      ['held', true],
      ['held_timeout', false],
    ] as const) {
      const what = dropped ? 'without a queue timeout is dropped' : 'with a queue timeout on the model still runs';
      it(`a unary call cancelled after it joined the batch being formed ${what}`, async () => {
        const { client } = target;
        const kept = infer(client, model, 1);
        const gone = infer(client, model, 1);
        await new Promise((resolve) => setTimeout(resolve, HELD_CANCEL_MS));
        assert.equal(kept.done() || gone.done(), false, 'the held batch was sent before the cancellation');
        gone.call.cancel();
        assert.deepEqual(await gone.outcome, CANCELLED_ON_CLIENT);
        assert.deepEqual(await kept.outcome, { ok: true });
        const counts = await settledCounts(client, model, 2);
        assert.deepEqual(
          counts,
          dropped
            ? { success: 1, fail: 1, queue: 1, executions: 1, inferences: 1, batches: [[1, 1]] }
            : // Run with its batch and counted a success, answered to nobody.
              { success: 2, fail: 0, queue: 2, executions: 1, inferences: 2, batches: [[2, 1]] },
        );
      });
    }

    it('a unary call whose deadline passes while queued is never executed', async () => {
      const { client } = target;
      const blocker = await block(target, 'expired');
      const late = [infer(client, 'expired', 1, DEADLINE_MS), infer(client, 'expired', 2, DEADLINE_MS)];
      for (const c of late) await expectDeadline(c);
      assertStillBlocked(blocker);
      assert.deepEqual(await blocker.outcome, { ok: true });
      assert.deepEqual(await settledCounts(client, 'expired', 3), {
        success: 1,
        fail: 2,
        queue: 1,
        executions: 1,
        inferences: BLOCKER_ROWS,
        batches: [[BLOCKER_ROWS, 1]],
      });
    });

    it("a cancelled stream's queued requests are never executed", async () => {
      const { client } = target;
      const blocker = await block(target, 'streamed');
      const stream: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse> = client.modelStreamInfer();
      const ended = new Promise<status>((resolve) => stream.on('error', (err: ServiceError) => resolve(err.code)));
      const answers: ModelStreamInferResponse[] = [];
      stream.on('data', (m: ModelStreamInferResponse) => answers.push(m));
      stream.write(request('streamed', 1));
      stream.write(request('streamed', 1));
      // Sent after them on the same connection: once its deadline has passed, both were read and
      // queued. (An answer on the stream cannot say so: Triton answers a stream's requests in
      // the order they came, so a quick refusal would wait behind them.)
      await expectDeadline(infer(client, 'streamed', 1, DEADLINE_MS));
      stream.cancel();
      assert.equal(await ended, status.CANCELLED);
      assertStillBlocked(blocker);
      assert.deepEqual(await blocker.outcome, { ok: true });
      // Failed unexecuted: the stream's two requests and the expired call.
      const counts = await settledCounts(client, 'streamed', 4);
      assert.deepEqual(counts, { success: 1, fail: 3, queue: 1, executions: 1, inferences: BLOCKER_ROWS, batches: [[BLOCKER_ROWS, 1]] });
      assert.deepEqual(answers, [], 'an answer came on the cancelled stream');
    });

    it('a cancelled request keeps its place against max_queue_size until the instance is free', async () => {
      const { client } = target;
      const blocker = await block(target, 'one_slot');
      await expectDeadline(infer(client, 'one_slot', 1, DEADLINE_MS));
      // The abandoned call still fills the queue's one place; a refused call is counted nowhere.
      const over = await infer(client, 'one_slot', 1).outcome;
      assert.equal((over as { code?: status }).code, status.UNAVAILABLE);
      assert.match((over as { details: string }).details, /Exceeds maximum queue size$/);
      assertStillBlocked(blocker);
      assert.deepEqual(await blocker.outcome, { ok: true });
      const counts = await settledCounts(client, 'one_slot', 2);
      assert.deepEqual(counts, { success: 1, fail: 1, queue: 1, executions: 1, inferences: BLOCKER_ROWS, batches: [[BLOCKER_ROWS, 1]] });
      // Dropped once the instance was free: the place is there again.
      assert.deepEqual(await infer(client, 'one_slot', 1).outcome, { ok: true });
    });

    it('without dynamic batching a cancelled queued call still runs, as Triton runs it', async () => {
      const { client } = target;
      const blocker = await block(target, 'unbatched');
      await expectDeadline(infer(client, 'unbatched', 1, DEADLINE_MS));
      assertStillBlocked(blocker);
      assert.deepEqual(await blocker.outcome, { ok: true });
      // Answered to nobody, but executed and counted a success.
      const counts = await settledCounts(client, 'unbatched', 2);
      assert.deepEqual(counts, {
        success: 2,
        fail: 0,
        queue: 2,
        executions: 2,
        inferences: BLOCKER_ROWS + 1,
        batches: [
          [1, 1],
          [BLOCKER_ROWS, 1],
        ],
      });
    });

    it("an ensemble call's queued step runs on; the step after it is dropped", async () => {
      const { client } = target;
      const blocker = await block(target, 'first');
      await expectDeadline(infer(client, 'chain', 1, DEADLINE_MS));
      assertStillBlocked(blocker);
      assert.deepEqual(await blocker.outcome, { ok: true });
      // Step 1 was its own, uncancelled request when the call expired: it runs after the blocker.
      // Step 2 starts cancelled, and `second`'s batcher drops it unexecuted.
      const [first, second] = [await settledCounts(client, 'first', 2), await settledCounts(client, 'second', 1)];
      assert.deepEqual([first.success, first.fail, first.executions], [2, 0, 2]);
      assert.deepEqual([second.success, second.fail, second.executions], [0, 1, 0]);
      // Triton counts a failed ensemble request twice (see models/ensemble-model.ts).
      const chain = await settledCounts(client, 'chain', 2);
      assert.deepEqual([chain.success, chain.fail, chain.executions], [0, 2, 0]);
    });
  });
}
