/**
 * @module test/request-errors.test
 * ModelInfer requests Triton rejects, with the status code and message of kserve-v2-grpc.md
 * §2.2–2.4 and §2.9; after every rejection the server must still answer a good request.
 * Also: requesting a subset of outputs, and the request id echoed.
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
    message: /failed to get model version from specified version string 'latest'/,
  },
  {
    name: 'negative version',
    request: () => good({ modelVersion: '-1' }),
    code: status.INVALID_ARGUMENT,
    message: /version/,
  },
  {
    name: 'bad version string on an unknown model (the version is parsed first, as in Triton)',
    request: () => good({ modelName: 'no_such_model', modelVersion: 'x1' }),
    code: status.INVALID_ARGUMENT,
    message: /failed to get model version/,
  },
  {
    name: 'wrong datatype',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'FP64'), input('INPUT1', [1, 4])], rawInputContents: [new Uint8Array(32), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: /inference input 'INPUT0' data-type is 'FP64', but model 'simple' expects 'FP32'/,
  },
  {
    name: 'datatype strings are case-sensitive',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'fp32'), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: /data-type is 'fp32'/,
  },
  {
    name: 'wrong shape (item dims)',
    request: () => good({ inputs: [input('INPUT0', [1, 5]), input('INPUT1', [1, 4])], rawInputContents: [f32([1, 2, 3, 4, 5]), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,4\], got \[1,5\]/,
  },
  {
    name: 'wrong shape (batch dim missing)',
    request: () => good({ inputs: [input('INPUT0', [4]), input('INPUT1', [4])] }),
    code: status.INVALID_ARGUMENT,
    message: /unexpected shape for input 'INPUT0'.*got \[4\]/,
  },
  {
    name: 'wrong shape without batching (rank and fixed dims checked, -1 matches any size)',
    request: () => inferRequest({ modelName: 'fixed', inputs: [input('INPUT0', [3, 2])], rawInputContents: [f32([1, 2, 3, 4, 5, 6])] }),
    code: status.INVALID_ARGUMENT,
    message: /unexpected shape for input 'INPUT0' for model 'fixed'\. Expected \[2,-1\], got \[3,2\]/,
  },
  {
    name: '-1 in the request shape',
    request: () => good({ inputs: [input('INPUT0', [-1, 4]), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: /All input dimensions should be specified for input 'INPUT0'/,
  },
  {
    name: 'byte size mismatch',
    request: () => good({ rawInputContents: [f32([1, 2, 3]), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: /input byte size mismatch for input 'INPUT0' for model 'simple'\. Expected 16, got 12/,
  },
  {
    name: 'batch size over max_batch_size',
    request: () =>
      good({
        inputs: [input('INPUT0', [9, 4]), input('INPUT1', [9, 4])],
        rawInputContents: [new Uint8Array(9 * 16), new Uint8Array(9 * 16)],
      }),
    code: status.INVALID_ARGUMENT,
    message: /inference request batch-size must be <= 8 for 'simple'/,
  },
  {
    name: 'mismatched batch sizes between inputs',
    request: () => good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [2, 4])], rawInputContents: [f32(ROW0), f32([...ROW1, ...ROW1])] }),
    code: status.INVALID_ARGUMENT,
    message: /'INPUT1'.*batch size/,
  },
  {
    name: 'missing input',
    request: () => good({ inputs: [input('INPUT0', [1, 4])], rawInputContents: [f32(ROW0)] }),
    code: status.INVALID_ARGUMENT,
    message: /expected 2 inputs but got 1 inputs for model 'simple'.*'INPUT1'/,
  },
  {
    name: 'unknown input',
    request: () =>
      good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1, 4]), input('INPUT2', [1, 4])], rawInputContents: [f32(ROW0), f32(ROW1), f32(ROW1)] }),
    code: status.INVALID_ARGUMENT,
    message: /unexpected inference input 'INPUT2' for model 'simple'/,
  },
  {
    name: 'unknown requested output',
    request: () => good({ outputs: [{ name: 'OUTPUT0', parameters: {} }, { name: 'OUTPUT9', parameters: {} }] }),
    code: status.INVALID_ARGUMENT,
    message: /unexpected inference output 'OUTPUT9' for model 'simple'/,
  },
  {
    name: 'raw_input_contents mixed with typed contents',
    request: () => good({ inputs: [input('INPUT0', [1, 4]), input('INPUT1', [1, 4], 'FP32', { fp32Contents: ROW1 })] }),
    code: status.INVALID_ARGUMENT,
    message: /contents field must not be specified when using raw_input_contents/,
  },
  {
    name: 'raw_input_contents mixed with an empty typed contents message',
    request: () => good({ inputs: [input('INPUT0', [1, 4], 'FP32', {}), input('INPUT1', [1, 4])] }),
    code: status.INVALID_ARGUMENT,
    message: /contents field must not be specified when using raw_input_contents/,
  },
  {
    name: 'missing data (neither raw nor typed)',
    request: () => good({ rawInputContents: [] }),
    code: status.INVALID_ARGUMENT,
    message: /unable to find data for input tensor 'INPUT0'/,
  },
  {
    name: 'missing data (fewer raw entries than inputs)',
    request: () => good({ rawInputContents: [f32(ROW0)] }),
    code: status.INVALID_ARGUMENT,
    message: /unable to find data for input tensor 'INPUT1'/,
  },
  {
    name: 'typed contents in the field of another datatype',
    request: () => good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0 }), input('INPUT1', [1, 4], 'FP32', { intContents: ROW1 })] }),
    code: status.INVALID_ARGUMENT,
    message: /'INPUT1'/,
  },
  {
    name: 'typed contents with the wrong element count',
    request: () => good({ rawInputContents: [], inputs: [input('INPUT0', [1, 4], 'FP32', { fp32Contents: ROW0 }), input('INPUT1', [1, 4], 'FP32', { fp32Contents: [1, 2] })] }),
    code: status.INVALID_ARGUMENT,
    message: /'INPUT1'/,
  },
  {
    name: 'malformed BYTES raw layout (an element runs past the end)',
    request: () => {
      const raw = bytesLayout(['ok', 'abc']);
      new DataView(raw.buffer).setUint32(6, 10, true); // second element claims 10 bytes, has 3
      return stringsRequest([1, 2], raw);
    },
    code: status.INVALID_ARGUMENT,
    message: /'INPUT0'/,
  },
  {
    name: 'malformed BYTES raw layout (truncated length prefix)',
    request: () => stringsRequest([1, 2], Uint8Array.of(...bytesLayout(['ok']), 1, 0)),
    code: status.INVALID_ARGUMENT,
    message: /'INPUT0'/,
  },
  {
    name: 'BYTES element count differs from the shape',
    request: () => stringsRequest([1, 2], bytesLayout(['only one'])),
    code: status.INVALID_ARGUMENT,
    message: /expected 2 string elements for inference input 'INPUT0'.*got 1/,
  },
  {
    name: "reserved 'triton_' request parameter",
    request: () => good({ parameters: { triton_custom: { boolParam: true } } }),
    code: status.INVALID_ARGUMENT,
    message: /triton_custom/,
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
