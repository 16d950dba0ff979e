/**
 * @module test/datatypes.test
 * Round trip of every datatype ONNX Runtime supports through an Identity model, with and
 * without a batch dimension, sent raw and as typed contents (kserve-v2-grpc.md §2.1, §2.2).
 * Outputs must always come back in raw_output_contents, byte for byte.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferTensorContents, ModelInferRequest, ModelInferResponse } from '../../proto/gen/grpc_service.js';
import { expectStatus } from './expect-status.js';
import type { KServeDatatype } from './fixtures/onnx-builder.js';
import { identityModel, type RepositoryModelSpec } from './fixtures/models.js';
import { inferRequest, startTestServer, type TestServer, bytesLayout, noContents } from './helpers.js';

const bytesOf = (view: ArrayBufferView): Uint8Array => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);



interface Sample {
  /** Six elements in the raw little-endian layout. */
  readonly raw: Uint8Array;
  /** The same six elements as typed contents; absent for FP16, which has no typed field. */
  readonly typed?: Partial<InferTensorContents>;
}

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const TWO_53 = 2n ** 53n;

// Six values per datatype, covering each type's extremes (and beyond 2^53 for 64-bit integers).
const SAMPLES: Record<Exclude<KServeDatatype, 'BF16'>, Sample> = (() => {
  const bools = [true, false, true, true, false, false];
  const u8 = [0, 1, 127, 128, 254, 255];
  const u16 = [0, 1, 256, 32768, 65534, 65535];
  const u32 = [0, 1, 65536, 2 ** 31, 4294967294, 4294967295];
  const u64 = [0n, 1n, TWO_53 + 1n, 2n ** 63n, U64_MAX - 1n, U64_MAX];
  const i8 = [-128, -1, 0, 1, 100, 127];
  const i16 = [-32768, -1, 0, 1, 12345, 32767];
  const i32 = [-2147483648, -1, 0, 1, 123456789, 2147483647];
  const i64 = [I64_MIN, -TWO_53 - 1n, -1n, 0n, TWO_53 + 1n, I64_MAX];
  const fp32 = [0, -0, -1.5, Math.fround(0.1), Math.fround(-3.4e38), Math.fround(1e-40)];
  const fp64 = [0, -0, Math.PI, 1e-300, -1.7976931348623157e308, 5e-324];
  // IEEE half bits: 1.0, -2.0, 0.5, 0, 65504 (max), smallest negative subnormal.
  const fp16 = [0x3c00, 0xc000, 0x3800, 0x0000, 0x7bff, 0x8001];
  const strings = ['hello', '', 'héllo wörld', '日本語のテキスト', '', '🙂 emoji'].map(utf8);
  return {
    BOOL: { raw: Uint8Array.from(bools, (b) => (b ? 1 : 0)), typed: { boolContents: bools } },
    UINT8: { raw: Uint8Array.from(u8), typed: { uintContents: u8 } },
    UINT16: { raw: bytesOf(Uint16Array.from(u16)), typed: { uintContents: u16 } },
    UINT32: { raw: bytesOf(Uint32Array.from(u32)), typed: { uintContents: u32 } },
    UINT64: { raw: bytesOf(BigUint64Array.from(u64)), typed: { uint64Contents: u64 } },
    INT8: { raw: bytesOf(Int8Array.from(i8)), typed: { intContents: i8 } },
    INT16: { raw: bytesOf(Int16Array.from(i16)), typed: { intContents: i16 } },
    INT32: { raw: bytesOf(Int32Array.from(i32)), typed: { intContents: i32 } },
    INT64: { raw: bytesOf(BigInt64Array.from(i64)), typed: { int64Contents: i64 } },
    FP16: { raw: bytesOf(Uint16Array.from(fp16)) },
    FP32: { raw: bytesOf(Float32Array.from(fp32)), typed: { fp32Contents: fp32 } },
    FP64: { raw: bytesOf(Float64Array.from(fp64)), typed: { fp64Contents: fp64 } },
    BYTES: { raw: bytesLayout(strings), typed: { bytesContents: strings } },
  };
})();

const DATATYPES = Object.keys(SAMPLES) as Array<keyof typeof SAMPLES>;

const modelName = (datatype: string, batch: boolean) => `identity_${datatype.toLowerCase()}${batch ? '_batch' : ''}`;

/** Batched models take [N, 3] (max_batch_size 4); unbatched ones take [2, 3]. */
function identitySpec(datatype: KServeDatatype, batch: boolean): RepositoryModelSpec {
  const configType = datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
  const dims = batch ? '[ 3 ]' : '[ 2, 3 ]';
  return {
    config: `name: "${modelName(datatype, batch)}"
platform: "onnxruntime_onnx"
max_batch_size: ${batch ? 4 : 0}
input [ { name: "INPUT0" data_type: ${configType} dims: ${dims} } ]
output [ { name: "OUTPUT0" data_type: ${configType} dims: ${dims} } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
    versions: { 1: identityModel(datatype, { batch, dims: batch ? [3] : [2, 3] }) },
  };
}

function request(datatype: string, batch: boolean, data: { raw: Uint8Array } | { typed: Partial<InferTensorContents> }): ModelInferRequest {
  const typed = 'typed' in data;
  return inferRequest({
    modelName: modelName(datatype, batch),
    id: `${datatype}-${batch}-${typed ? 'typed' : 'raw'}`,
    inputs: [
      {
        name: 'INPUT0',
        datatype,
        // Both models get six elements: a batch of 2 rows of 3, or the fixed [2, 3].
        shape: [2n, 3n],
        parameters: {},
        contents: typed ? { ...noContents(), ...data.typed } : undefined,
      },
    ],
    rawInputContents: typed ? [] : [data.raw],
  });
}

function assertRoundTrip(res: ModelInferResponse, datatype: string, expected: Uint8Array): void {
  assert.equal(res.outputs.length, 1);
  const out = res.outputs[0]!;
  assert.equal(out.name, 'OUTPUT0');
  assert.equal(out.datatype, datatype);
  assert.deepEqual(out.shape, [2n, 3n]);
  // Outputs travel only in raw_output_contents, never in typed contents (§2.2).
  assert.equal(out.contents, undefined);
  assert.equal(res.rawOutputContents.length, 1);
  assert.deepEqual(Buffer.from(res.rawOutputContents[0]!), Buffer.from(expected));
}

let t: TestServer;
before(async () => {
  const models: Record<string, RepositoryModelSpec> = {};
  for (const d of DATATYPES) for (const batch of [false, true]) models[modelName(d, batch)] = identitySpec(d, batch);
  t = await startTestServer(models);
});
after(() => t?.close());

test('every identity model loaded', async () => {
  assert.deepEqual(await t.call('serverReady', {}), { ready: true });
  const { models } = await t.call('repositoryIndex', { repositoryName: '', ready: true });
  assert.equal(models.length, DATATYPES.length * 2);
});

for (const datatype of DATATYPES) {
  const sample = SAMPLES[datatype];
  describe(datatype, () => {
    for (const batch of [false, true]) {
      const label = batch ? 'with batch dim' : 'without batch dim';

      test(`raw_input_contents round trip, ${label}`, async () => {
        const res = await t.call('modelInfer', request(datatype, batch, { raw: sample.raw }));
        assert.equal(res.modelName, modelName(datatype, batch));
        assert.equal(res.id, `${datatype}-${batch}-raw`);
        assertRoundTrip(res, datatype, sample.raw);
      });

      if (sample.typed) {
        const typed = sample.typed;
        test(`typed contents round trip, ${label}`, async () => {
          const res = await t.call('modelInfer', request(datatype, batch, { typed }));
          assertRoundTrip(res, datatype, sample.raw);
        });
      } else {
        test(`typed contents are rejected (raw only), ${label}`, async () => {
          // FP16 has no typed field: data in any field is INVALID_ARGUMENT in Triton's words, and no
          // data at all fails the byte size check.
          await expectStatus(
            t.call('modelInfer', request(datatype, batch, { typed: { fp32Contents: [1, 2, 3, 4, 5, 6] } })),
            status.INVALID_ARGUMENT,
            new RegExp(`^unexpected explicit tensor data for input tensor 'INPUT0' for model '\\w+' of type 'FP32', expected datatype '${datatype}'$`),
          );
          await expectStatus(t.call('modelInfer', request(datatype, batch, { typed: {} })), status.INVALID_ARGUMENT, /input byte size mismatch .* got 0$/);
          // The model still serves raw requests afterwards.
          assertRoundTrip(await t.call('modelInfer', request(datatype, batch, { raw: sample.raw })), datatype, sample.raw);
        });
      }
    }
  });
}

test('64-bit integers beyond 2^53 and negatives survive typed contents exactly', async () => {
  const values = [-(2n ** 62n) - 7n, 2n ** 53n + 3n, -1n, 9007199254740993n, I64_MIN, I64_MAX];
  const res = await t.call('modelInfer', request('INT64', true, { typed: { int64Contents: values } }));
  const raw = Uint8Array.from(res.rawOutputContents[0]!);
  assert.deepEqual(Array.from(new BigInt64Array(raw.buffer)), values);
  const unsigned = [2n ** 53n + 1n, 2n ** 63n + 5n, U64_MAX, 0n, 2n ** 60n, 12345678901234567890n];
  const ures = await t.call('modelInfer', request('UINT64', false, { typed: { uint64Contents: unsigned } }));
  assert.deepEqual(Array.from(new BigUint64Array(Uint8Array.from(ures.rawOutputContents[0]!).buffer)), unsigned);
});

test('typed INT8/INT16/UINT8/UINT16 keep the low 1 or 2 bytes of each 32-bit value, as Triton does', async () => {
  // The bytes tritonserver 2.51 answered for the same typed contents, written out.
  const wide = [300, -129, 70000, 65536 + 7, -1, 1 << 20];
  const low1 = Uint8Array.of(44, 127, 112, 7, 255, 0);
  const low2 = Uint8Array.of(44, 1, 127, 255, 112, 17, 7, 0, 255, 255, 0, 0);
  const cases: Array<[string, Partial<InferTensorContents>, Uint8Array]> = [
    ['INT8', { intContents: wide }, low1],
    ['INT16', { intContents: wide }, low2],
    ['UINT8', { uintContents: wide.map((v) => v >>> 0) }, low1],
    ['UINT16', { uintContents: wide.map((v) => v >>> 0) }, low2],
  ];
  for (const [datatype, typed, expected] of cases) {
    const res = await t.call('modelInfer', request(datatype, false, { typed }));
    assert.deepEqual(Buffer.from(res.rawOutputContents[0]!), Buffer.from(expected), datatype);
  }
});

test('BYTES: UTF-8 text and empty strings come back element by element', async () => {
  const texts = ['', 'naïve café', '', 'Ελληνικά', 'x'.repeat(1000), ''];
  const res = await t.call('modelInfer', request('BYTES', true, { raw: bytesLayout(texts.map(utf8)) }));
  const raw = res.rawOutputContents[0]!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const decoded: string[] = [];
  for (let pos = 0; pos < raw.byteLength; ) {
    const len = view.getUint32(pos, true);
    decoded.push(new TextDecoder().decode(raw.subarray(pos + 4, pos + 4 + len)));
    pos += 4 + len;
  }
  assert.deepEqual(decoded, texts);
});
