/**
 * @module inference/typed-contents
 * Converts an input's typed `contents` (InferTensorContents) into the raw little-endian layout
 * the way Triton's gRPC frontend does (server/src/grpc/infer_handler.cc InferGRPCToInput): each
 * non-empty field, in proto order, must be the family of the datatype the request declares, and
 * only one may be used. The element count is not checked here: Triton's core later compares the
 * byte size with the shape ("input byte size mismatch"), and so does parse-request.
 */
import type { InferTensorContents } from '../../../proto/gen/grpc_service.js';
import { invalidArgument } from '../errors.js';
import { joinBytesElements } from '../tensors/tensor.js';

type Field = keyof InferTensorContents;

/**
 * Triton's datatype string (TRITONSERVER_DataTypeString) of what a field carries, given the
 * request's datatype: int_contents carry INT8 and INT16 as well as INT32, uint_contents likewise.
 */
function fieldType(field: Field, datatype: string): string {
  switch (field) {
    case 'boolContents':
      return 'BOOL';
    case 'intContents':
      return datatype === 'INT8' || datatype === 'INT16' ? datatype : 'INT32';
    case 'int64Contents':
      return 'INT64';
    case 'uintContents':
      return datatype === 'UINT8' || datatype === 'UINT16' ? datatype : 'UINT32';
    case 'uint64Contents':
      return 'UINT64';
    case 'fp32Contents':
      return 'FP32';
    case 'fp64Contents':
      return 'FP64';
    case 'bytesContents':
      return 'BYTES';
  }
}

const FIELDS: Field[] = ['boolContents', 'intContents', 'int64Contents', 'uintContents', 'uint64Contents', 'fp32Contents', 'fp64Contents', 'bytesContents'];

function encode(field: Field, type: string, contents: InferTensorContents): Uint8Array {
  switch (field) {
    case 'boolContents':
      return Uint8Array.from(contents.boolContents, (b) => (b ? 1 : 0));
    // Triton keeps the low 1 or 2 bytes of each 32-bit value for the narrow types.
    case 'intContents':
      if (type === 'INT8') return new Uint8Array(Int8Array.from(contents.intContents).buffer);
      if (type === 'INT16') return new Uint8Array(Int16Array.from(contents.intContents).buffer);
      return new Uint8Array(Int32Array.from(contents.intContents).buffer);
    case 'int64Contents':
      return new Uint8Array(BigInt64Array.from(contents.int64Contents).buffer);
    case 'uintContents':
      if (type === 'UINT8') return Uint8Array.from(contents.uintContents);
      if (type === 'UINT16') return new Uint8Array(Uint16Array.from(contents.uintContents).buffer);
      return new Uint8Array(Uint32Array.from(contents.uintContents).buffer);
    case 'uint64Contents':
      return new Uint8Array(BigUint64Array.from(contents.uint64Contents).buffer);
    case 'fp32Contents':
      return new Uint8Array(Float32Array.from(contents.fp32Contents).buffer);
    case 'fp64Contents':
      return new Uint8Array(Float64Array.from(contents.fp64Contents).buffer);
    case 'bytesContents':
      return joinBytesElements(contents.bytesContents);
  }
}

/**
 * Raw bytes of `contents` for input `name` of `model`, declared in the request as `datatype`
 * (the request's string; Triton names an unknown one `<invalid>`). Throws Triton's
 * INVALID_ARGUMENT messages for a field of another type or a second field.
 */
export function rawFromContents(name: string, model: string, datatype: string, contents: InferTensorContents): Uint8Array {
  let raw: Uint8Array = new Uint8Array(0);
  for (const field of FIELDS) {
    if (contents[field].length === 0) continue;
    if (raw.byteLength > 0) {
      throw invalidArgument(`unexpected explicit tensor data for input tensor '${name}' for model '${model}', binary data was already supplied.`);
    }
    const type = fieldType(field, datatype);
    if (type !== datatype) {
      throw invalidArgument(
        `unexpected explicit tensor data for input tensor '${name}' for model '${model}' of type '${type}', expected datatype '${datatype}'`,
      );
    }
    raw = encode(field, type, contents);
  }
  return raw;
}
