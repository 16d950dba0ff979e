/**
 * @module test/request-errors.test
 * ModelInfer requests Triton rejects, with the status code and message of kserve-v2-grpc.md
 * §2.2–2.4 and §2.9; after every rejection the server must still answer a good request.
 * Messages are matched whole: each is the text tritonserver 2.51 answers for the same request
 * (run side by side by conformance/tritonclient_conformance.py), "[request id: …]" prefix of
 * Triton's core included. Also: requesting a subset of outputs, and the request id echoed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { InferTensorContents, ModelInferRequest, ModelInferRequest_InferInputTensor } from '../../proto/gen/grpc_service.js';
import { expectStatus } from './expect-status.js';
import { addSubModel, identityModel, simpleModelConfig } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer, bytesLayout, noContents } from './helpers.js';


function input(name: string, shape: number[], datatype = 'FP32', contents?: Partial<InferTensorContents>): ModelInferRequest_InferInputTensor {
  return { name, datatype, shape: shape.map(BigInt), parameters: {}, contents: contents ? { ...noContents(), ...contents } : undefined };
}

const ROW0 = [1, 2, 3, 4];
const ROW1 = [10, 20, 30, 40];

/** A valid request to `simple` (batch of 1), to tweak per case. */
function good(partial: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return inferRequest({
    modelName: 'simple',
    inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1, 4])],
    rawInputContents: [f32(ROW0), f32(ROW1)],
    ...partial,
  });
}


function stringsRequest(shape: number[], raw: Uint8Array): ModelInferRequest {
  return inferRequest({ modelName: 'strings', inputs: [input('INPUT0', shape, 'BYTES')], rawInputContents: [raw] });
}

let t: TestServer;
before(async () => {
  t = await startTestServer({
    simple: {
      config: simpleModelConfig('simple', 'instance_group [ { kind: KIND_CPU count: 1 } ]\ndynamic_batching { }'),
      versions: { 1: addSubModel() },
    },
    strings: {
      config: `name: "strings"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ 2 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ 2 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
      versions: { 1: identityModel('BYTES', { batch: true, dims: [2] }) },
    },
    fixed: {
      // No batching: the request shape must match dims exactly in rank; -1 matches any size.
      config: `name: "fixed"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 2, -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 2, -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
      versions: { 1: identityModel('FP32', { batch: false, dims: [2, -1] }) },
    },
  });
});
after(() => t?.close());

/** A good request still succeeds with the right numbers. */
async function assertStillServing(): Promise<void> {
  const res = await t.call('modelInfer', good({ id: 'check' }));
  assert.equal(res.id, 'check');
  const byName = new Map(res.outputs.map((o, i) => [o.name, readF32(res.rawOutputContents[i]!)]));
  assert.deepEqual(byName.get('OUTPUT0'), [11, 22, 33, 44]);
}

/** The whole message `text`, as a regular expression. */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
const NO_ID = '[request id: <id_unknown>] ';
const BATCH_NOTE =
  'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input ' +
  'shape. If you want to specify the full shape including the batch dim in your input dims config, try setting ' +
  'max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

interface ErrorCase {
  readonly name: string;
  readonly request: () => ModelInferRequest;
  readonly code: status;
  readonly message: RegExp;
}

const CASES: ErrorCase[] = [
  {
    name: 'unknown model',
    request: () => good({ modelName: 'no_such_model' }),
    code: status.NOT_FOUND,
    message: /^Request for unknown model: 'no_such_model' is not found$/,
  },
  {
    name: 'unknown version',
    request: () => good({ modelVersion: '2' }),
    code: status.NOT_FOUND,
    message: /^Request for unknown model: 'simple' version 2 is not found$/,
  },
  {
    name: 'bad version string',
    request: () => good({ modelVersion: 'latest' }),
    code: status.INVALID_ARGUMENT,
    message: exactly("failed to get model version from specified version string 'latest' (details: stol), version should be an integral value > 0"),
  },
  {
    name: 'negative version',
    request: () => good({ modelVersion: '-1' }),
    code: status.INVALID_ARGUMENT,
    message: exactly("invalid model version specified '-1' , version should be an integral value > 0"),
  },
  {
    name: 'bad version string on an unknown model (the version is parsed first, as in Triton)',
    request: () => good({ modelName: 'no_such_model', modelVersion: 'x1' }),
    code: status.INVALID_ARGUMENT,
    message: exactly("failed to get model version from specified version string 'x1' (details: stol), version should be an integral value > 0"),
  },
  {
    name: 'wrong datatype',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'FP64'), input('INPUT1', [1, 4])], rawInputContents: [new Uint8Array(32), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}inference input 'INPUT0' data-type is 'FP64', but model 'simple' expects 'FP32'`),
  },
  {
    name: 'datatype strings are case-sensitive (an unknown one is TYPE_INVALID)',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'fp32'), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}inference input 'INPUT0' data-type is '<invalid>', but model 'simple' expects 'FP32'`),
  },
  {
    name: 'wrong shape (item dims)',
    request: () => good({ inputs: [input('INPUT0', [1, 5]), input('INPUT1', [1, 4])], rawInputContents: [f32([1, 2, 3, 4, 5]), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,4], got [1,5]. ${BATCH_NOTE}`),
  },
  {
    name: 'wrong shape (batch dim missing; Triton names the inputs in its hash order, here the last first)',
    request: () => good({ inputs: [input('INPUT0', [4]), input('INPUT1', [4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}unexpected shape for input 'INPUT1' for model 'simple'. Expected [-1,4], got [4]. ${BATCH_NOTE}`),
  },
  {
    name: 'wrong shape without batching (rank and fixed dims checked, -1 matches any size)',
    request: () => inferRequest({ modelName: 'fixed', inputs: [input('INPUT0', [3, 2])], rawInputContents: [f32([1, 2, 3, 4, 5, 6])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}unexpected shape for input 'INPUT0' for model 'fixed'. Expected [2,-1], got [3,2]. `),
  },
  {
    name: '-1 in the request shape (its uint32 batch size differs from the other input)',
    request: () => good({ inputs: [input('INPUT0', [-1, 4]), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input 'INPUT0' batch size does not match other inputs for 'simple'`),
  },
  {
    name: '-1 in a non-batch dimension',
    request: () => inferRequest({ modelName: 'fixed', inputs: [input('INPUT0', [2, -1])], rawInputContents: [f32([1, 2])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}All input dimensions should be specified for input 'INPUT0' for model 'fixed', got [2,-1]`),
  },
  {
    name: 'dimension 0 past 2^32 in two inputs (Triton keeps the first as a uint32 batch size, 1, and compares the next whole)',
    request: () => good({ inputs: [input('INPUT0', [2 ** 32 + 1, 4]), input('INPUT1', [2 ** 32 + 1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input 'INPUT0' batch size does not match other inputs for 'simple'`),
  },
  {
    name: 'a negative dimension other than -1 counts into the byte size (Triton: Expected -16)',
    request: () => inferRequest({ modelName: 'fixed', inputs: [input('INPUT0', [2, -2])], rawInputContents: [f32([1, 2])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input byte size mismatch for input 'INPUT0' for model 'fixed'. Expected -16, got 8`),
  },
  {
    name: 'byte size mismatch',
    request: () => good({ rawInputContents: [f32([1, 2, 3]), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 16, got 12`),
  },
  {
    name: 'batch size over max_batch_size',
    request: () =>
      good({
        inputs: [input('INPUT0', [9, 4]), input('INPUT1', [9, 4])],
        rawInputContents: [new Uint8Array(9 * 16), new Uint8Array(9 * 16)],
      }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}inference request batch-size must be <= 8 for 'simple'`),
  },
  {
    name: 'mismatched batch sizes between inputs',
    request: () => good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [2, 4])], rawInputContents: [f32(ROW0), f32([...ROW1, ...ROW1])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input 'INPUT0' batch size does not match other inputs for 'simple'`),
  },
  {
    name: 'missing input',
    request: () => good({ inputs: [input('INPUT0', [1, 4])], rawInputContents: [f32(ROW0)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s).`),
  },
  {
    name: 'an input too many (Triton counts before it looks at names)',
    request: () =>
      good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1, 4]), input('INPUT2', [1, 4])], rawInputContents: [f32(ROW0), f32(ROW1), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}expected 2 inputs but got 3 inputs for model 'simple'. Got input(s) ['INPUT2','INPUT1','INPUT0'], but missing required input(s) ]. Please provide all required input(s).`),
  },
  {
    name: 'unknown input in place of a known one',
    request: () => good({ inputs: [input('INPUT2', [1, 4]), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unexpected inference input 'INPUT2' for model 'simple'"),
  },
  {
    name: 'unknown requested output',
    request: () => good({ outputs: [{ name: 'OUTPUT0', parameters: {} }, { name: 'OUTPUT9', parameters: {} }] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unexpected inference output 'OUTPUT9' for model 'simple'"),
  },
  {
    name: 'raw_input_contents mixed with typed contents',
    request: () => good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1, 4], 'FP32', { fp32Contents: ROW1 })] }),
    code: status.INVALID_ARGUMENT,
    message: /^contents field must not be specified when using raw_input_contents for 'INPUT[01]' for model 'simple'$/,
  },
  {
    name: 'raw_input_contents mixed with an empty typed contents message',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'FP32', {}), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: /^contents field must not be specified when using raw_input_contents for 'INPUT[01]' for model 'simple'$/,
  },
  {
    name: 'missing data (neither raw nor typed)',
    request: () => good({ rawInputContents: [] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unable to find data for input tensor 'INPUT0' for model 'simple' in request."),
  },
  {
    name: 'missing data (fewer raw entries than inputs)',
    request: () => good({ rawInputContents: [f32(ROW0)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unable to find data for input tensor 'INPUT1' for model 'simple' in request."),
  },
  {
    name: 'typed contents in the field of another datatype',
    request: () => good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0 }), input('INPUT1', [1, 4], 'FP32', { intContents: ROW1 })] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unexpected explicit tensor data for input tensor 'INPUT1' for model 'simple' of type 'INT32', expected datatype 'FP32'"),
  },
  {
    name: 'typed contents with the wrong element count',
    request: () => good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0 }), input('INPUT1', [1, 4], 'FP32', { fp32Contents: [1, 2] })] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 16, got 8`),
  },
  {
    name: 'typed contents in two fields',
    request: () => good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0, bytesContents: [Uint8Array.of(1)] }), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple', binary data was already supplied."),
  },
  {
    name: 'malformed BYTES raw layout (an element runs past the end)',
    request: () => {
      const raw = bytesLayout(['ok', 'abc']);
      new DataView(raw.buffer).setUint32(6, 10, true); // second element claims 10 bytes, has 3
      return stringsRequest([1, 2], raw);
    },
    code: status.INVALID_ARGUMENT,
    // Triton's core lets this through; its backends refuse it (counted as a failed request).
    message: exactly("incomplete string data for inference input 'INPUT0', expecting string of length 10 but only 3 bytes available"),
  },
  {
    name: 'malformed BYTES raw layout (truncated length prefix)',
    request: () => stringsRequest([1, 2], Uint8Array.of(...bytesLayout(['ok']), 1, 0)),
    code: status.INVALID_ARGUMENT,
    message: exactly(
      `${NO_ID}incomplete string length indicator for inference input 'INPUT0' for model 'strings', expecting 4 bytes but only 2 bytes available. Please make sure the string length indicator is in one buffer.`,
    ),
  },
  {
    name: 'more BYTES elements than the shape holds',
    request: () => stringsRequest([1, 2], bytesLayout(['a', 'b', 'c'])),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}unexpected number of string elements 3 for inference input 'INPUT0' for model 'strings', expecting 2`),
  },
  {
    name: 'BYTES element count differs from the shape',
    request: () => stringsRequest([1, 2], bytesLayout(['only one'])),
    code: status.INVALID_ARGUMENT,
    message: exactly(`${NO_ID}expected 2 string elements for inference input 'INPUT0' for model 'strings', got 1`),
  },
  {
    name: "reserved 'triton_' request parameter",
    request: () => good({ parameters: { triton_custom: { boolParam: true } } }),
    code: status.INVALID_ARGUMENT,
    message: exactly(
      "parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys starting with 'triton_' are allowed: triton_enable_empty_final_response",
    ),
  },
  {
    name: 'the request id prefixes the messages of Triton\'s core',
    request: () => good({ id: 'req-7', inputs: [input('INPUT0', [1, 4])], rawInputContents: [f32(ROW0)] }),
    code: status.INVALID_ARGUMENT,
    message: exactly(
      "[request id: req-7] expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s).",
    ),
  },
  {
    name: 'duplicate input',
    request: () => good({ id: 'dup', inputs: [input('INPUT0', [1, 4]), input('INPUT0', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("[request id: dup] input 'INPUT0' already exists in request"),
  },
  {
    name: 'priority of the wrong type',
    request: () => good({ parameters: { priority: { stringParam: 'high' } } }),
    code: status.INVALID_ARGUMENT,
    message: exactly("invalid value type for 'priority' parameter, expected int64_param or uint64_param."),
  },
  {
    name: 'negative priority',
    request: () => good({ parameters: { priority: { int64Param: -1n } } }),
    code: status.INVALID_ARGUMENT,
    message: exactly("invalid value for 'priority', expected value >= 0."),
  },
  {
    name: 'sequence_id of the wrong type',
    request: () => good({ parameters: { sequence_id: { boolParam: true } } }),
    code: status.INVALID_ARGUMENT,
    message: exactly("invalid value type for 'sequence_id' parameter, expected int64_param or string_param."),
  },
  {
    name: 'an input in shared memory (this server registers none, so no region exists)',
    request: () =>
      good({
        inputs: [{ ...input('INPUT0', [1, 4]), parameters: { shared_memory_region: { stringParam: 'r' }, shared_memory_byte_size: { int64Param: 16n } } }, input('INPUT1', [1, 4])],
        rawInputContents: [f32(ROW1)],
      }),
    code: status.NOT_FOUND,
    message: exactly("Unable to find shared memory region: 'r'"),
  },
  {
    name: 'classification of the wrong type',
    request: () => good({ outputs: [{ name: 'OUTPUT0', parameters: { classification: { stringParam: '2' } } }] }),
    code: status.INVALID_ARGUMENT,
    message: exactly("invalid value type for 'classification' parameter, expected int64_param"),
  },
];

describe('rejected requests', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      await expectStatus(t.call('modelInfer', c.request()), c.code, c.message);
      await assertStillServing();
    });
  }
});

describe('accepted requests', () => {
  test('a -1 config dim accepts any size when max_batch_size is 0', async () => {
    const res = await t.call('modelInfer', inferRequest({ modelName: 'fixed', inputs: [input('INPUT0', [2, 3])], rawInputContents: [f32([1, 2, 3, 4, 5, 6])] }));
    assert.deepEqual(res.outputs[0]?.shape, [2n, 3n]);
    assert.deepEqual(readF32(res.rawOutputContents[0]!), [1, 2, 3, 4, 5, 6]);
  });

  test('a requested subset of outputs returns only that output', async () => {
    const res = await t.call('modelInfer', good({ outputs: [{ name: 'OUTPUT1', parameters: {} }] }));
    assert.deepEqual(res.outputs.map((o) => o.name), ['OUTPUT1']);
    assert.equal(res.rawOutputContents.length, 1);
    assert.equal(res.outputs[0]?.datatype, 'FP32');
    assert.deepEqual(res.outputs[0]?.shape, [1n, 4n]);
    assert.deepEqual(readF32(res.rawOutputContents[0]!), [-9, -18, -27, -36]);
  });

  test('no requested outputs returns every output; raw entries pair with outputs by index', async () => {
    const res = await t.call('modelInfer', good());
    assert.deepEqual(res.outputs.map((o) => o.name).sort(), ['OUTPUT0', 'OUTPUT1']);
    assert.equal(res.rawOutputContents.length, 2);
    const byName = new Map(res.outputs.map((o, i) => [o.name, readF32(res.rawOutputContents[i]!)]));
    assert.deepEqual(byName.get('OUTPUT0'), [11, 22, 33, 44]);
    assert.deepEqual(byName.get('OUTPUT1'), [-9, -18, -27, -36]);
  });

  test('the request id is echoed, with model name and concrete version', async () => {
    const res = await t.call('modelInfer', good({ id: 'request-42 ünïcode' }));
    assert.equal(res.id, 'request-42 ünïcode');
    assert.equal(res.modelName, 'simple');
    assert.equal(res.modelVersion, '1');
    assert.equal((await t.call('modelInfer', good({ modelVersion: '1' }))).id, '');
  });

  test('an output named twice is answered once', async () => {
    const res = await t.call('modelInfer', good({ outputs: [{ name: 'OUTPUT1', parameters: {} }, { name: 'OUTPUT1', parameters: {} }] }));
    assert.deepEqual(res.outputs.map((o) => o.name), ['OUTPUT1']);
    assert.equal(res.rawOutputContents.length, 1);
  });

  test('dimension 0 is read as a uint32 batch size: 2^32 + 1 runs as a batch of 1, as in Triton', async () => {
    const res = await t.call('modelInfer', stringsRequest([2 ** 32 + 1, 2], bytesLayout(['a', 'bc'])));
    assert.deepEqual(res.outputs[0]?.shape, [1n, 2n]);
    assert.deepEqual(Buffer.from(res.rawOutputContents[0]!), Buffer.from(bytesLayout(['a', 'bc'])));
  });

  test('typed contents are accepted when no raw_input_contents are sent', async () => {
    const res = await t.call(
      'modelInfer',
      good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0 }), input('INPUT1', [1, 4], 'FP32', { fp32Contents: ROW1 })] }),
    );
    assert.deepEqual(readF32(res.rawOutputContents[res.outputs.findIndex((o) => o.name === 'OUTPUT0')]!), [11, 22, 33, 44]);
  });

  test("'triton_enable_empty_final_response' and custom (non-reserved) parameters are accepted", async () => {
    const res = await t.call(
      'modelInfer',
      good({ parameters: { triton_enable_empty_final_response: { boolParam: true }, my_custom: { stringParam: 'x' } } }),
    );
    assert.equal(res.outputs.length, 2);
  });
});
