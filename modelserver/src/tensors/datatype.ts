/**
 * @module tensors/datatype
 * The KServe v2 datatype table: protocol strings, element sizes, and the model-config enum
 * (kserve-v2-grpc.md §2.1). One table so the codec, the backend and the config agree.
 */
import { DataType } from '../../../proto/gen/model_config.js';

/** Datatype strings as they travel on the wire (upper-case, case-sensitive). */
export type Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES' | 'BF16';

interface DatatypeInfo {
  /** Bytes per element; 0 for BYTES, whose elements are length-prefixed. */
  readonly byteSize: number;
  readonly configType: DataType;
}

const TABLE: Record<Datatype, DatatypeInfo> = {
  BOOL: { byteSize: 1, configType: DataType.TYPE_BOOL },
  UINT8: { byteSize: 1, configType: DataType.TYPE_UINT8 },
  UINT16: { byteSize: 2, configType: DataType.TYPE_UINT16 },
  UINT32: { byteSize: 4, configType: DataType.TYPE_UINT32 },
  UINT64: { byteSize: 8, configType: DataType.TYPE_UINT64 },
  INT8: { byteSize: 1, configType: DataType.TYPE_INT8 },
  INT16: { byteSize: 2, configType: DataType.TYPE_INT16 },
  INT32: { byteSize: 4, configType: DataType.TYPE_INT32 },
  INT64: { byteSize: 8, configType: DataType.TYPE_INT64 },
  FP16: { byteSize: 2, configType: DataType.TYPE_FP16 },
  FP32: { byteSize: 4, configType: DataType.TYPE_FP32 },
  FP64: { byteSize: 8, configType: DataType.TYPE_FP64 },
  BYTES: { byteSize: 0, configType: DataType.TYPE_STRING },
  BF16: { byteSize: 2, configType: DataType.TYPE_BF16 },
};

const BY_CONFIG_TYPE = new Map<DataType, Datatype>(
  (Object.keys(TABLE) as Datatype[]).map((d) => [TABLE[d].configType, d]),
);

/** True when `s` is one of the protocol's datatype strings. */
export function isDatatype(s: string): s is Datatype {
  return Object.prototype.hasOwnProperty.call(TABLE, s);
}

/** Bytes per element (0 for BYTES). */
export function elementByteSize(datatype: Datatype): number {
  return TABLE[datatype].byteSize;
}

/** `TYPE_FP32` → `FP32`; `TYPE_STRING` → `BYTES`. Undefined for TYPE_INVALID. */
export function datatypeFromConfig(type: DataType): Datatype | undefined {
  return BY_CONFIG_TYPE.get(type);
}

/** `FP32` → `TYPE_FP32`. */
export function configTypeOf(datatype: Datatype): DataType {
  return TABLE[datatype].configType;
}
