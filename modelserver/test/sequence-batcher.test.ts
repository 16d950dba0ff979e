/**
 * @module test/sequence-batcher
 * The sequence batcher over real gRPC on a real ONNX model with implicit state (the accumulator:
 * OUTPUT is the running sum of a sequence's inputs, restarted by START): Triton's refusals word
 * for word, state carried per sequence and reset by START, one request of a sequence in flight
 * while different sequences batch (Oldest), Direct's slots with their null fillers, the backlog,
 * the idle timeout, and the controls the model sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ServiceError, status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse, ModelStreamInferResponse } from '../../proto/gen/grpc_service.js';
import { sequenceAccumulatorConfig, sequenceAccumulatorModel } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;

before(async () => {
  const model = sequenceAccumulatorModel();
  t = await startTestServer({
    oldest: { config: sequenceAccumulatorConfig('oldest', 8, 'oldest { max_candidate_sequences: 8 }'), versions: { 1: model } },
    direct: { config: sequenceAccumulatorConfig('direct', 4, 'direct { }'), versions: { 1: model } },
    one_slot: { config: sequenceAccumulatorConfig('one_slot', 4, 'oldest { max_candidate_sequences: 1 }'), versions: { 1: model } },
    idle: { config: sequenceAccumulatorConfig('idle', 4, 'oldest { }', 300_000), versions: { 1: model } },
  });
});
after(() => t.close());

interface Step {
  readonly id: bigint | string;
  readonly value: number;
  readonly start?: boolean;
  readonly end?: boolean;
  readonly rows?: number;
}

function request(model: string, s: Step): ModelInferRequest {
  const rows = s.rows ?? 1;
  return inferRequest({
    modelName: model,
    id: `${String(s.id)}:${s.value}`,
    parameters: {
      sequence_id: typeof s.id === 'string' ? { stringParam: s.id } : { int64Param: s.id },
      sequence_start: { boolParam: s.start ?? false },
      sequence_end: { boolParam: s.end ?? false },
    },
    inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [BigInt(rows), 4n], parameters: {}, contents: undefined }],
    rawInputContents: [f32(Array.from({ length: 4 * rows }, () => s.value))],
  });
}

/** The output tensors of a response by name (raw bytes). */
function outputs(res: ModelInferResponse): Map<string, Uint8Array> {
  return new Map(res.outputs.map((o, i) => [o.name, res.rawOutputContents[i]!]));
}

const sum = (res: ModelInferResponse) => readF32(outputs(res).get('OUTPUT')!)[0]!;
const int32 = (res: ModelInferResponse, name: string) => new DataView(Uint8Array.from(outputs(res).get(name)!).buffer).getInt32(0, true);

const infer = (model: string, s: Step) => t.call('modelInfer', request(model, s)) as Promise<ModelInferResponse>;

/** Sends every step on one stream without waiting, and resolves with the answers in order. */
function streamAll(model: string, steps: readonly Step[]): Promise<ModelStreamInferResponse[]> {
  const stream = t.client.modelStreamInfer();
  const answers: ModelStreamInferResponse[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (m: ModelStreamInferResponse) => {
      answers.push(m);
      if (answers.length === steps.length) {
        stream.end();
        resolve(answers);
      }
    });
    stream.on('error', reject);
    for (const s of steps) stream.write(request(model, s));
  });
}

async function rejection(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail('expected the request to fail');
}

async function executions(model: string): Promise<{ inferences: bigint; executions: bigint }> {
  const res = (await t.call('modelStatistics', { name: model, version: '' })) as {
    modelStats: Array<{ inferenceCount: bigint; executionCount: bigint }>;
  };
  return { inferences: res.modelStats[0]!.inferenceCount, executions: res.modelStats[0]!.executionCount };
}

describe('sequence batcher: refusals as Triton words them', () => {
  it('refuses batch size 2, a missing id, a missing START, and a string id over 128 characters', async () => {
    const batch = await rejection(infer('oldest', { id: 5n, value: 1, start: true, rows: 2 }));
    assert.equal(batch.code, status.INVALID_ARGUMENT);
    assert.equal(batch.details, "inference request to model 'oldest' must specify batch-size 1 due to requirements of sequence batcher");
    const none = await rejection(infer('oldest', { id: 0n, value: 1, start: true }));
    assert.equal(none.details, "inference request to model 'oldest' must specify a non-zero or non-empty correlation ID");
    const empty = await rejection(infer('oldest', { id: '', value: 1, start: true }));
    assert.equal(empty.code, status.INVALID_ARGUMENT);
    const noStart = await rejection(infer('oldest', { id: 77n, value: 1 }));
    assert.equal(noStart.code, status.INVALID_ARGUMENT);
    assert.equal(
      noStart.details,
      "inference request for sequence 77 to model 'oldest' must specify the START flag on the first request of the sequence",
    );
    const long = await rejection(infer('oldest', { id: 'x'.repeat(129), value: 1, start: true }));
    assert.equal(long.code, status.UNIMPLEMENTED);
    assert.equal(long.details, 'string correlation ID cannot be longer than 128 characters');
  });

  it('refuses a request after its sequence ended', async () => {
    await infer('oldest', { id: 8n, value: 1, start: true });
    await infer('oldest', { id: 8n, value: 1, end: true });
    const after = await rejection(infer('oldest', { id: 8n, value: 1 }));
    assert.match(after.details, /^inference request for sequence 8 to model 'oldest' must specify the START flag/);
  });
});

describe('sequence batcher: implicit state', () => {
  it('carries each sequence its own running sum, restarted by START, with the controls the model sees', async () => {
    const a1 = await infer('oldest', { id: 1n, value: 1, start: true });
    const b1 = await infer('oldest', { id: 'one', value: 100, start: true });
    const a2 = await infer('oldest', { id: 1n, value: 2 });
    const b2 = await infer('oldest', { id: 'one', value: 100 });
    assert.deepEqual([sum(a1), sum(a2), sum(b1), sum(b2)], [1, 3, 100, 200]);
    assert.deepEqual([int32(a1, 'START_OUT'), int32(a2, 'START_OUT'), int32(a2, 'READY_OUT'), int32(a2, 'END_OUT')], [1, 0, 1, 0]);
    assert.equal(new DataView(Uint8Array.from(outputs(a2).get('CORRID_OUT')!).buffer).getBigUint64(0, true), 1n);
    // A START on an active sequence resets its state (Triton logs a conflict, refuses nothing).
    const restarted = await infer('oldest', { id: 1n, value: 5, start: true });
    assert.equal(sum(restarted), 5);
    const last = await infer('oldest', { id: 1n, value: 1, end: true });
    assert.deepEqual([sum(last), int32(last, 'END_OUT')], [6, 1]);
    await infer('oldest', { id: 'one', value: 0, end: true });
  });

  it('keeps the string "42" and the integer 42 apart', async () => {
    await infer('oldest', { id: 42n, value: 1, start: true });
    await infer('oldest', { id: '42', value: 10, start: true });
    assert.equal(sum(await infer('oldest', { id: 42n, value: 1, end: true })), 2);
    assert.equal(sum(await infer('oldest', { id: '42', value: 10, end: true })), 20);
  });

  it('Oldest: pipelined steps of one sequence run one at a time, in order, while sequences batch together', async () => {
    const before = await executions('oldest');
    const steps: Step[] = [];
    for (let k = 1; k <= 10; k++) {
      for (const id of [11n, 12n, 13n, 14n]) steps.push({ id, value: Number(id - 10n), start: k === 1, end: k === 10 });
    }
    const answers = await streamAll('oldest', steps);
    answers.forEach((a, i) => {
      assert.equal(a.errorMessage, '');
      const step = Math.floor(i / 4) + 1;
      assert.equal(sum(a.inferResponse!), steps[i]!.value * step, `step ${step} of sequence ${steps[i]!.id}`);
    });
    const now = await executions('oldest');
    assert.equal(now.inferences - before.inferences, 40n);
    assert.ok(now.executions - before.executions < 40n, `40 requests in ${now.executions - before.executions} executions: steps of different sequences must batch`);
  });

  it('Direct: a batch fills empty slots below the highest with null requests that leave other states alone', async () => {
    await infer('direct', { id: 21n, value: 1, start: true }); // slot 0
    await infer('direct', { id: 22n, value: 2, start: true }); // slot 1
    await infer('direct', { id: 23n, value: 3, start: true }); // slot 2
    await infer('direct', { id: 22n, value: 2, end: true }); // frees slot 1
    // Only slot 2 has a request: slots 0 and 1 run as null requests with dummy states.
    assert.equal(sum(await infer('direct', { id: 23n, value: 3 })), 6);
    assert.equal(sum(await infer('direct', { id: 21n, value: 1 })), 2);
    // The freed slot 1 goes to the next sequence, which starts from the initial state.
    assert.equal(sum(await infer('direct', { id: 24n, value: 7, start: true })), 7);
    for (const id of [21n, 23n, 24n]) await infer('direct', { id, value: 0, end: true });
  });
});

describe('sequence batcher: slots, backlog and idle sequences', () => {
  it('backlogs a sequence while every slot is held, and gives it the slot the first one frees', async () => {
    await infer('one_slot', { id: 31n, value: 1, start: true });
    let waitingDone = false;
    const waiting = infer('one_slot', { id: 32n, value: 10, start: true }).then((r) => {
      waitingDone = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(waitingDone, false, 'the backlogged sequence ran while the only slot was held');
    assert.equal(sum(await infer('one_slot', { id: 31n, value: 1, end: true })), 2);
    assert.equal(sum(await waiting), 10);
    assert.equal(sum(await infer('one_slot', { id: 32n, value: 10, end: true })), 20);
  });

  it('forgets a sequence idle past max_sequence_idle_microseconds, and frees its slot', async () => {
    await infer('idle', { id: 41n, value: 1, start: true });
    await new Promise((r) => setTimeout(r, 600));
    const lost = await rejection(infer('idle', { id: 41n, value: 1 }));
    assert.equal(lost.code, status.INVALID_ARGUMENT);
    assert.match(lost.details, /^inference request for sequence 41 to model 'idle' must specify the START flag/);
    // A sequence that keeps sending is not reaped.
    await infer('idle', { id: 42n, value: 1, start: true });
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await infer('idle', { id: 42n, value: 1 });
    }
    assert.equal(sum(await infer('idle', { id: 42n, value: 1, end: true })), 6);
  });
});

describe('sequence batcher: server metadata', () => {
  it("lists the 'sequence' extension", async () => {
    const res = (await t.call('serverMetadata', {})) as { extensions: string[] };
    assert.ok(res.extensions.includes('sequence'));
  });
});
