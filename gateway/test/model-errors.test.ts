/**
 * Every gRPC status a model server can answer, as the gateway's client turns it into a catalogue
 * error (triton/status-map.ts): the code, its HTTP status, Retry-After, and the gRPC name the
 * client reports to metrics. The statuses come from real servers: the selected model server
 * (embedded, or tritonserver with TEST_MODEL_SERVER=triton) over a small fixture repository made
 * to fail on demand (a full queue, a queue timeout, a batcher that holds requests past their
 * deadline, a model whose ONNX graph fails at run time), a gRPC server without the inference
 * service, and a stopped server. Each case goes through both the unary call and the streams.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Server, ServerCredentials, type ServerDuplexStream, status } from '@grpc/grpc-js';
import { buildModel, OnnxElemType } from '../../modelserver/test/fixtures/onnx-builder.js';
import { addSubModel, makeTempRepository, simpleModelConfig, writeModelRepository } from '../../modelserver/test/fixtures/models.js';
import { startModelServer } from '../../modelserver/src/index.js';
import { InferenceServiceDefinition } from '../../proto/tensor-wire.js';
import { freePort, startTriton } from '../../triton-harness/start-triton.js';
import { type ErrorCode, GatewayError } from '../src/errors/index.js';
import { type ModelCallFailure, type RawTensor, RETRY_JITTER_MS, TritonClient } from '../src/triton/client.js';
import { MODEL_SERVER } from './helpers.js';

/** How long the `held` models keep a request in their queue: long against any call here. */
const HOLD_MS = 2000;

/** FP32 `INPUT0` [batch, 1] indices → Gather from a 4-element table: an index past 3 fails inside ONNX Runtime. */
function gatherModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'INPUT0', elemType: OnnxElemType.INT64, shape: ['batch', 1] }],
    outputs: [{ name: 'OUTPUT0', elemType: OnnxElemType.FP32, shape: ['batch', 1] }],
    initializers: [{ name: 'table', elemType: OnnxElemType.FP32, dims: [4], data: Float32Array.of(10, 20, 30, 40) }],
    nodes: [{ op: 'Gather', inputs: ['table', 'INPUT0'], outputs: ['OUTPUT0'], attributes: { axis: 0 } }],
    graphName: 'gather',
  });
}

const held = (policy: string) =>
  `dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: ${HOLD_MS * 1000} default_queue_policy { ${policy} } }`;

function writeRepository(): string {
  const root = makeTempRepository('model-errors-');
  writeModelRepository(root, {
    simple: { config: simpleModelConfig('simple'), versions: { 1: addSubModel() } },
    // Holds a request for HOLD_MS; room for one in its queue.
    held_one: { config: simpleModelConfig('held_one', held('max_queue_size: 1')), versions: { 1: addSubModel() } },
    // Holds every request for HOLD_MS, however many.
    held: { config: simpleModelConfig('held', held('max_queue_size: 0')), versions: { 1: addSubModel() } },
    // Rejects a request still queued after 100 ms.
    held_reject: { config: simpleModelConfig('held_reject', held('timeout_action: REJECT default_timeout_microseconds: 100000')), versions: { 1: addSubModel() } },
    gather: {
      config: `name: "gather"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT64 dims: [ 1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1 ] } ]
`,
      versions: { 1: gatherModel() },
    },
  });
  return root;
}

const f32 = (...values: number[]): RawTensor => ({ datatype: 'FP32', shape: [1, values.length], raw: new Uint8Array(Float32Array.from(values).buffer) });
const simpleInputs = { INPUT0: f32(1, 2, 3, 4), INPUT1: f32(4, 3, 2, 1) };
const later = () => ({ deadline: Date.now() + 10_000 });

let address: string;
let stopServer: () => Promise<void>;
const calls: Array<{ model: string; failure?: ModelCallFailure }> = [];
let client: TritonClient;

before(async () => {
  const modelRepository = writeRepository();
  if (MODEL_SERVER === 'triton') {
    const triton = await startTriton({ modelRepository });
    address = triton.address;
    stopServer = () => triton.stop();
  } else {
    const server = await startModelServer({ modelRepository, grpcPort: 0, log: () => {} });
    address = server.address;
    stopServer = () => server.stop();
  }
  client = new TritonClient(address, { onCall: (model, _s, failure) => calls.push({ model, ...(failure ? { failure } : {}) }) });
});
after(async () => {
  client.close();
  await stopServer();
});

interface Expected {
  readonly grpc: keyof typeof status;
  readonly code: ErrorCode;
  readonly http: number;
  /** Server's words the detail must carry. */
  readonly detail?: RegExp;
}

/** Checks `err` is the catalogue error `want` describes. */
function check(err: unknown, want: Expected): true {
  assert.ok(err instanceof GatewayError, `not a GatewayError: ${String(err)}`);
  assert.equal(err.code, want.code, err.message);
  assert.equal(err.status, want.http);
  assert.equal(err.retryAfterSeconds, want.http === 503 ? 1 : undefined);
  if (want.detail) assert.match(err.detail, want.detail);
  return true;
}

/** The failure the client reported to onCall for its last call. */
function lastFailure(): ModelCallFailure | undefined {
  return calls.at(-1)?.failure;
}

/** A unary and a streamed call of `model` both end in `want`, and onCall saw the gRPC status. */
async function expectBoth(c: TritonClient, model: string, inputs: Record<string, RawTensor>, want: Expected, options = later): Promise<void> {
  await assert.rejects(c.infer(model, inputs, options()), (e) => check(e, want));
  if (c === client) assert.deepEqual(lastFailure(), { grpcCode: want.grpc, code: want.code });
  await assert.rejects(c.inferStreamed(model, inputs, options()), (e) => check(e, want));
  if (c === client) assert.deepEqual(lastFailure(), { grpcCode: want.grpc, code: want.code });
}

describe('model-server errors through the gateway client', () => {
  it('NOT_FOUND (unknown model) is 502 GW_ERR_TRITON_REJECTED', async () => {
    await expectBoth(client, 'no_such_model', simpleInputs, { grpc: 'NOT_FOUND', code: 'GW_ERR_TRITON_REJECTED', http: 502, detail: /no_such_model/ });
  });

  it('INVALID_ARGUMENT (a shape the model does not take) is 502 GW_ERR_TRITON_REJECTED', async () => {
    const bad = { INPUT0: f32(1, 2, 3), INPUT1: f32(1, 2, 3) };
    await expectBoth(client, 'simple', bad, { grpc: 'INVALID_ARGUMENT', code: 'GW_ERR_TRITON_REJECTED', http: 502, detail: /unexpected shape/ });
  });

  it('INTERNAL (the model fails while running) is 502 GW_ERR_TRITON_INTERNAL', async () => {
    const index = (i: bigint): RawTensor => ({ datatype: 'INT64', shape: [1, 1], raw: new Uint8Array(BigInt64Array.of(i).buffer) });
    // The same model answers an index in range: the failure is the input's, not the setup's.
    const ok = await client.infer('gather', { INPUT0: index(2n) }, later());
    assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(ok.get('OUTPUT0')!.raw).buffer)), [30]);
    await expectBoth(client, 'gather', { INPUT0: index(7n) }, { grpc: 'INTERNAL', code: 'GW_ERR_TRITON_INTERNAL', http: 502 });
  });

  it('UNAVAILABLE from a full queue (max_queue_size) is 503 GW_ERR_OVERLOADED with Retry-After', async () => {
    // The first request (unary: tritonserver takes a stream's next request only once the one
    // before it is answered) waits HOLD_MS for a batch, filling the queue of one.
    const first = client.infer('held_one', simpleInputs, later());
    await new Promise((r) => setTimeout(r, 200));
    await expectBoth(client, 'held_one', simpleInputs, { grpc: 'UNAVAILABLE', code: 'GW_ERR_OVERLOADED', http: 503, detail: /Exceeds maximum queue size/ });
    assert.ok((await first).get('OUTPUT0'), 'the queued request is still answered');
  });

  it('UNAVAILABLE from a queue timeout (timeout_action: REJECT) is 504 GW_ERR_TRITON_DEADLINE: the call\'s time ran out in the queue', async () => {
    await expectBoth(client, 'held_reject', simpleInputs, { grpc: 'UNAVAILABLE', code: 'GW_ERR_TRITON_DEADLINE', http: 504, detail: /timeout/i });
  });

  it('DEADLINE_EXCEEDED (a call held past its deadline) is 504 GW_ERR_TRITON_DEADLINE', async () => {
    const soon = () => ({ deadline: Date.now() + HOLD_MS / 4 });
    await expectBoth(client, 'held', simpleInputs, { grpc: 'DEADLINE_EXCEEDED', code: 'GW_ERR_TRITON_DEADLINE', http: 504 }, soon);
  });

  it('UNIMPLEMENTED (a gRPC server without the inference service at TRITON_URL) is 502 GW_ERR_TRITON_REJECTED', async () => {
    const other = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      other.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const c = new TritonClient(`127.0.0.1:${port}`);
    try {
      await expectBoth(c, 'simple', simpleInputs, { grpc: 'UNIMPLEMENTED', code: 'GW_ERR_TRITON_REJECTED', http: 502 });
    } finally {
      c.close();
      other.forceShutdown();
    }
  });

  it('RESOURCE_EXHAUSTED (a message over a server limit) is 503 GW_ERR_TRITON_UNAVAILABLE', async () => {
    // Stand-in, on purpose: Triton and the embedded server take messages up to INT32_MAX and
    // answer a full queue with UNAVAILABLE (above), so neither sends RESOURCE_EXHAUSTED on
    // demand. A gRPC server or proxy with a smaller receive limit does: here grpc-js's own
    // limit of 64 bytes refuses the request before any handler runs.
    const limited = new Server({ 'grpc.max_receive_message_length': 64 });
    const unreachable = () => assert.fail('the limit must refuse the request before a handler sees it');
    limited.addService(InferenceServiceDefinition, {
      modelInfer: unreachable,
      // A stream's handler runs when it opens; its oversized message never arrives.
      modelStreamInfer: (call: ServerDuplexStream<unknown, unknown>) => call.on('data', unreachable),
    });
    const port = await new Promise<number>((resolve, reject) =>
      limited.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const c = new TritonClient(`127.0.0.1:${port}`);
    try {
      await expectBoth(c, 'simple', simpleInputs, { grpc: 'RESOURCE_EXHAUSTED', code: 'GW_ERR_TRITON_UNAVAILABLE', http: 503 });
    } finally {
      c.close();
      limited.forceShutdown();
    }
  });

  it('CANCELLED (a server closing its connections mid-call) is 503 GW_ERR_TRITON_UNAVAILABLE', async () => {
    // Stand-in, on purpose: Triton and the embedded server finish in-flight requests when they
    // stop and refuse new ones with UNAVAILABLE (run against tritonserver 2.51), so neither
    // cancels a call on demand. A gRPC server torn down mid-call does: grpc-js's forceShutdown
    // cancels the calls it holds, unanswered here.
    const hard = new Server();
    let held = 0;
    const hold = () => void held++;
    hard.addService(InferenceServiceDefinition, { modelInfer: hold, modelStreamInfer: hold });
    const port = await new Promise<number>((resolve, reject) =>
      hard.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const c = new TritonClient(`127.0.0.1:${port}`, { onCall: (model, _s, failure) => calls.push({ model, ...(failure ? { failure } : {}) }) });
    try {
      const unary = c.infer('simple', simpleInputs, later()).catch((e: unknown) => e);
      const streamed = c.inferStreamed('simple', simpleInputs, later()).catch((e: unknown) => e);
      while (held < 2) await new Promise((r) => setTimeout(r, 10));
      hard.forceShutdown();
      const want: Expected = { grpc: 'CANCELLED', code: 'GW_ERR_TRITON_UNAVAILABLE', http: 503 };
      check(await unary, want);
      check(await streamed, want);
      assert.deepEqual(calls.at(-1)?.failure, { grpcCode: 'CANCELLED', code: 'GW_ERR_TRITON_UNAVAILABLE' });
    } finally {
      c.close();
    }
  });

  it('UNAVAILABLE (nothing listening at TRITON_URL) is 503 GW_ERR_TRITON_UNAVAILABLE, after one retry 50-250 ms later (it was never sent)', async () => {
    const seen: number[] = [];
    const c = new TritonClient(`127.0.0.1:${await freePort()}`, { onCall: () => seen.push(performance.now()) });
    try {
      await expectBoth(c, 'simple', simpleInputs, { grpc: 'UNAVAILABLE', code: 'GW_ERR_TRITON_UNAVAILABLE', http: 503 });
      // Two attempts per call, unary and streamed, the second no sooner than the jitter's minimum.
      assert.equal(seen.length, 4);
      assert.ok(seen[1]! - seen[0]! >= RETRY_JITTER_MS.min && seen[3]! - seen[2]! >= RETRY_JITTER_MS.min, `attempts at ${seen.map(Math.round).join(', ')} ms`);
      // No retry when the deadline leaves no room for it.
      seen.length = 0;
      await assert.rejects(c.infer('simple', simpleInputs, { deadline: Date.now() + RETRY_JITTER_MS.min / 2 }));
      assert.equal(seen.length, 1);
    } finally {
      c.close();
    }
  });

  it('a successful call reports no failure', async () => {
    const out = await client.infer('simple', simpleInputs, later());
    assert.deepEqual(calls.at(-1), { model: 'simple' });
    assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(out.get('OUTPUT0')!.raw).buffer)), [5, 5, 5, 5]);
  });
});
