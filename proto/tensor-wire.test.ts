/**
 * The hand-written serialisers produce messages that ts-proto's own decoder (and so any protobuf
 * parser, Triton's included) reads back field for field, at tensor sizes whose length prefixes
 * take one, two and three varint bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelInferRequest, ModelInferResponse, ModelStreamInferResponse } from './gen/grpc_service.js';
import { appendLengthDelimited, serializeInferRequest, serializeInferResponse, serializeStreamInferResponse } from './tensor-wire.js';

// Plain Uint8Array views: decoding a Buffer yields Buffer fields, which deepEqual tells apart.
const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const request = (sizes: number[]): ModelInferRequest => ({
  modelName: 'caption_decoder',
  modelVersion: '1',
  id: 'req-7',
  parameters: { priority: { int64Param: 2n } },
  inputs: sizes.map((n, i) => ({ name: `in${i}`, datatype: 'UINT8', shape: [1n, BigInt(n)], parameters: {}, contents: undefined })),
  outputs: [{ name: 'logits', parameters: { classification: { int64Param: 3n } } }],
  rawInputContents: sizes.map((n, i) => bytes(n, i)),
});

const response = (sizes: number[]): ModelInferResponse => ({
  modelName: 'caption_encoder',
  modelVersion: '1',
  id: 'req-8',
  parameters: {},
  outputs: sizes.map((n, i) => ({ name: `out${i}`, datatype: 'UINT8', shape: [BigInt(n)], parameters: {}, contents: undefined })),
  rawOutputContents: sizes.map((n, i) => bytes(n, 100 + i)),
});

describe('tensor-wire serialisers', () => {
  for (const sizes of [[], [0], [5, 127], [128, 16_383], [16_384, 300_000]]) {
    it(`requests and responses with raw tensors of ${JSON.stringify(sizes)} bytes decode to what was sent`, () => {
      const req = request(sizes);
      assert.deepEqual(ModelInferRequest.decode(view(serializeInferRequest(req))), ModelInferRequest.decode(ModelInferRequest.encode(req).finish()));
      const res = response(sizes);
      assert.deepEqual(ModelInferResponse.decode(view(serializeInferResponse(res))), ModelInferResponse.decode(ModelInferResponse.encode(res).finish()));
    });
  }

  it('stream responses keep the embedded response and the error message', () => {
    const ok: ModelStreamInferResponse = { errorMessage: '', inferResponse: response([70_000, 3]) };
    const roundTrip = (m: ModelStreamInferResponse) => ModelStreamInferResponse.decode(ModelStreamInferResponse.encode(m).finish());
    assert.deepEqual(ModelStreamInferResponse.decode(view(serializeStreamInferResponse(ok))), roundTrip(ok));
    const failed: ModelStreamInferResponse = { errorMessage: "unknown model 'x'", inferResponse: { ...response([]), id: 'r1' } };
    assert.deepEqual(ModelStreamInferResponse.decode(view(serializeStreamInferResponse(failed))), roundTrip(failed));
    assert.equal(ModelStreamInferResponse.decode(view(serializeStreamInferResponse(failed))).inferResponse?.id, 'r1');
  });

  it('appends exactly the bytes ts-proto writes for the same field', () => {
    const chunks = [bytes(200, 1), bytes(3, 2)];
    const ours = appendLengthDelimited(new Uint8Array(0), 7, chunks);
    const theirs = ModelInferRequest.encode({ ...request([]), modelName: '', modelVersion: '', id: '', parameters: {}, outputs: [], rawInputContents: chunks }).finish();
    assert.deepEqual(view(ours), theirs);
  });
});
