/**
 * @module inference/parse-request.test
 * What a valid ModelInferRequest becomes (the scheduler job, the outputs to answer) and what
 * Triton refuses, in its words, called directly on models built from real configs. Every
 * refusal here was answered the same by tritonserver 2.51 (conformance/cases.py, and the cases
 * of modelserver/test/request-errors.test.ts, which run the same requests over gRPC); the
 * exceptions are named where they occur.
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferParameter, ModelInferRequest, ModelInferRequest_InferInputTensor } from '../../../proto/gen/grpc_service.js';
import { normaliseModelConfig, parseModelConfigText } from '../config/index.js';
import { InferenceServerError } from '../errors.js';
import type { ServedModel } from '../models/served-model.js';
import { ModelStats } from '../stats/model-stats.js';
import { incompleteStringError, parseInferRequest, requestPrefix } from './parse-request.js';

/**
 * A loaded model as parseInferRequest sees it: its name and normalised config. Parsing never
 * runs a model, so `infer` and `unload` only refuse.
 */
function model(name: string, body: string): ServedModel {
  const config = normaliseModelConfig(parseModelConfigText(`name: "${name}"\nbackend: "onnxruntime"\n${body}`, `${name}/config.pbtxt`), name);
  return {
    name,
    version: 1,
    config,
    labels: new Map(),
    stats: new ModelStats(name, '1'),
    infer: () => Promise.reject(new Error('not run in these tests')),
    unload: async () => {},
  };
}

const simple = model(
  'simple',
  `max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]`,
);
const fixed = model(
  'fixed',
  `max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 2, -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 2, -1 ] } ]`,
);
const strings = model(
  'strings',
  `max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ 2 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ 2 ] }, { name: "LENGTHS" data_type: TYPE_INT32 dims: [ 2 ] } ]`,
);
const optional = model(
  'opt',
  `max_batch_size: 4
input [ { name: "A" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "B" data_type: TYPE_FP32 dims: [ 2 ] optional: true },
        { name: "C" data_type: TYPE_FP32 dims: [ 2 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 2 ] } ]`,
);
const variable = model(
  'variable',
  `max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]`,
);
const wordList = model(
  'words',
  `max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]`,
);

const input = (name: string, shape: Array<number | bigint>, datatype = 'FP32', parameters: Record<string, InferParameter> = {}): ModelInferRequest_InferInputTensor => ({
  name,
  datatype,
  shape: shape.map(BigInt),
  parameters,
  contents: undefined,
});

function request(modelName: string, partial: Partial<ModelInferRequest>): ModelInferRequest {
  return { modelName, modelVersion: '', id: '', parameters: {}, inputs: [], outputs: [], rawInputContents: [], ...partial };
}

const floats = (n: number, start = 0) => new Uint8Array(Float32Array.from({ length: n }, (_, i) => start + i).buffer);

/** BYTES elements, each a 4-byte little-endian length then the bytes. */
function bytesLayout(...elements: string[]): Uint8Array {
  const parts = elements.map((e) => new TextEncoder().encode(e));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    new DataView(out.buffer).setUint32(pos, p.byteLength, true);
    out.set(p, pos + 4);
    pos += 4 + p.byteLength;
  }
  return out;
}

/** A request to `simple` with `rows` rows in each input. */
const simpleRequest = (rows: number, partial: Partial<ModelInferRequest> = {}) =>
  request('simple', { inputs: [input('INPUT0', [rows, 4]), input('INPUT1', [rows, 4])], rawInputContents: [floats(4 * rows), floats(4 * rows, 100)], ...partial });

function refuses(req: ModelInferRequest, served: ServedModel, message: string, code = status.INVALID_ARGUMENT): void {
  assert.throws(
    () => parseInferRequest(req, served),
    (err: unknown) => {
      assert.ok(err instanceof InferenceServerError, String(err));
      assert.equal(err.message, message);
      assert.equal(err.code, code);
      return true;
    },
  );
}

const NO_ID = '[request id: <id_unknown>] ';

describe('parseInferRequest: the job', () => {
  it('carries the inputs in request order, the batch size, the wanted outputs and the parameters', () => {
    const req = simpleRequest(2, {
      inputs: [input('INPUT1', [2, 4]), input('INPUT0', [2, 4])],
      outputs: [{ name: 'OUTPUT1', parameters: { classification: { int64Param: 2n } } }, { name: 'OUTPUT0', parameters: {} }],
      parameters: { priority: { int64Param: 2n }, timeout: { int64Param: 100n }, sequence_id: { stringParam: 'x' }, sequence_start: { boolParam: true } },
    });
    const parsed = parseInferRequest(req, simple);
    assert.deepEqual([...parsed.job.inputs.keys()], ['INPUT1', 'INPUT0']);
    // raw_input_contents pair with the inputs in request order.
    assert.equal(parsed.job.inputs.get('INPUT1')!.raw, req.rawInputContents[0]);
    assert.equal(parsed.job.inputs.get('INPUT0')!.raw, req.rawInputContents[1]);
    assert.deepEqual(parsed.job.inputs.get('INPUT0')!.shape, [2, 4]);
    assert.equal(parsed.job.inputs.get('INPUT0')!.datatype, 'FP32');
    assert.equal(parsed.job.batchSize, 2);
    assert.deepEqual(parsed.job.outputNames, ['OUTPUT1', 'OUTPUT0']);
    assert.deepEqual(parsed.outputs, [{ name: 'OUTPUT1', classification: 2 }, { name: 'OUTPUT0', classification: 0 }]);
    assert.equal(parsed.job.priority, 2);
    assert.equal(parsed.job.timeoutUs, 100);
    assert.deepEqual(parsed.sequence, { id: 'x', start: true, end: false });
  });

  it('wants every output, unclassified, when none is named', () => {
    const parsed = parseInferRequest(simpleRequest(1), simple);
    assert.deepEqual(parsed.outputs, [{ name: 'OUTPUT0', classification: 0 }, { name: 'OUTPUT1', classification: 0 }]);
    assert.deepEqual(parsed.job.outputNames, ['OUTPUT0', 'OUTPUT1']);
  });

  it('answers an output named twice once, with the first classification asked for', () => {
    // As tritonserver 2.51 does (a set of requested outputs; the first count per name).
    const twice = (...ks: number[]) =>
      parseInferRequest(simpleRequest(1, { outputs: ks.map((k) => ({ name: 'OUTPUT0', parameters: k ? { classification: { int64Param: BigInt(k) } } : ({} as Record<string, InferParameter>) })) }), simple);
    assert.deepEqual(twice(0, 0).outputs, [{ name: 'OUTPUT0', classification: 0 }]);
    assert.deepEqual(twice(0, 2).outputs, [{ name: 'OUTPUT0', classification: 2 }]);
    assert.deepEqual(twice(2, 0).outputs, [{ name: 'OUTPUT0', classification: 2 }]);
    assert.deepEqual(twice(1, 2).outputs, [{ name: 'OUTPUT0', classification: 1 }]);
    assert.deepEqual(twice(0, 0).job.outputNames, ['OUTPUT0']);
  });

  it('has batch size 1 and the whole shape for a model without batching', () => {
    const parsed = parseInferRequest(request('fixed', { inputs: [input('INPUT0', [2, 3])], rawInputContents: [floats(6)] }), fixed);
    assert.equal(parsed.job.batchSize, 1);
    assert.deepEqual(parsed.job.inputs.get('INPUT0')!.shape, [2, 3]);
  });

  it('reads typed contents when no raw contents are sent', () => {
    const typed = { ...input('INPUT0', [1, 4]), contents: { ...emptyContents(), fp32Contents: [1, 2, 3, 4] } };
    const other = { ...input('INPUT1', [1, 4]), contents: { ...emptyContents(), fp32Contents: [5, 6, 7, 8] } };
    const parsed = parseInferRequest(request('simple', { inputs: [typed, other] }), simple);
    assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(parsed.job.inputs.get('INPUT1')!.raw).buffer)), [5, 6, 7, 8]);
  });

  it('takes the batch size as a uint32, as Triton does, and gives the backend that batch', () => {
    // Dimension 0 of 2^32 + 2 is batch 2 to Triton (it answers a [2, ...] output).
    const one = model('one', `max_batch_size: 4\ninput [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]`);
    const parsed = parseInferRequest(request('one', { inputs: [input('INPUT0', [(1n << 32n) + 2n, 4])], rawInputContents: [floats(8)] }), one);
    assert.equal(parsed.job.batchSize, 2);
    assert.deepEqual(parsed.job.inputs.get('INPUT0')!.shape, [2, 4]);
    // The first input sets it; the others' whole dimension 0 must equal it.
    refuses(
      simpleRequest(1, { inputs: [input('INPUT0', [(1n << 32n) + 1n, 4]), input('INPUT1', [(1n << 32n) + 1n, 4])] }),
      simple,
      `${NO_ID}input 'INPUT0' batch size does not match other inputs for 'simple'`,
    );
    // A dimension 0 of 2^32 is batch 0, so the next input sets it.
    assert.equal(parseInferRequest(simpleRequest(1, { inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1n << 32n, 4])] }), simple).job.batchSize, 1);
    // 2^32 - 1 is -1 as an int: not above max_batch_size, and far too many bytes.
    refuses(
      simpleRequest(1, { inputs: [input('INPUT0', [(1n << 32n) - 1n, 4]), input('INPUT1', [(1n << 32n) - 1n, 4])] }),
      simple,
      `${NO_ID}input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 68719476720, got 16`,
    );
  });
});

function emptyContents() {
  return { boolContents: [], intContents: [], int64Contents: [], uintContents: [], uint64Contents: [], fp32Contents: [], fp64Contents: [], bytesContents: [] };
}

describe('parseInferRequest: refusals', () => {
  it('checks the input count, naming the range when some inputs are optional', () => {
    const f2 = floats(2);
    refuses(
      request('opt', { id: 'o1', inputs: [input('A', [1, 2])], rawInputContents: [f2] }),
      optional,
      "[request id: o1] expected number of inputs between 2 and 3 but got 1 inputs for model 'opt'. Got input(s) ['A'], but missing required input(s) ['C']. Please provide all required input(s).",
    );
    refuses(
      request('simple', { id: 'empty' }),
      simple,
      "[request id: empty] expected 2 inputs but got 0 inputs for model 'simple'. Got input(s) [], but missing required input(s) ['INPUT0','INPUT1']. Please provide all required input(s).",
    );
    // Two required and one optional present, another required absent: Triton leaves this to its
    // backend (tritonserver with the python backend answers INTERNAL "missing inputs: C"); this
    // server refuses it before running anything.
    refuses(
      request('opt', { id: 'o2', inputs: [input('A', [1, 2]), input('B', [1, 2])], rawInputContents: [f2, f2] }),
      optional,
      "[request id: o2] missing required input(s) 'C' for model 'opt'",
    );
    const parsed = parseInferRequest(request('opt', { inputs: [input('C', [1, 2]), input('A', [1, 2])], rawInputContents: [f2, f2] }), optional);
    assert.deepEqual([...parsed.job.inputs.keys()], ['C', 'A']);
  });

  it('counts a negative dimension into the element count, as Triton does', () => {
    refuses(
      request('variable', { id: 'm2f', inputs: [input('INPUT0', [-2])], rawInputContents: [floats(2)] }),
      variable,
      "[request id: m2f] input byte size mismatch for input 'INPUT0' for model 'variable'. Expected -8, got 8",
    );
    refuses(
      request('words', { id: 'm2', inputs: [input('INPUT0', [-2], 'BYTES')], rawInputContents: [bytesLayout('a')] }),
      wordList,
      "[request id: m2] unexpected number of string elements 1 for inference input 'INPUT0' for model 'words', expecting -2",
    );
  });

  it('names the first unknown requested output in name order (Triton keeps a set)', () => {
    refuses(simpleRequest(1, { outputs: [{ name: 'Z9', parameters: {} }, { name: 'A9', parameters: {} }] }), simple, "unexpected inference output 'A9' for model 'simple'");
  });

  it('refuses classification of a BYTES output before running the model', () => {
    // Not compared with Triton: classifying a BYTES output kills tritonserver 2.51 (SIGFPE).
    const req = request('strings', {
      inputs: [input('INPUT0', [1, 2], 'BYTES')],
      rawInputContents: [bytesLayout('a', 'b')],
      outputs: [{ name: 'OUTPUT0', parameters: { classification: { int64Param: 1n } } }],
    });
    refuses(req, strings, "class result not available for output 'OUTPUT0' due to unsupported type 'BYTES'");
    // Another output of the same model can be classified.
    const other = { ...req, outputs: [{ name: 'LENGTHS', parameters: { classification: { int64Param: 1n } } }] };
    assert.deepEqual(parseInferRequest(other, strings).outputs, [{ name: 'LENGTHS', classification: 1 }]);
  });

  it('refuses a batch of 0 after every check Triton makes (this server cannot run one)', () => {
    const req = simpleRequest(0, { rawInputContents: [new Uint8Array(0), new Uint8Array(0)] });
    refuses(req, simple, `${NO_ID}input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 16, got 0`);
    const counted = simpleRequest(0, { rawInputContents: [floats(4), floats(4)] });
    refuses(counted, simple, `${NO_ID}inference request batch-size must be >= 1 for 'simple'`);
  });

  it('checks BYTES elements against the shape', () => {
    const send = (raw: Uint8Array, shape = [1, 2]) => request('strings', { inputs: [input('INPUT0', shape, 'BYTES')], rawInputContents: [raw] });
    assert.equal(parseInferRequest(send(bytesLayout('a', '')), strings).job.batchSize, 1);
    assert.equal(parseInferRequest(send(bytesLayout('a', 'b', 'c', 'd'), [2, 2]), strings).job.batchSize, 2);
    refuses(send(bytesLayout('a')), strings, `${NO_ID}expected 2 string elements for inference input 'INPUT0' for model 'strings', got 1`);
    refuses(send(bytesLayout('a', 'b', 'c')), strings, `${NO_ID}unexpected number of string elements 3 for inference input 'INPUT0' for model 'strings', expecting 2`);
    refuses(
      send(Uint8Array.of(...bytesLayout('a'), 1, 0, 0)),
      strings,
      `${NO_ID}incomplete string length indicator for inference input 'INPUT0' for model 'strings', expecting 4 bytes but only 3 bytes available. Please make sure the string length indicator is in one buffer.`,
    );
    // An element running past the end passes here (Triton's backends refuse it: see incompleteStringError).
    const overrun = bytesLayout('a', 'bc');
    new DataView(overrun.buffer).setUint32(5, 9, true);
    assert.equal(parseInferRequest(send(overrun), strings).job.batchSize, 1);
  });

  it('prefixes the messages of Triton\'s core with the request id', () => {
    assert.equal(requestPrefix(''), '[request id: <id_unknown>] ');
    assert.equal(requestPrefix('r-1'), '[request id: r-1] ');
  });
});

describe('incompleteStringError', () => {
  const job = (raw: Uint8Array, datatype: 'BYTES' | 'UINT8' = 'BYTES') => ({
    inputs: new Map([['INPUT0', { datatype, shape: [1, 2], raw }]]),
    batchSize: 1,
    outputNames: [],
    priority: 0,
    timeoutUs: 0,
  });

  it('names a BYTES element whose bytes run past the end, in the words of Triton\'s backends', () => {
    const raw = bytesLayout('ok', 'abc');
    new DataView(raw.buffer).setUint32(6, 10, true);
    assert.equal(incompleteStringError(job(raw)), "incomplete string data for inference input 'INPUT0', expecting string of length 10 but only 3 bytes available");
    const first = bytesLayout('abc');
    new DataView(first.buffer).setUint32(0, 4, true);
    assert.equal(incompleteStringError(job(first)), "incomplete string data for inference input 'INPUT0', expecting string of length 4 but only 3 bytes available");
  });

  it('finds nothing wrong with complete elements, or in other datatypes', () => {
    assert.equal(incompleteStringError(job(bytesLayout('ok', '', 'abc'))), undefined);
    assert.equal(incompleteStringError(job(bytesLayout('exact'))), undefined);
    assert.equal(incompleteStringError(job(Uint8Array.of(200, 0, 0, 0), 'UINT8')), undefined);
  });
});
