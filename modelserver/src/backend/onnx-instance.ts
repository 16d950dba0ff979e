/**
 * @module backend/onnx-instance
 * Main-thread handle for one ONNX Runtime session living in its own worker thread.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isTransferable, type Tensor } from '../tensors/tensor.js';
import type { ExecutionResult, ModelInstance } from './model-instance.js';
import type { FromWorker, SessionSignature, ToWorker, WireTensor, WorkerInit } from './worker-protocol.js';

// Under tsx the sources are .ts and the worker needs a JS bootstrap that loads tsx first
// (see ts-worker-bootstrap.mjs); compiled builds start the sibling .js worker directly.
const FROM_SOURCES = extname(fileURLToPath(import.meta.url)) === '.ts';
const WORKER_URL = FROM_SOURCES ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : new URL('./onnx-worker.js', import.meta.url);
const TS_ENTRY = new URL('./onnx-worker.ts', import.meta.url).href;

interface Pending {
  resolve: (r: ExecutionResult) => void;
  reject: (e: Error) => void;
}

export class OnnxInstance implements ModelInstance {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(
    readonly name: string,
    private readonly worker: Worker,
    readonly signature: SessionSignature,
    /** Why a session asked to run on CUDA runs on CPU instead, if it does. */
    readonly cpuFallback: string | undefined,
  ) {
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`instance ${name} exited with code ${code}`)));
  }

  /** Starts a worker, loads the model in it, and resolves once the session is ready. */
  static async start(name: string, init: WorkerInit): Promise<OnnxInstance> {
    const worker = new Worker(WORKER_URL, { workerData: FROM_SOURCES ? { ...init, tsEntry: TS_ENTRY } : init });
    const ready = await new Promise<Extract<FromWorker, { kind: 'ready' }>>((resolve, reject) => {
      const onMessage = (msg: FromWorker) => {
        cleanup();
        if (msg.kind === 'ready') resolve(msg);
        else reject(new Error(msg.kind === 'load-error' ? msg.message : `unexpected ${msg.kind} before ready`));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`instance ${name} exited with code ${code} while loading`));
      };
      const cleanup = () => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    return new OnnxInstance(name, worker, ready.signature, ready.cpuFallback);
  }

  execute(inputs: ReadonlyMap<string, Tensor>, outputNames: readonly string[]): Promise<ExecutionResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const wire: WireTensor[] = [];
    for (const [name, t] of inputs) {
      // Otherwise copy into a buffer of our own: request bytes are views into gRPC message
      // buffers, which cannot be transferred, and typed arrays in the worker need aligned offsets.
      const own = isTransferable(t) ? t.raw : Uint8Array.from(t.raw);
      wire.push({ name, datatype: t.datatype, shape: t.shape, buffer: own.buffer as ArrayBuffer, byteLength: own.byteLength });
    }
    const msg: ToWorker = { kind: 'run', id, inputs: wire, outputs: [...outputNames] };
    return new Promise<ExecutionResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(msg, wire.map((w) => w.buffer));
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`instance ${this.name} is closed`);
    await this.worker.terminate();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.kind !== 'result' && msg.kind !== 'run-error') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.kind === 'run-error') {
      p.reject(new Error(msg.message));
      return;
    }
    const outputs = new Map<string, Tensor>();
    for (const o of msg.outputs) {
      outputs.set(o.name, { datatype: o.datatype, shape: o.shape, raw: new Uint8Array(o.buffer, 0, o.byteLength) });
    }
    p.resolve({
      outputs,
      computeInputNs: msg.computeInputNs,
      computeInferNs: msg.computeInferNs,
      computeOutputNs: msg.computeOutputNs,
    });
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
