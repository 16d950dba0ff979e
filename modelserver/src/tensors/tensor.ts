/**
 * @module tensors/tensor
 * The server's one tensor representation: datatype, shape and little-endian row-major bytes.
 * Keeping raw bytes (not typed arrays) lets batching concatenate and split without knowing
 * the element type, and lets responses go out as `raw_output_contents` without conversion.
 */
import { type Datatype, elementByteSize } from './datatype.js';

export interface Tensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /** Row-major little-endian bytes; BYTES elements as 4-byte LE length + bytes each. */
  readonly raw: Uint8Array;
  /**
   * `raw` is the whole of an ArrayBuffer that nothing else will read once this tensor has gone to
   * a backend, so it may be moved to a worker thread without a copy (see {@link isTransferable}).
   */
  readonly transferable?: boolean;
}

/** True when `t` may be handed to another thread by moving its buffer instead of copying it. */
export function isTransferable(t: Tensor): boolean {
  return t.transferable === true && t.raw.byteOffset === 0 && t.raw.byteLength === t.raw.buffer.byteLength;
}

/** Number of elements a shape holds (1 for a scalar shape []). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Byte size that `shape` of `datatype` must have, or undefined for BYTES (whose size depends on
 * the contents; see `splitBytesElements`).
 */
export function expectedByteSize(datatype: Datatype, shape: readonly number[]): number | undefined {
  const size = elementByteSize(datatype);
  return size === 0 ? undefined : size * elementCount(shape);
}

/**
 * Splits a BYTES tensor's raw layout into its elements (views, no copies). Throws when the
 * layout is malformed: a length running past the end, or trailing bytes.
 */
export function splitBytesElements(raw: Uint8Array): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < raw.byteLength) {
    if (pos + 4 > raw.byteLength) throw new Error('BYTES element length prefix is truncated');
    const len = view.getUint32(pos, true);
    pos += 4;
    if (pos + len > raw.byteLength) throw new Error('BYTES element runs past the end of the tensor');
    out.push(raw.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

/** Joins BYTES elements into the raw 4-byte-length-prefixed layout. */
export function joinBytesElements(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of elements) {
    view.setUint32(pos, e.byteLength, true);
    out.set(e, pos + 4);
    pos += 4 + e.byteLength;
  }
  return out;
}

/**
 * Concatenates tensors along dimension 0 (the batch dimension). All must share datatype and
 * trailing dims; the caller checks that. Raw bytes concatenate for every datatype, BYTES too,
 * because elements are stored in order.
 */
export function concatBatch(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0]!;
  if (tensors.length === 1) return first;
  let rows = 0;
  let bytes = 0;
  for (const t of tensors) {
    rows += t.shape[0] ?? 1;
    bytes += t.raw.byteLength;
  }
  const raw = new Uint8Array(bytes);
  let pos = 0;
  for (const t of tensors) {
    raw.set(t.raw, pos);
    pos += t.raw.byteLength;
  }
  return { datatype: first.datatype, shape: [rows, ...first.shape.slice(1)], raw, transferable: true };
}

/**
 * Splits a batched tensor back into consecutive row ranges of the given sizes (views, no
 * copies). Inverse of `concatBatch`.
 */
export function splitBatch(tensor: Tensor, rowCounts: readonly number[]): Tensor[] {
  if (rowCounts.length === 1) return [tensor];
  const inner = tensor.shape.slice(1);
  const perRow = elementCount(inner);
  const out: Tensor[] = [];
  if (tensor.datatype === 'BYTES') {
    const elements = splitBytesElements(tensor.raw);
    let idx = 0;
    for (const rows of rowCounts) {
      const n = rows * perRow;
      out.push({ datatype: 'BYTES', shape: [rows, ...inner], raw: joinBytesElements(elements.slice(idx, idx + n)) });
      idx += n;
    }
    return out;
  }
  const rowBytes = perRow * elementByteSize(tensor.datatype);
  let pos = 0;
  for (const rows of rowCounts) {
    const len = rows * rowBytes;
    out.push({ datatype: tensor.datatype, shape: [rows, ...inner], raw: tensor.raw.subarray(pos, pos + len) });
    pos += len;
  }
  return out;
}
