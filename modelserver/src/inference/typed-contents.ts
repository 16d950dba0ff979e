/**
 * @module inference/typed-contents
 * Converts an input's typed `contents` (InferTensorContents) into the raw little-endian layout,
 * checking that the field used matches the declared datatype (kserve-v2-grpc.md §2.2).
 */
import type { InferTensorContents } from '../../../proto/gen/grpc_service.js';
import { invalidArgument } from '../errors.js';
import type { Datatype } from '../tensors/datatype.js';
import { joinBytesElements } from '../tensors/tensor.js';

type Field = keyof InferTensorContents;

/** The one typed field each datatype travels in; FP16 and BF16 have none. */
const FIELD: Partial<Record<Datatype, Field>> = {
  BOOL: 'boolContents',
  INT8: 'intContents',
  INT16: 'intContents',
  INT32: 'intContents',
  INT64: 'int64Contents',
  UINT8: 'uintContents',
  UINT16: 'uintContents',
  UINT32: 'uintContents',
  UINT64: 'uint64Contents',
  FP32: 'fp32Contents',
  FP64: 'fp64Contents',
  BYTES: 'bytesContents',
};

const ALL_FIELDS: Field[] = [
  'boolContents', 'intContents', 'int64Contents', 'uintContents',
  'uint64Contents', 'fp32Contents', 'fp64Contents', 'bytesContents',
];

/** Raw bytes of `contents` as `datatype`; throws INVALID_ARGUMENT naming the input otherwise. */
export function rawFromContents(name: string, datatype: Datatype, contents: InferTensorContents, expectedCount: number): Uint8Array {
  const field = FIELD[datatype];
  if (!field) throw invalidArgument(`input '${name}': datatype ${datatype} can only be sent in raw_input_contents`);
  for (const f of ALL_FIELDS) {
    if (f !== field && contents[f].length > 0) {
      throw invalidArgument(`input '${name}': expected ${datatype} data in '${field}', got data in '${f}'`);
    }
  }
  const values = contents[field];
  if (values.length !== expectedCount) {
    throw invalidArgument(`unexpected number of elements for input '${name}': expected ${expectedCount}, got ${values.length}`);
  }
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(contents.boolContents, (b) => (b ? 1 : 0));
    // Triton keeps the low 1 or 2 bytes of each 32-bit value for the narrow types.
    case 'INT8':
      return new Uint8Array(Int8Array.from(contents.intContents).buffer);
    case 'INT16':
      return new Uint8Array(Int16Array.from(contents.intContents).buffer);
    case 'INT32':
      return new Uint8Array(Int32Array.from(contents.intContents).buffer);
    case 'INT64':
      return new Uint8Array(BigInt64Array.from(contents.int64Contents).buffer);
    case 'UINT8':
      return Uint8Array.from(contents.uintContents);
    case 'UINT16':
      return new Uint8Array(Uint16Array.from(contents.uintContents).buffer);
    case 'UINT32':
      return new Uint8Array(Uint32Array.from(contents.uintContents).buffer);
    case 'UINT64':
      return new Uint8Array(BigUint64Array.from(contents.uint64Contents).buffer);
    case 'FP32':
      return new Uint8Array(Float32Array.from(contents.fp32Contents).buffer);
    case 'FP64':
      return new Uint8Array(Float64Array.from(contents.fp64Contents).buffer);
    case 'BYTES':
      return joinBytesElements(contents.bytesContents);
    default:
      throw invalidArgument(`input '${name}': datatype ${datatype} can only be sent in raw_input_contents`);
  }
}
