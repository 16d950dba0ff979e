/**
 * @module proto/tensor-wire
 * The inference service definition both sides use: the generated one, with the serialisers of
 * the messages that carry tensors replaced.
 *
 * Why by hand: ts-proto's writer starts small and doubles (copying) as a message grows, then
 * copies the result twice more (`finish`, `Buffer.from`). A decoder step for 16 captions carries
 * about 270 KB of image embeddings, so each call allocated about 2 MB, and garbage collection took
 * over half of the gateway's CPU per call. Here ts-proto still encodes every small field, and the
 * raw tensor bytes are appended once, into a buffer of the exact size. Protobuf allows this: a
 * message's encoding is the concatenation of its fields' encodings, in any order, and a repeated
 * field's elements may come after the others (parsers merge them).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  ModelInferRequest,
  ModelInferResponse,
  ModelStreamInferResponse,
} from './gen/grpc_service.js';

/** GRPCInferenceService with tensor-carrying messages serialised by {@link serializeInferRequest} and friends. */
export const InferenceServiceDefinition = {
  ...GRPCInferenceServiceService,
  modelInfer: {
    ...GRPCInferenceServiceService.modelInfer,
    requestSerialize: serializeInferRequest,
    responseSerialize: serializeInferResponse,
  },
  modelStreamInfer: {
    ...GRPCInferenceServiceService.modelStreamInfer,
    requestSerialize: serializeInferRequest,
    responseSerialize: serializeStreamInferResponse,
  },
} satisfies ServiceDefinition;

// Field numbers from grpc_service.proto (kserve-v2-grpc.md §1.3).
const RAW_INPUT_CONTENTS = 7;
const RAW_OUTPUT_CONTENTS = 6;
const INFER_RESPONSE = 2;

export function serializeInferRequest(req: ModelInferRequest): Buffer {
  const head = ModelInferRequest.encode({ ...req, rawInputContents: [] }).finish();
  return appendLengthDelimited(head, RAW_INPUT_CONTENTS, req.rawInputContents);
}

export function serializeInferResponse(res: ModelInferResponse): Buffer {
  const head = ModelInferResponse.encode({ ...res, rawOutputContents: [] }).finish();
  return appendLengthDelimited(head, RAW_OUTPUT_CONTENTS, res.rawOutputContents);
}

export function serializeStreamInferResponse(res: ModelStreamInferResponse): Buffer {
  const head = ModelStreamInferResponse.encode({ errorMessage: res.errorMessage, inferResponse: undefined }).finish();
  if (!res.inferResponse) return appendLengthDelimited(head, INFER_RESPONSE, []);
  // The embedded response is field 2, length-delimited: its own small fields, then its raw outputs,
  // all written into the one buffer (no separate buffer for the inner message to be copied from).
  const inner = ModelInferResponse.encode({ ...res.inferResponse, rawOutputContents: [] }).finish();
  const raw = res.inferResponse.rawOutputContents;
  const innerSize = inner.byteLength + fieldsSize(RAW_OUTPUT_CONTENTS, raw);
  const tag = (INFER_RESPONSE << 3) | 2;
  const out = Buffer.allocUnsafe(head.byteLength + varintSize(tag) + varintSize(innerSize) + innerSize);
  out.set(head, 0);
  let pos = writeVarint(out, head.byteLength, tag);
  pos = writeVarint(out, pos, innerSize);
  out.set(inner, pos);
  writeFields(out, pos + inner.byteLength, RAW_OUTPUT_CONTENTS, raw);
  return out;
}

/** `head` followed by each chunk as field `field` (wire type 2), in one buffer of the exact size. */
export function appendLengthDelimited(head: Uint8Array, field: number, chunks: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(head.byteLength + fieldsSize(field, chunks));
  out.set(head, 0);
  writeFields(out, head.byteLength, field, chunks);
  return out;
}

/** Bytes that `chunks` take as length-delimited fields numbered `field`. */
function fieldsSize(field: number, chunks: readonly Uint8Array[]): number {
  const tagSize = varintSize((field << 3) | 2);
  return chunks.reduce((n, c) => n + tagSize + varintSize(c.byteLength) + c.byteLength, 0);
}

/** Writes `chunks` as length-delimited fields numbered `field` at `pos`; returns the end. */
function writeFields(out: Buffer, pos: number, field: number, chunks: readonly Uint8Array[]): number {
  const tag = (field << 3) | 2;
  for (const c of chunks) {
    pos = writeVarint(out, pos, tag);
    pos = writeVarint(out, pos, c.byteLength);
    out.set(c, pos);
    pos += c.byteLength;
  }
  return pos;
}

function varintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeVarint(out: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
