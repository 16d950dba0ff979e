import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { GRPCInferenceServiceClient, type ModelInferResponse, type ModelStatisticsResponse } from '../../proto/gen/grpc_service.js';
import { addSubModel, makeTempRepository, slowModel, writeModelRepository } from './fixtures/models.js';
import { f32, inferRequest } from './helpers.js';

const repository = makeTempRepository('modelserver-cli-');
writeModelRepository(repository, {
  slow: {
    config: `name: "slow"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 512 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 512 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]`,
    // About 0.5 s for 4 rows on an idle 2-core machine: long enough to be caught running.
    versions: { 1: slowModel({ layers: 80 }) },
  },
  broken: { config: 'name: "broken"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 4\nbogus: 1\n', versions: { 1: addSubModel() } },
});
after(() => rmSync(repository, { recursive: true, force: true }));

function startCli(args: string[]): { child: ChildProcessWithoutNullStreams; log: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'modelserver/src/cli.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname });
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('rejects bad flags with a usage message and exit code 2', async () => {
  const noRepo = startCli([]);
  assert.equal(await noRepo.exited, 2);
  assert.match(noRepo.log(), /--model-repository is required/);
  const badMode = startCli(['--model-repository', repository, '--model-control-mode', 'poll']);
  assert.equal(await badMode.exited, 2);
  assert.match(badMode.log(), /--model-control-mode must be none or explicit/);
});

test('logs each model load result; SIGTERM drains an in-flight request, then exits 0', async () => {
  const cli = startCli(['--model-repository', repository, '--grpc-port', '0']);
  await waitFor(() => /server (ready|live but not ready)/.test(cli.log()), 'start-up');
  assert.match(cli.log(), /successfully loaded 'slow' version 1/);
  assert.match(cli.log(), /failed to load 'broken'.*config\.pbtxt:4:\d+: .*no field named \\"bogus/);
  const address = /listening on ([\d.:]+)/.exec(cli.log())![1]!;
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  // Connect first, so the request below is really in flight when the signal arrives.
  await new Promise((resolve, reject) => client.serverLive({}, (err, res) => (err ? reject(err) : resolve(res))));
  const request = inferRequest({
    modelName: 'slow',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4n, 512n], parameters: {}, contents: undefined }],
    rawInputContents: [f32(Array.from({ length: 4 * 512 }, (_, i) => (i % 7) / 7))],
  });
  const send = () =>
    new Promise<ModelInferResponse>((resolve, reject) =>
      client.modelInfer(request, new Metadata(), {}, (err: ServiceError | null, res) => (err ? reject(err) : resolve(res))),
    );
  // The signal goes once the server is running the request: ModelStatistics records its queue
  // wait when its execution starts, and its success when it ends. Should a starved test process
  // only look after the execution ended, it sends another.
  const stats = async () => {
    const s = await new Promise<ModelStatisticsResponse>((resolve, reject) =>
      client.modelStatistics({ name: 'slow', version: '' }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    const inference = s.modelStats[0]!.inferenceStats!;
    return { started: Number(inference.queue!.count), done: Number(inference.success!.count) };
  };
  let inFlight: Promise<ModelInferResponse> | undefined;
  for (let attempt = 0; !inFlight; attempt++) {
    assert.ok(attempt < 3, 'three requests ended before they were seen running');
    const answer = send();
    let now = await stats();
    while (now.started === now.done && now.started <= attempt) now = await stats();
    if (now.started > now.done) inFlight = answer;
    else await answer;
  }
  cli.child.kill('SIGTERM');
  const response = await inFlight;
  assert.equal(response.outputs[0]?.name, 'OUTPUT0');
  assert.deepEqual(response.outputs[0]?.shape, [4n, 512n]);
  assert.equal(await cli.exited, 0);
  assert.match(cli.log(), /SIGTERM: draining in-flight requests/);
  client.close();
});
