/**
 * @module inference/classification
 * Triton's classification extension (kserve-v2-grpc.md §2.6): an output requested with the
 * `classification` parameter is replaced by its top-k entries per batch item, as BYTES strings
 * `<value>:<index>` or `<value>:<index>:<label>`.
 */
import { invalidArgument } from '../errors.js';
import type { Datatype } from '../tensors/datatype.js';
import { elementCount, joinBytesElements, type Tensor } from '../tensors/tensor.js';

const READERS: Partial<Record<Datatype, (v: DataView, i: number) => number | bigint>> = {
  UINT8: (v, i) => v.getUint8(i),
  UINT16: (v, i) => v.getUint16(i * 2, true),
  UINT32: (v, i) => v.getUint32(i * 4, true),
  UINT64: (v, i) => v.getBigUint64(i * 8, true),
  INT8: (v, i) => v.getInt8(i),
  INT16: (v, i) => v.getInt16(i * 2, true),
  INT32: (v, i) => v.getInt32(i * 4, true),
  INT64: (v, i) => v.getBigInt64(i * 8, true),
  FP32: (v, i) => v.getFloat32(i * 4, true),
  FP64: (v, i) => v.getFloat64(i * 8, true),
};

const MAX_ELEMENTS = 1_000_000;
const encoder = new TextEncoder();

/** C++ std::to_string of a float: printf "%f", so never an exponent, and "inf"/"nan". */
function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  // toFixed switches to exponent notation from 1e21; such floats are whole numbers.
  return Math.abs(v) < 1e21 ? v.toFixed(6) : `${BigInt(v)}.000000`;
}

/** Throws INVALID_ARGUMENT unless `tensor`'s datatype can be classified. */
export function assertClassifiable(name: string, datatype: Datatype): void {
  if (!READERS[datatype]) {
    throw invalidArgument(`class result not available for output '${name}' due to unsupported type '${datatype}'`);
  }
}

/**
 * Top-`k` entries of each batch item of `tensor`, highest first. Floats print with six
 * decimals, as C++ std::to_string does in Triton; integers print plainly.
 */
export function classify(name: string, tensor: Tensor, k: number, batching: boolean, labels: readonly string[] | undefined): Tensor {
  const read = READERS[tensor.datatype];
  if (!read) throw invalidArgument(`class result not available for output '${name}' due to unsupported type '${tensor.datatype}'`);
  const total = elementCount(tensor.shape);
  if (total > MAX_ELEMENTS) throw invalidArgument(`output '${name}' has more than ${MAX_ELEMENTS} elements to classify`);
  const batch = batching ? tensor.shape[0]! : 1;
  const perItem = batch === 0 ? 0 : total / batch;
  const keep = Math.min(k, perItem);
  const view = new DataView(tensor.raw.buffer, tensor.raw.byteOffset, tensor.raw.byteLength);
  const isFloat = tensor.datatype === 'FP32' || tensor.datatype === 'FP64';
  const strings: Uint8Array[] = [];
  for (let b = 0; b < batch; b++) {
    const items = Array.from({ length: perItem }, (_, i) => ({ index: i, value: read(view, b * perItem + i) }));
    items.sort((x, y) => (x.value > y.value ? -1 : x.value < y.value ? 1 : x.index - y.index));
    for (const { index, value } of items.slice(0, keep)) {
      const shown = isFloat ? formatFloat(value as number) : String(value);
      const label = labels?.[index];
      strings.push(encoder.encode(label ? `${shown}:${index}:${label}` : `${shown}:${index}`));
    }
  }
  return { datatype: 'BYTES', shape: batching ? [batch, keep] : [keep], raw: joinBytesElements(strings) };
}
