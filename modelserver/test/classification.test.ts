/**
 * @module test/classification
 * The classification extension over real gRPC (kserve-v2-grpc.md §2.6): an output requested
 * with `classification` = k comes back as BYTES strings `<value>:<index>[:<label>]`, top k per
 * batch item, highest first, values printed as C++ std::to_string does.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InferParameter, ModelInferResponse } from '../../proto/gen/grpc_service.js';
import { identityModel, linearClassifierModel } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

const CLASSES = 5;
const FEATURES = 4;
const LABELS = ['cat', 'dog', 'bird', 'fish', 'frog'];
const ENSEMBLE_LABELS = ['CAT', 'DOG', 'BIRD', 'FISH', 'FROG'];

const classifierConfig = (name: string, labels: boolean) => `name: "${name}"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
output [ { name: "PROB" data_type: TYPE_FP32 dims: [ ${CLASSES} ] ${labels ? 'label_filename: "labels.txt"' : ''} } ]
instance_group [ { count: 1 kind: KIND_CPU } ]`;

let t: TestServer;

before(async () => {
  t = await startTestServer({
    classifier: {
      config: classifierConfig('classifier', true),
      versions: { 1: linearClassifierModel(CLASSES, FEATURES) },
      files: { 'labels.txt': `${LABELS.join('\n')}\n` },
    },
    unlabelled: { config: classifierConfig('unlabelled', false), versions: { 1: linearClassifierModel(CLASSES, FEATURES) } },
    // Identity models make the values exact, so the expected strings can be written out.
    scores: {
      config: `name: "scores" backend: "onnxruntime" max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "labels.txt" } ]
instance_group [ { count: 1 kind: KIND_CPU } ]`,
      versions: { 1: identityModel('FP32', { batch: true, dims: [4] }) },
      // Line 3 is empty: that index gets no label suffix.
      files: { 'labels.txt': 'zero\none\ntwo\n\n' },
    },
    counts: {
      config: `name: "counts" backend: "onnxruntime" max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 5 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 5 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]`,
      versions: { 1: identityModel('INT32', { batch: false, dims: [5] }) },
    },
    // The ensemble's own output names its own label file.
    labelled_ensemble: {
      config: `name: "labelled_ensemble" platform: "ensemble" max_batch_size: 8
input [ { name: "features" data_type: TYPE_FP32 dims: [ ${FEATURES} ] } ]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ ${CLASSES} ] label_filename: "labels.txt" } ]
ensemble_scheduling { step { model_name: "unlabelled" model_version: -1
  input_map { key: "INPUT0" value: "features" } output_map { key: "PROB" value: "probabilities" } } }`,
      versions: { 1: null },
      files: { 'labels.txt': `${ENSEMBLE_LABELS.join('\n')}\n` },
    },
  });
});
after(() => t.close());

// ---------------------------------------------------------------------------------------------

/** Splits a BYTES raw tensor (4-byte little-endian length, then bytes, per element). */
function readStrings(raw: Uint8Array): string[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = [];
  for (let pos = 0; pos < raw.byteLength; ) {
    const len = view.getUint32(pos, true);
    out.push(Buffer.from(raw.subarray(pos + 4, pos + 4 + len)).toString('utf8'));
    pos += 4 + len;
  }
  return out;
}

interface Call {
  readonly model: string;
  readonly input: string;
  readonly datatype?: 'FP32' | 'INT32';
  readonly shape: number[];
  readonly raw: Uint8Array;
  readonly output: string;
  /** The output's parameters; omit for the plain tensor. */
  readonly parameters?: Record<string, InferParameter>;
}

function infer(c: Call): Promise<ModelInferResponse> {
  return t.call(
    'modelInfer',
    inferRequest({
      modelName: c.model,
      inputs: [{ name: c.input, datatype: c.datatype ?? 'FP32', shape: c.shape.map(BigInt), parameters: {}, contents: undefined }],
      outputs: [{ name: c.output, parameters: c.parameters ?? {} }],
      rawInputContents: [c.raw],
    }),
  );
}

const top = (k: number | bigint): Record<string, InferParameter> => ({ classification: { int64Param: BigInt(k) } });

/** The single output of a response: datatype, shape and, for BYTES, its strings. */
function onlyOutput(res: ModelInferResponse) {
  assert.equal(res.outputs.length, 1);
  const o = res.outputs[0]!;
  return { name: o.name, datatype: o.datatype, shape: o.shape.map(Number), raw: res.rawOutputContents[0]! };
}

const FEATURE_ROWS = [
  [0.5, -1, 2, 0.25],
  [-2, 1, 0, 3],
];

/** Expected top-k strings for one row of probabilities, from the plain output's values. */
function expectedTopK(probs: number[], k: number, labels: readonly string[] | undefined): Array<{ index: number; value: number; label?: string }> {
  return probs
    .map((value, index) => ({ index, value, ...(labels ? { label: labels[index]! } : {}) }))
    .sort((a, b) => b.value - a.value)
    .slice(0, k);
}

/** Parses `<value>:<index>[:<label>]` and checks the value has six decimals. */
function parseEntry(s: string): { index: number; value: number; label?: string } {
  const m = /^(-?\d+\.\d{6}):(\d+)(?::(.+))?$/.exec(s);
  assert.ok(m, `'${s}' is not <value with 6 decimals>:<index>[:<label>]`);
  return { value: Number(m[1]), index: Number(m[2]), ...(m[3] !== undefined ? { label: m[3] } : {}) };
}

// ---------------------------------------------------------------------------------------------

describe('classification extension', () => {
  it('returns the top k per batch item, highest first, with labels, shape [batch, k]', async () => {
    const call = { model: 'classifier', input: 'INPUT0', shape: [2, FEATURES], raw: f32(FEATURE_ROWS.flat()), output: 'PROB' };
    const plain = onlyOutput(await infer(call));
    const probs = readF32(plain.raw);
    const classified = onlyOutput(await infer({ ...call, parameters: top(3) }));

    assert.deepEqual(
      { name: classified.name, datatype: classified.datatype, shape: classified.shape },
      { name: 'PROB', datatype: 'BYTES', shape: [2, 3] },
    );
    const strings = readStrings(classified.raw);
    assert.equal(strings.length, 6);
    for (let row = 0; row < 2; row++) {
      const got = strings.slice(row * 3, row * 3 + 3).map(parseEntry);
      const want = expectedTopK(probs.slice(row * CLASSES, (row + 1) * CLASSES), 3, LABELS);
      assert.deepEqual(got.map((e) => [e.index, e.label]), want.map((e) => [e.index, e.label]));
      got.forEach((e, i) => assert.ok(Math.abs(e.value - want[i]!.value) <= 5e-7, `${e.value} vs ${want[i]!.value}`));
      // Descending within each row.
      for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.value >= got[i]!.value);
    }
  });

  it('prints values as std::to_string does and leaves empty labels off', async () => {
    const res = await infer({ model: 'scores', input: 'INPUT0', shape: [1, 4], raw: f32([1, 3.3, 2.5, -1]), output: 'OUTPUT0', parameters: top(4) });
    // Index 3's label line is empty, so it has no suffix.
    assert.deepEqual(readStrings(onlyOutput(res).raw), ['3.300000:1:one', '2.500000:2:two', '1.000000:0:zero', '-1.000000:3']);
  });

  it('prints huge and infinite floats in full, without exponents', async () => {
    const raw = f32([2, 1e30, -Infinity, 0.5]);
    const res = await infer({ model: 'scores', input: 'INPUT0', shape: [1, 4], raw, output: 'OUTPUT0', parameters: top(4) });
    assert.deepEqual(readStrings(onlyOutput(res).raw), [
      '1000000015047466219876688855040.000000:1:one', // float32 nearest to 1e30, printed with %f
      '2.000000:0:zero',
      '0.500000:3',
      '-inf:2:two',
    ]);
  });

  it('clamps k to the number of classes', async () => {
    const raw = f32([4, 3, 2, 1, 1, 2, 3, 4]);
    const res = await infer({ model: 'scores', input: 'INPUT0', shape: [2, 4], raw, output: 'OUTPUT0', parameters: top(10) });
    const out = onlyOutput(res);
    assert.deepEqual(out.shape, [2, 4]);
    assert.deepEqual(readStrings(out.raw), [
      '4.000000:0:zero', '3.000000:1:one', '2.000000:2:two', '1.000000:3',
      '4.000000:3', '3.000000:2:two', '2.000000:1:one', '1.000000:0:zero',
    ]);
  });

  it('omits labels when the output has no label_filename', async () => {
    const call = { model: 'unlabelled', input: 'INPUT0', shape: [1, FEATURES], raw: f32(FEATURE_ROWS[0]!), output: 'PROB' };
    const probs = readF32(onlyOutput(await infer(call)).raw);
    const out = onlyOutput(await infer({ ...call, parameters: top(2) }));
    assert.deepEqual(out.shape, [1, 2]);
    const got = readStrings(out.raw).map(parseEntry);
    assert.deepEqual(got.map((e) => [e.index, e.label]), expectedTopK(probs, 2, undefined).map((e) => [e.index, undefined]));
  });

  it('gives shape [k] and plain integers for a model without batching', async () => {
    const raw = new Uint8Array(Int32Array.of(7, -3, 12, 0, 7).buffer);
    const res = await infer({ model: 'counts', input: 'INPUT0', datatype: 'INT32', shape: [5], raw, output: 'OUTPUT0', parameters: top(3) });
    const out = onlyOutput(res);
    assert.deepEqual({ datatype: out.datatype, shape: out.shape }, { datatype: 'BYTES', shape: [3] });
    // Ties keep index order.
    assert.deepEqual(readStrings(out.raw), ['12:2', '7:0', '7:4']);
  });

  it('rejects k <= 0 and a non-int64 parameter with INVALID_ARGUMENT', async () => {
    const call = { model: 'classifier', input: 'INPUT0', shape: [1, FEATURES], raw: f32(FEATURE_ROWS[0]!), output: 'PROB' };
    // Triton 2.51's words (conformance/cases.py: classification 0, classification as string_param).
    const range = "invalid value for 'classification' parameter, expected >= 0";
    const type = "invalid value type for 'classification' parameter, expected int64_param";
    const bad: Array<[Record<string, InferParameter>, string]> = [
      [top(0), range],
      [top(-2), range],
      [{ classification: { stringParam: '3' } }, type],
      [{ classification: { boolParam: true } }, type],
    ];
    for (const [parameters, message] of bad) {
      await assert.rejects(infer({ ...call, parameters }), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT, String(Object.values(parameters['classification']!)));
        assert.equal(err.details, message);
        return true;
      });
    }
  });

  it("uses the ensemble output's own label file", async () => {
    const call = { model: 'labelled_ensemble', input: 'features', shape: [2, FEATURES], raw: f32(FEATURE_ROWS.flat()), output: 'probabilities' };
    const probs = readF32(onlyOutput(await infer(call)).raw);
    const out = onlyOutput(await infer({ ...call, parameters: top(2) }));
    assert.deepEqual({ name: out.name, datatype: out.datatype, shape: out.shape }, { name: 'probabilities', datatype: 'BYTES', shape: [2, 2] });
    const got = readStrings(out.raw).map(parseEntry);
    const want = [0, 1].flatMap((row) => expectedTopK(probs.slice(row * CLASSES, (row + 1) * CLASSES), 2, ENSEMBLE_LABELS));
    assert.deepEqual(got.map((e) => [e.index, e.label]), want.map((e) => [e.index, e.label]));
    assert.ok(got.every((e) => ENSEMBLE_LABELS.includes(e.label!)), 'labels come from the ensemble, not its composing model');
  });
});
