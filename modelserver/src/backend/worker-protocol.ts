/**
 * @module backend/worker-protocol
 * Messages between a model instance's handle (main thread) and its ONNX Runtime worker.
 * Tensor bytes travel as transferred ArrayBuffers, so crossing threads costs no copy.
 */
import type { Datatype } from '../tensors/datatype.js';

export interface WireTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /** Owned by the message: transferred, always starting at offset 0. */
  readonly buffer: ArrayBuffer;
  readonly byteLength: number;
}

export interface WorkerInit {
  readonly modelPath: string;
  readonly intraOpThreads: number;
  readonly executionProviders: readonly string[];
}

export type ToWorker = { kind: 'run'; id: number; inputs: WireTensor[]; outputs: string[] };

export interface SessionSignature {
  readonly inputs: ReadonlyArray<{ name: string; datatype: Datatype | undefined; shape: ReadonlyArray<number | string> }>;
  readonly outputs: ReadonlyArray<{ name: string; datatype: Datatype | undefined; shape: ReadonlyArray<number | string> }>;
}

export type FromWorker =
  | { kind: 'ready'; signature: SessionSignature; cpuFallback?: string | undefined }
  | { kind: 'load-error'; message: string }
  | {
      kind: 'result';
      id: number;
      outputs: WireTensor[];
      computeInputNs: bigint;
      computeInferNs: bigint;
      computeOutputNs: bigint;
    }
  | { kind: 'run-error'; id: number; message: string };

/** ONNX Runtime's JS tensor type names for each protocol datatype (BF16 has none). */
export const ORT_TYPE: Partial<Record<Datatype, string>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const FROM_ORT = new Map(Object.entries(ORT_TYPE).map(([d, o]) => [o, d as Datatype]));

/** `float32` → `FP32`; undefined for types the protocol cannot carry. */
export function datatypeFromOrt(type: string): Datatype | undefined {
  return FROM_ORT.get(type);
}
