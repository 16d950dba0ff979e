/**
 * @module test/rpcs.test
 * Every implemented RPC over real gRPC, against Triton's behaviour (kserve-v2-grpc.md §1, §2.9,
 * §4): health and readiness, metadata, config, statistics, repository control, the standard
 * health service, streaming, version policies and `--model-config-name`.
 */
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelStreamInferResponse } from '../../proto/gen/grpc_service.js';
import { HealthCheckResponse_ServingStatus, type HealthCheckResponse } from '../../proto/gen/health.js';
import { ModelInstanceGroup_Kind } from '../../proto/gen/model_config.js';
import { expectStatus } from './expect-status.js';
import { addSubModel, identityModel, scaleModel, simpleModelConfig } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

const { version: packageVersion } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** A scaleModel config: FP32 INPUT0 [4] → OUTPUT0 [4], one CPU instance to keep start-up fast. */
function scaleConfig(name: string, maxBatchSize: number, extra = ''): string {
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${maxBatchSize}
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
${extra}`;
}

const threeVersions = { 1: scaleModel(1), 2: scaleModel(2), 3: scaleModel(3) };

/** A request to a scale model: `rows` rows of [1, 2, 3, 4]. */
function scaleRequest(modelName: string, modelVersion = '', rows = 1, id = ''): ModelInferRequest {
  return inferRequest({
    modelName,
    modelVersion,
    id,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [BigInt(rows), 4n], parameters: {}, contents: undefined }],
    rawInputContents: [f32(Array.from({ length: rows }, () => [1, 2, 3, 4]).flat())],
  });
}

function healthCheck(t: TestServer, service = ''): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) =>
    t.health.check({ service }, (err: ServiceError | null, res: HealthCheckResponse) => (err ? reject(err) : resolve(res))),
  );
}

describe('server with every model loaded (model control mode none)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(
      {
        simple: {
          // No instance_group and no preferred_batch_size: ModelConfig must show the defaults.
          config: simpleModelConfig('simple', 'dynamic_batching { }'),
          versions: { 1: addSubModel() },
        },
        strings: {
          config: `name: "strings"
backend: "onnxruntime"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ 2 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ 2 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
          versions: { 1: identityModel('BYTES', { batch: false, dims: [2] }) },
        },
        counted: { config: scaleConfig('counted', 4), versions: { 1: scaleModel(2) } },
        latest: { config: scaleConfig('latest', 4), versions: threeVersions },
        all_versions: { config: scaleConfig('all_versions', 4, 'version_policy { all { } }'), versions: threeVersions },
        specific: { config: scaleConfig('specific', 4, 'version_policy { specific { versions: [ 1 ] } }'), versions: threeVersions },
        alt_cfg: {
          config: scaleConfig('alt_cfg', 8, 'parameters { key: "source" value { string_value: "config.pbtxt" } }'),
          versions: { 1: scaleModel(1) },
          files: {
            'configs/alt.pbtxt': scaleConfig('alt_cfg', 2, 'parameters { key: "source" value { string_value: "configs/alt.pbtxt" } }'),
            'configs/other.pbtxt': scaleConfig('alt_cfg', 3, 'parameters { key: "source" value { string_value: "configs/other.pbtxt" } }'),
          },
        },
      },
      { modelConfigName: 'alt' },
    );
  });
  after(() => t?.close());

  test('ServerLive is true', async () => {
    assert.deepEqual(await t.call('serverLive', {}), { live: true });
  });

  test('ServerReady is true when every model loaded', async () => {
    assert.deepEqual(await t.call('serverReady', {}), { ready: true });
  });

  test('grpc.health.v1 Health/Check answers SERVING, whatever the service name (Triton ignores it)', async () => {
    assert.equal((await healthCheck(t)).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await healthCheck(t, 'inference.GRPCInferenceService')).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await healthCheck(t, 'some.other.Service')).status, HealthCheckResponse_ServingStatus.SERVING);
  });

  test('ModelReady: true for a loaded model, with and without an explicit version', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '' }), { ready: true });
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '1' }), { ready: true });
  });

  // Triton 2.51 answers OK with ready false for an unknown model or version (run side by side
  // by conformance/tritonclient_conformance.py); only a version std::stol rejects is an error.
  test('ModelReady: unknown model or version is ready=false, not an error', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'no_such_model', version: '' }), { ready: false });
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '2' }), { ready: false });
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '0' }), { ready: false });
  });

  test('ModelReady: the version string is read as std::stol reads it, before the model name', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '1abc' }), { ready: true });
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: ' +1' }), { ready: true });
    await expectStatus(
      t.call('modelReady', { name: 'simple', version: 'one' }),
      status.INVALID_ARGUMENT,
      /^failed to get model version from specified version string 'one' \(details: stol\), version should be an integral value > 0$/,
    );
    await expectStatus(
      t.call('modelReady', { name: 'simple', version: '-1' }),
      status.INVALID_ARGUMENT,
      /^invalid model version specified '-1' , version should be an integral value > 0$/,
    );
    await expectStatus(t.call('modelReady', { name: 'simple', version: '99999999999999999999' }), status.INVALID_ARGUMENT, /\(details: stol\)/);
    await expectStatus(t.call('modelReady', { name: 'no_such_model', version: 'one' }), status.INVALID_ARGUMENT, /failed to get model version/);
  });

  test('ServerMetadata: name, version, and only the implemented extensions in Triton order', async () => {
    const res = await t.call('serverMetadata', {});
    assert.equal(res.name, 'triton-caption-modelserver');
    assert.equal(res.version, packageVersion);
    for (const ext of ['classification', 'model_repository', 'model_configuration', 'statistics', 'schedule_policy', 'parameters']) {
      assert.ok(res.extensions.includes(ext), `missing extension ${ext}`);
    }
    // Not implemented here (or HTTP-only), so not advertised.
    for (const ext of ['system_shared_memory', 'cuda_shared_memory', 'binary_tensor_data', 'trace', 'logging']) {
      assert.ok(!res.extensions.includes(ext), `unexpected extension ${ext}`);
    }
    const tritonOrder = [
      'classification', 'sequence', 'model_repository', 'model_repository(unload_dependents)', 'schedule_policy',
      'model_configuration', 'system_shared_memory', 'cuda_shared_memory', 'binary_tensor_data', 'parameters',
      'statistics', 'trace', 'logging',
    ];
    assert.deepEqual(res.extensions, tritonOrder.filter((e) => res.extensions.includes(e)));
    assert.equal(new Set(res.extensions).size, res.extensions.length);
  });

  test('ModelMetadata: -1 batch dim when max_batch_size > 0, platform, ready versions', async () => {
    const res = await t.call('modelMetadata', { name: 'simple', version: '' });
    assert.equal(res.name, 'simple');
    assert.equal(res.platform, 'onnxruntime_onnx');
    assert.deepEqual(res.versions, ['1']);
    assert.deepEqual(res.inputs, [
      { name: 'INPUT0', datatype: 'FP32', shape: [-1n, 4n] },
      { name: 'INPUT1', datatype: 'FP32', shape: [-1n, 4n] },
    ]);
    assert.deepEqual(res.outputs, [
      { name: 'OUTPUT0', datatype: 'FP32', shape: [-1n, 4n] },
      { name: 'OUTPUT1', datatype: 'FP32', shape: [-1n, 4n] },
    ]);
  });

  test('ModelMetadata: TYPE_STRING is reported as BYTES, no batch dim when max_batch_size is 0, platform filled from backend', async () => {
    const res = await t.call('modelMetadata', { name: 'strings', version: '' });
    assert.equal(res.platform, 'onnxruntime_onnx');
    assert.deepEqual(res.inputs, [{ name: 'INPUT0', datatype: 'BYTES', shape: [2n] }]);
    assert.deepEqual(res.outputs, [{ name: 'OUTPUT0', datatype: 'BYTES', shape: [2n] }]);
  });

  test('ModelMetadata: versions lists every ready version, or the requested one; unknown model NOT_FOUND', async () => {
    assert.deepEqual((await t.call('modelMetadata', { name: 'all_versions', version: '' })).versions, ['1', '2', '3']);
    assert.deepEqual((await t.call('modelMetadata', { name: 'all_versions', version: '2' })).versions, ['2']);
    assert.deepEqual((await t.call('modelMetadata', { name: 'latest', version: '' })).versions, ['3']);
    await expectStatus(t.call('modelMetadata', { name: 'nope', version: '' }), status.NOT_FOUND, /unknown model: 'nope'/);
  });

  test('ModelConfig: returns the normalised config (defaults filled in, §4.3)', async () => {
    const { config } = await t.call('modelConfig', { name: 'simple', version: '' });
    assert.ok(config);
    assert.equal(config.name, 'simple');
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.equal(config.backend, 'onnxruntime');
    assert.equal(config.defaultModelFilename, 'model.onnx');
    assert.equal(config.maxBatchSize, 8);
    assert.deepEqual(config.versionPolicy?.latest, { numVersions: 1 });
    assert.deepEqual(config.dynamicBatching?.preferredBatchSize, [8]);
    assert.equal(config.instanceGroup.length, 1);
    const group = config.instanceGroup[0]!;
    assert.equal(group.name, 'simple');
    assert.equal(group.kind, ModelInstanceGroup_Kind.KIND_CPU);
    assert.equal(group.count, 2); // onnxruntime on CPU defaults to 2 instances
    assert.equal(config.optimization?.inputPinnedMemory?.enable, true);
    assert.equal(config.optimization?.outputPinnedMemory?.enable, true);
    assert.deepEqual(config.input.map((i) => [i.name, i.dims]), [['INPUT0', [4n]], ['INPUT1', [4n]]]);
  });

  test('ModelConfig: explicit instance_group gets a <model>_<index> name; unknown model NOT_FOUND', async () => {
    const { config } = await t.call('modelConfig', { name: 'counted', version: '1' });
    assert.equal(config?.instanceGroup[0]?.name, 'counted_0');
    assert.equal(config?.instanceGroup[0]?.count, 1);
    assert.equal(config?.dynamicBatching, undefined);
    await expectStatus(t.call('modelConfig', { name: 'nope', version: '' }), status.NOT_FOUND, /unknown model: 'nope'/);
  });

  test('--model-config-name: configs/<name>.pbtxt is chosen when present, config.pbtxt otherwise', async () => {
    const alt = (await t.call('modelConfig', { name: 'alt_cfg', version: '' })).config;
    assert.equal(alt?.parameters['source']?.stringValue, 'configs/alt.pbtxt');
    assert.equal(alt?.maxBatchSize, 2);
    // The chosen config is the one enforced: batch 3 exceeds alt.pbtxt's max_batch_size 2.
    await expectStatus(t.call('modelInfer', scaleRequest('alt_cfg', '', 3)), status.INVALID_ARGUMENT, /batch-size must be <= 2/);
    // A model without configs/alt.pbtxt falls back to config.pbtxt.
    assert.equal((await t.call('modelConfig', { name: 'simple', version: '' })).config?.maxBatchSize, 8);
  });

  test('ModelStatistics: counts after requests (inference = batch elements, execution = runs)', async () => {
    const before = Date.now();
    await t.call('modelInfer', scaleRequest('counted', '', 1));
    await t.call('modelInfer', scaleRequest('counted', '', 2));
    await t.call('modelInfer', scaleRequest('counted', '1', 1));
    // Refused requests never reach the model in Triton, so its statistics do not count them.
    const refused = scaleRequest('counted', '', 1);
    refused.inputs[0]!.shape = [1n, 5n];
    await expectStatus(t.call('modelInfer', refused), status.INVALID_ARGUMENT);
    await expectStatus(t.call('modelInfer', { ...scaleRequest('counted'), parameters: { priority: { stringParam: 'x' } } }), status.INVALID_ARGUMENT);
    const { modelStats } = await t.call('modelStatistics', { name: 'counted', version: '' });
    assert.equal(modelStats.length, 1);
    const s = modelStats[0]!;
    assert.equal(s.name, 'counted');
    assert.equal(s.version, '1');
    assert.equal(s.inferenceCount, 4n);
    assert.equal(s.executionCount, 3n);
    assert.equal(s.inferenceStats?.success?.count, 3n);
    assert.ok((s.inferenceStats?.success?.ns ?? 0n) > 0n);
    assert.equal(s.inferenceStats?.queue?.count, 3n);
    assert.equal(s.inferenceStats?.computeInfer?.count, 3n);
    assert.equal(s.inferenceStats?.fail?.count, 0n);
    assert.ok(s.lastInference >= BigInt(before) && s.lastInference <= BigInt(Date.now()));
    assert.deepEqual(
      s.batchStats.map((b) => [b.batchSize, b.computeInfer?.count]),
      [[1n, 2n], [2n, 1n]],
    );
    const byVersion = await t.call('modelStatistics', { name: 'counted', version: '1' });
    assert.equal(byVersion.modelStats[0]?.inferenceCount, 4n);
  });

  test('ModelStatistics: a BYTES element running past the end is a failed request (Triton\'s backends refuse it)', async () => {
    const raw = Uint8Array.of(1, 0, 0, 0, 0x61, 9, 0, 0, 0, 0x62);
    const req = inferRequest({ modelName: 'strings', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2n], parameters: {}, contents: undefined }], rawInputContents: [raw] });
    await expectStatus(
      t.call('modelInfer', req),
      status.INVALID_ARGUMENT,
      /^incomplete string data for inference input 'INPUT0', expecting string of length 9 but only 1 bytes available$/,
    );
    const s = (await t.call('modelStatistics', { name: 'strings', version: '' })).modelStats[0]!;
    assert.equal(s.inferenceStats?.fail?.count, 1n);
    assert.ok((s.inferenceStats?.fail?.ns ?? 0n) > 0n);
    assert.equal(s.executionCount, 0n);
  });

  test('ModelStatistics: empty name returns every loaded model and version', async () => {
    const { modelStats } = await t.call('modelStatistics', { name: '', version: '' });
    const keys = modelStats.map((s) => `${s.name}/${s.version}`).sort();
    assert.deepEqual(keys, [
      'all_versions/1', 'all_versions/2', 'all_versions/3', 'alt_cfg/1', 'counted/1', 'latest/3', 'simple/1', 'specific/1', 'strings/1',
    ]);
  });

  test('ModelStatistics: unknown model or version is INVALID_ARGUMENT', async () => {
    await expectStatus(t.call('modelStatistics', { name: 'nope', version: '' }), status.INVALID_ARGUMENT, /requested model 'nope' is not available/);
    await expectStatus(t.call('modelStatistics', { name: 'counted', version: '9' }), status.INVALID_ARGUMENT, /not available/);
  });

  test('RepositoryIndex: every loaded version READY; ready filter keeps them', async () => {
    const all = (await t.call('repositoryIndex', { repositoryName: '', ready: false })).models;
    const rows = all.map((m) => `${m.name}:${m.version}:${m.state}:${m.reason}`);
    assert.deepEqual(rows, [
      'all_versions:1:READY:', 'all_versions:2:READY:', 'all_versions:3:READY:', 'alt_cfg:1:READY:', 'counted:1:READY:',
      'latest:3:READY:', 'simple:1:READY:', 'specific:1:READY:', 'strings:1:READY:',
    ]);
    const ready = (await t.call('repositoryIndex', { repositoryName: '', ready: true })).models;
    assert.deepEqual(ready, all);
  });

  test('RepositoryModelLoad/Unload outside explicit mode are UNAVAILABLE', async () => {
    const msg = /explicit model load \/ unload is not allowed/;
    await expectStatus(t.call('repositoryModelLoad', { repositoryName: '', modelName: 'simple', parameters: {} }), status.UNAVAILABLE, msg);
    await expectStatus(t.call('repositoryModelUnload', { repositoryName: '', modelName: 'simple', parameters: {} }), status.UNAVAILABLE, msg);
    assert.deepEqual(await t.call('modelReady', { name: 'simple', version: '' }), { ready: true });
  });

  test('unimplemented RPCs answer UNIMPLEMENTED', async () => {
    await expectStatus(t.call('systemSharedMemoryStatus', { name: '' }), status.UNIMPLEMENTED);
    await expectStatus(t.call('systemSharedMemoryRegister', { name: 'r', key: '/r', offset: 0n, byteSize: 16n }), status.UNIMPLEMENTED);
    await expectStatus(t.call('cudaSharedMemoryStatus', { name: '' }), status.UNIMPLEMENTED);
    await expectStatus(t.call('traceSetting', { settings: {}, modelName: '' }), status.UNIMPLEMENTED);
    await expectStatus(t.call('logSettings', { settings: {} }), status.UNIMPLEMENTED);
  });

  test('version policy latest (default): only the highest version serves', async () => {
    const res = await t.call('modelInfer', scaleRequest('latest'));
    assert.equal(res.modelVersion, '3');
    assert.deepEqual(readF32(res.rawOutputContents[0]!), [3, 6, 9, 12]);
    await expectStatus(t.call('modelInfer', scaleRequest('latest', '1')), status.NOT_FOUND, /'latest' version 1 is not found/);
    assert.deepEqual(await t.call('modelReady', { name: 'latest', version: '2' }), { ready: false });
    assert.deepEqual(await t.call('modelReady', { name: 'latest', version: '3' }), { ready: true });
  });

  test('version policy all: every version serves; "" picks the highest', async () => {
    for (const v of [1, 2, 3]) {
      const res = await t.call('modelInfer', scaleRequest('all_versions', String(v)));
      assert.equal(res.modelVersion, String(v));
      assert.deepEqual(readF32(res.rawOutputContents[0]!), [v, 2 * v, 3 * v, 4 * v]);
      assert.deepEqual(await t.call('modelReady', { name: 'all_versions', version: String(v) }), { ready: true });
    }
    assert.equal((await t.call('modelInfer', scaleRequest('all_versions'))).modelVersion, '3');
  });

  test('version policy specific { versions: [1] }: only version 1 serves', async () => {
    const res = await t.call('modelInfer', scaleRequest('specific'));
    assert.equal(res.modelVersion, '1');
    assert.deepEqual(readF32(res.rawOutputContents[0]!), [1, 2, 3, 4]);
    await expectStatus(t.call('modelInfer', scaleRequest('specific', '3')), status.NOT_FOUND, /'specific' version 3 is not found/);
  });

  test('ModelStreamInfer: ids echoed, a bad request yields error_message and the stream stays open', async () => {
    const stream = t.client.modelStreamInfer();
    const responses: ModelStreamInferResponse[] = [];
    let notify = () => {};
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ModelStreamInferResponse) => {
        responses.push(r);
        notify();
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        notify = () => responses.length >= n && resolve();
        notify();
      });

    stream.write(scaleRequest('counted', '', 1, 'first'));
    stream.write({ ...scaleRequest('no_such_model', '', 1, 'bad'), modelName: 'no_such_model' });
    await waitFor(2);
    // After the error, the same stream still serves.
    stream.write(scaleRequest('counted', '', 2, 'third'));
    await waitFor(3);
    stream.end();
    await ended;

    assert.equal(responses.length, 3);
    const byId = new Map(responses.map((r) => [r.inferResponse?.id, r]));
    const first = byId.get('first')!;
    assert.equal(first.errorMessage, '');
    assert.equal(first.inferResponse?.modelName, 'counted');
    assert.equal(first.inferResponse?.modelVersion, '1');
    assert.deepEqual(readF32(first.inferResponse!.rawOutputContents[0]!), [2, 4, 6, 8]);
    assert.equal(first.inferResponse?.parameters['triton_final_response']?.boolParam, true);
    // What Triton 2.51 sends for a failed request on a stream (side by side in conformance/):
    // error_message, and an infer_response with the request's id and nothing else.
    const bad = byId.get('bad')!;
    assert.equal(bad.errorMessage, "Request for unknown model: 'no_such_model' is not found");
    assert.deepEqual(bad.inferResponse, { modelName: '', modelVersion: '', id: 'bad', parameters: {}, outputs: [], rawOutputContents: [] });
    const third = byId.get('third')!;
    assert.equal(third.errorMessage, '');
    assert.deepEqual(third.inferResponse?.outputs[0]?.shape, [2n, 4n]);
    assert.deepEqual(readF32(third.inferResponse!.rawOutputContents[0]!), [2, 4, 6, 8, 2, 4, 6, 8]);
  });

  test('ModelStreamInfer: validation errors also come back as error_message with the id', async () => {
    const stream = t.client.modelStreamInfer();
    const got = new Promise<ModelStreamInferResponse>((resolve, reject) => {
      stream.once('data', resolve);
      stream.on('error', reject);
    });
    const bad = scaleRequest('counted', '', 1, 'wrong-shape');
    bad.inputs[0]!.shape = [1n, 5n];
    stream.write(bad);
    const res = await got;
    stream.end();
    assert.deepEqual(res.inferResponse, { modelName: '', modelVersion: '', id: 'wrong-shape', parameters: {}, outputs: [], rawOutputContents: [] });
    assert.match(res.errorMessage, /^\[request id: wrong-shape\] unexpected shape for input 'INPUT0' for model 'counted'\. Expected \[-1,4\], got \[1,5\]\. NOTE: /);
  });
});

describe('server where one model fails to load', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      good: { config: scaleConfig('good', 4), versions: { 1: scaleModel(5) } },
      broken: {
        // Line 4 has a field ModelConfig does not know: Triton fails the load ("failed to read text proto").
        config: `name: "broken"
platform: "onnxruntime_onnx"
max_batch_size: 4
no_such_field: 1
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]`,
        versions: { 1: scaleModel(1) },
      },
      // The config is fine but the model file is not ONNX: version 1 fails to load.
      corrupt: { config: scaleConfig('corrupt', 4), versions: { 1: new TextEncoder().encode('not an onnx model') } },
    });
  });
  after(() => t?.close());

  test('ServerLive stays true, ServerReady is false (strict readiness)', async () => {
    assert.deepEqual(await t.call('serverLive', {}), { live: true });
    assert.deepEqual(await t.call('serverReady', {}), { ready: false });
  });

  test('grpc.health.v1 Health/Check answers NOT_SERVING', async () => {
    assert.equal((await healthCheck(t)).status, HealthCheckResponse_ServingStatus.NOT_SERVING);
  });

  test('the other model keeps serving', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'good', version: '' }), { ready: true });
    const res = await t.call('modelInfer', scaleRequest('good'));
    assert.deepEqual(readF32(res.rawOutputContents[0]!), [5, 10, 15, 20]);
  });

  test('the failed model is not ready and cannot be inferred', async () => {
    assert.deepEqual(await t.call('modelReady', { name: 'broken', version: '' }), { ready: false });
    await expectStatus(t.call('modelInfer', scaleRequest('broken')), status.NOT_FOUND, /'broken'/);
  });

  test('RepositoryIndex lists it UNAVAILABLE with a reason naming the file and line', async () => {
    const { models } = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const broken = models.filter((m) => m.name === 'broken');
    assert.equal(broken.length, 1);
    assert.equal(broken[0]!.state, 'UNAVAILABLE');
    assert.match(broken[0]!.reason, /broken[\\/]config\.pbtxt:4:\d+: .*no_such_field/);
    assert.deepEqual(
      models.filter((m) => m.name === 'good').map((m) => [m.version, m.state]),
      [['1', 'READY']],
    );
    const ready = (await t.call('repositoryIndex', { repositoryName: '', ready: true })).models;
    assert.deepEqual(ready.map((m) => m.name), ['good']);
  });

  test('a version that fails to load is listed UNAVAILABLE with its reason, and is not ready', async () => {
    const { models } = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const corrupt = models.filter((m) => m.name === 'corrupt');
    assert.deepEqual(corrupt.map((m) => [m.version, m.state]), [['1', 'UNAVAILABLE']]);
    // ONNX Runtime's own words, naming the file it could not read.
    assert.match(corrupt[0]!.reason, /^Load model from \/.*\/corrupt\/1\/model\.onnx failed:Protobuf parsing failed\.$/);
    assert.deepEqual(await t.call('modelReady', { name: 'corrupt', version: '1' }), { ready: false });
    assert.deepEqual(await t.call('modelReady', { name: 'corrupt', version: '' }), { ready: false });
  });
});

describe('server in explicit model control mode', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(
      {
        a: { config: scaleConfig('a', 4), versions: { 1: scaleModel(2) } },
        b: { config: scaleConfig('b', 4), versions: { 1: scaleModel(3) } },
        c: { config: 'max_batch_size: [', versions: { 1: scaleModel(4) } },
      },
      { modelControlMode: 'explicit', loadModels: ['a'] },
    );
  });
  after(() => t?.close());

  const load = (modelName: string, parameters = {}) => t.call('repositoryModelLoad', { repositoryName: '', modelName, parameters });
  const unload = (modelName: string) => t.call('repositoryModelUnload', { repositoryName: '', modelName, parameters: {} });
  const index = async () =>
    (await t.call('repositoryIndex', { repositoryName: '', ready: false })).models.map((m) => `${m.name}:${m.version}:${m.state}:${m.reason}`);

  test('only --load-model models load; the others are listed by name only', async () => {
    assert.deepEqual(await index(), ['a:1:READY:', 'b:::', 'c:::']);
    assert.deepEqual(await t.call('serverReady', {}), { ready: true });
    assert.deepEqual(await t.call('modelReady', { name: 'b', version: '' }), { ready: false });
  });

  test('unload: not ready, index says UNAVAILABLE "unloaded", server stays ready', async () => {
    assert.deepEqual(await unload('a'), {});
    assert.deepEqual(await t.call('modelReady', { name: 'a', version: '' }), { ready: false });
    assert.deepEqual(await t.call('modelReady', { name: 'a', version: '1' }), { ready: false });
    await expectStatus(t.call('modelInfer', scaleRequest('a', '1')), status.UNAVAILABLE, /^Request for unknown model: 'a' version 1 is not at ready state$/);
    await expectStatus(t.call('modelInfer', scaleRequest('a')), status.NOT_FOUND);
    assert.deepEqual(await index(), ['a:1:UNAVAILABLE:unloaded', 'b:::', 'c:::']);
    assert.deepEqual(await t.call('serverReady', {}), { ready: true });
    assert.deepEqual(await t.call('repositoryIndex', { repositoryName: '', ready: true }), { models: [] });
  });

  test('load again: ready and serving', async () => {
    assert.deepEqual(await load('a'), {});
    assert.deepEqual(await t.call('modelReady', { name: 'a', version: '' }), { ready: true });
    assert.deepEqual(readF32((await t.call('modelInfer', scaleRequest('a'))).rawOutputContents[0]!), [2, 4, 6, 8]);
    assert.deepEqual(await index(), ['a:1:READY:', 'b:::', 'c:::']);
  });

  test('a successful reload replaces the model without a gap in availability', async () => {
    const reload = load('a');
    let finished = false;
    void reload.finally(() => (finished = true)).catch(() => {});
    // Until the reload has finished, and once more after it, the model answers and stays ready.
    for (let last = false; !last; ) {
      last = finished;
      const res = await t.call('modelInfer', scaleRequest('a'));
      assert.deepEqual(readF32(res.rawOutputContents[0]!), [2, 4, 6, 8]);
      assert.deepEqual(await t.call('modelReady', { name: 'a', version: '' }), { ready: true });
    }
    assert.deepEqual(await reload, {});
    assert.deepEqual(await index(), ['a:1:READY:', 'b:::', 'c:::']);
  });

  test('a reload that fails (invalid config) leaves the loaded model unchanged and serving', async () => {
    const bad = { name: 'a', platform: 'onnxruntime_onnx', max_batch_size: 4, input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [0] }] };
    await expectStatus(load('a', { config: { stringParam: JSON.stringify(bad) } }), status.INVALID_ARGUMENT, /'a'/);
    assert.deepEqual(await t.call('modelReady', { name: 'a', version: '' }), { ready: true });
    assert.deepEqual(readF32((await t.call('modelInfer', scaleRequest('a'))).rawOutputContents[0]!), [2, 4, 6, 8]);
    assert.deepEqual(await index(), ['a:1:READY:', 'b:::', 'c:::']);
    assert.deepEqual(await t.call('serverReady', {}), { ready: true });
  });

  test('a reload whose model fails to load leaves the loaded model unchanged and serving', async () => {
    // Valid config, but the ONNX model has no input named WRONG: the new version fails to load.
    const bad = {
      name: 'a',
      platform: 'onnxruntime_onnx',
      max_batch_size: 2,
      input: [{ name: 'WRONG', data_type: 'TYPE_FP32', dims: [4] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [4] }],
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
    };
    await expectStatus(load('a', { config: { stringParam: JSON.stringify(bad) } }), status.INVALID_ARGUMENT, /WRONG/);
    assert.deepEqual(readF32((await t.call('modelInfer', scaleRequest('a', '', 3))).rawOutputContents[0]!), [2, 4, 6, 8, 2, 4, 6, 8, 2, 4, 6, 8]);
    const { config } = await t.call('modelConfig', { name: 'a', version: '' });
    assert.equal(config?.maxBatchSize, 4);
    assert.equal(config?.input[0]?.name, 'INPUT0');
    assert.deepEqual(await index(), ['a:1:READY:', 'b:::', 'c:::']);
  });

  test('load with a `config` JSON parameter overrides config.pbtxt', async () => {
    const override = {
      name: 'b',
      platform: 'onnxruntime_onnx',
      max_batch_size: 2,
      input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [4] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [4] }],
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
      parameters: { source: { string_value: 'override' } },
    };
    assert.deepEqual(await load('b', { config: { stringParam: JSON.stringify(override) } }), {});
    const { config } = await t.call('modelConfig', { name: 'b', version: '' });
    assert.equal(config?.maxBatchSize, 2);
    assert.equal(config?.parameters['source']?.stringValue, 'override');
    assert.deepEqual(readF32((await t.call('modelInfer', scaleRequest('b', '', 2))).rawOutputContents[0]!), [3, 6, 9, 12, 3, 6, 9, 12]);
    await expectStatus(t.call('modelInfer', scaleRequest('b', '', 3)), status.INVALID_ARGUMENT, /batch-size must be <= 2/);
  });

  // Triton 2.51 (side by side in conformance/): a load of a loaded model whose files have not
  // changed since it was loaded does nothing, so the override stays; a changed file reloads.
  test('load without the parameter keeps the loaded config until a file of the model changes', async () => {
    assert.deepEqual(await load('b'), {});
    assert.equal((await t.call('modelConfig', { name: 'b', version: '' })).config?.maxBatchSize, 2);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(t.repository, 'b', 'config.pbtxt'), later, later);
    assert.deepEqual(await load('b'), {});
    assert.equal((await t.call('modelConfig', { name: 'b', version: '' })).config?.maxBatchSize, 4);
  });

  test('load rejects unknown parameters, a non-string `config` and a config that is not JSON, in Triton\'s words', async () => {
    await expectStatus(load('b', { bogus: { stringParam: 'x' } }), status.INVALID_ARGUMENT, /^unrecognized load parameter 'bogus'\.$/);
    await expectStatus(
      load('b', { config: { boolParam: true } }),
      status.INVALID_ARGUMENT,
      /^invalid value type for load parameter 'config', expected string_param\.$/,
    );
    await expectStatus(load('b', { config: { stringParam: '{not json' } }), status.INTERNAL, /^failed to load 'b', failed to poll from model repository$/);
  });

  test('load of a model that is not in the repository is INTERNAL, as in Triton', async () => {
    await expectStatus(load('missing'), status.INTERNAL, /^failed to load 'missing', failed to poll from model repository$/);
  });

  test('unload of a model that is not loaded succeeds; unknown unload parameters are ignored', async () => {
    assert.deepEqual(await unload('missing'), {});
    assert.deepEqual(await unload('b'), {});
    assert.deepEqual(await unload('b'), {});
    assert.deepEqual(await t.call('repositoryModelUnload', { repositoryName: '', modelName: 'b', parameters: { colour: { stringParam: 'x' } } }), {});
    await expectStatus(
      t.call('repositoryModelUnload', { repositoryName: '', modelName: 'b', parameters: { unload_dependents: { stringParam: 'yes' } } }),
      status.INVALID_ARGUMENT,
      /^invalid value type for 'unload_dependents' parameter, expected bool_param\.$/,
    );
    assert.deepEqual(await load('b'), {});
  });

  test('a non-empty repository_name is UNIMPLEMENTED on index, load and unload', async () => {
    const msg = /'repository_name' specification is not supported/;
    await expectStatus(t.call('repositoryIndex', { repositoryName: 'other', ready: false }), status.UNIMPLEMENTED, msg);
    await expectStatus(t.call('repositoryModelLoad', { repositoryName: 'other', modelName: 'a', parameters: {} }), status.UNIMPLEMENTED, msg);
    await expectStatus(t.call('repositoryModelUnload', { repositoryName: 'other', modelName: 'a', parameters: {} }), status.UNIMPLEMENTED, msg);
    assert.deepEqual(await t.call('modelReady', { name: 'a', version: '' }), { ready: true });
  });

  test('a first load that fails lists the model UNAVAILABLE and makes the server not ready', async () => {
    const err = await expectStatus(load('c'), status.INVALID_ARGUMENT);
    assert.match(err.details, /config\.pbtxt:1:\d+/);
    const c = (await index()).find((row) => row.startsWith('c:'));
    assert.match(c ?? '', /^c::UNAVAILABLE:.*config\.pbtxt:1:\d+/);
    assert.deepEqual(await t.call('modelReady', { name: 'c', version: '' }), { ready: false });
    assert.deepEqual(await t.call('serverReady', {}), { ready: false });
    // Other models are unaffected.
    assert.deepEqual(readF32((await t.call('modelInfer', scaleRequest('a'))).rawOutputContents[0]!), [2, 4, 6, 8]);
  });
});
