/**
 * @module backend/onnx-worker
 * Worker-thread entry that owns one ONNX Runtime session (one model instance).
 * onnxruntime-node's `session.run` executes synchronously on the calling thread, so running it
 * here keeps the gRPC event loop free while a model computes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { joinBytesElements, splitBytesElements } from '../tensors/tensor.js';
import { onnxSessionOptions } from './session-options.js';
import {
  ORT_TYPE,
  datatypeFromOrt,
  type FromWorker,
  type SessionSignature,
  type ToWorker,
  type WireTensor,
  type WorkerInit,
} from './worker-protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

const TYPED: Record<string, new (buf: ArrayBuffer, offset: number, length: number) => ArrayLike<unknown>> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  uint64: BigUint64Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

function toOrt(t: WireTensor): ort.Tensor {
  const type = ORT_TYPE[t.datatype];
  if (!type) throw new Error(`datatype ${t.datatype} is not supported by ONNX Runtime`);
  const dims = [...t.shape];
  if (type === 'string') {
    const strings = splitBytesElements(new Uint8Array(t.buffer, 0, t.byteLength)).map((e) => utf8.decode(e));
    return new ort.Tensor('string', strings, dims);
  }
  const Ctor = TYPED[type]!;
  const bytesPer = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const data = new Ctor(t.buffer, 0, t.byteLength / bytesPer);
  return new ort.Tensor(type as 'float32', data as Float32Array, dims);
}

function fromOrt(name: string, tensor: ort.Tensor): WireTensor {
  const datatype = datatypeFromOrt(tensor.type);
  if (!datatype) throw new Error(`output '${name}' has type ${tensor.type}, which the protocol cannot carry`);
  const shape = tensor.dims.map(Number);
  if (tensor.type === 'string') {
    const raw = joinBytesElements((tensor.data as string[]).map((s) => utf8Encoder.encode(s)));
    return { name, datatype, shape, buffer: raw.buffer as ArrayBuffer, byteLength: raw.byteLength };
  }
  const view = tensor.data as Uint8Array;
  // ORT hands back views over memory it owns; copy once into a buffer this thread can transfer.
  const copy = new Uint8Array(view.byteLength);
  copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return { name, datatype, shape, buffer: copy.buffer, byteLength: copy.byteLength };
}

function signatureOf(session: ort.InferenceSession): SessionSignature {
  const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => ({
      name: m.name,
      datatype: m.isTensor ? datatypeFromOrt(m.type) : undefined,
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : String(d))) : [],
    }));
  return { inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) };
}

const createSession = (executionProviders: readonly string[]) =>
  ort.InferenceSession.create(init.modelPath, onnxSessionOptions(init.intraOpThreads, executionProviders));

let session: ort.InferenceSession;
try {
  let cpuFallback: string | undefined;
  try {
    session = await createSession(init.executionProviders);
  } catch (err) {
    // The CUDA provider can be present yet unusable (no device, driver mismatch): run on CPU.
    if (!init.executionProviders.includes('cuda')) throw err;
    cpuFallback = err instanceof Error ? err.message : String(err);
    session = await createSession(['cpu']);
  }
  send({ kind: 'ready', signature: signatureOf(session), cpuFallback });
} catch (err) {
  send({ kind: 'load-error', message: err instanceof Error ? err.message : String(err) });
  process.exit(0);
}

port.on('message', async (msg: ToWorker) => {
  const t0 = process.hrtime.bigint();
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of msg.inputs) feeds[t.name] = toOrt(t);
    const t1 = process.hrtime.bigint();
    const results = await session.run(feeds, msg.outputs);
    const t2 = process.hrtime.bigint();
    const outputs = msg.outputs.map((name) => fromOrt(name, results[name]!));
    const t3 = process.hrtime.bigint();
    send(
      { kind: 'result', id: msg.id, outputs, computeInputNs: t1 - t0, computeInferNs: t2 - t1, computeOutputNs: t3 - t2 },
      outputs.map((o) => o.buffer),
    );
  } catch (err) {
    send({ kind: 'run-error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
});
