/**
 * @module test/ensemble
 * Ensembles over real gRPC (kserve-v2-grpc.md §4.7): chained and fan-out steps, composing-model
 * statistics, batching with direct traffic, failing steps, and configs that must not load.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InferStatistics, ModelInferRequest, ModelInferResponse, ModelStatistics } from '../../proto/gen/grpc_service.js';
import { addSubModel, scaleModel } from './fixtures/models.js';
import { f32, inferRequest, readF32, startTestServer, type TestServer } from './helpers.js';

const vec4 = (name: string, kind: 'input' | 'output') => `${kind} [ { name: "${name}" data_type: TYPE_FP32 dims: [ 4 ] } ]`;

/** A scale model (INPUT0 × factor → OUTPUT0) with extra scheduling lines. */
const scaleConfig = (name: string, extra = 'instance_group [ { count: 1 kind: KIND_CPU } ]') =>
  `name: "${name}" backend: "onnxruntime" max_batch_size: 8 ${vec4('INPUT0', 'input')} ${vec4('OUTPUT0', 'output')} ${extra}`;

const ADD_SUB_CONFIG = `name: "add_sub" backend: "onnxruntime" max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]`;

/** `step { ... }`; maps go from the composing model's tensor names to ensemble tensor names. */
const step = (model: string, inputs: Record<string, string>, outputs: Record<string, string>) => {
  const entries = (field: string, map: Record<string, string>) =>
    Object.entries(map).map(([k, v]) => `${field} { key: "${k}" value: "${v}" }`);
  return `step { model_name: "${model}" model_version: -1 ${[...entries('input_map', inputs), ...entries('output_map', outputs)].join(' ')} }`;
};

const ensemble = (name: string, io: string, steps: string[]) => ({
  config: `name: "${name}" platform: "ensemble" max_batch_size: 8 ${io} ensemble_scheduling { ${steps.join(' ')} }`,
  versions: { 1: null },
});

let t: TestServer;

before(async () => {
  t = await startTestServer(
    {
      // Composing models. scale2 batches with a long delay so concurrent traffic meets in one batch.
      scale2: {
        config: scaleConfig('scale2', 'instance_group [ { count: 1 kind: KIND_CPU } ] dynamic_batching { max_queue_delay_microseconds: 100000 }'),
        versions: { 1: scaleModel(2) },
      },
      scale3: { config: scaleConfig('scale3'), versions: { 1: scaleModel(3) } },
      scale5: { config: scaleConfig('scale5'), versions: { 1: scaleModel(5) } },
      add_sub: { config: ADD_SUB_CONFIG, versions: { 1: addSubModel() } },
      // Declares a variable dim the ONNX graph (fixed at 4) cannot take: requests of another
      // width load fine and fail when the step runs.
      loose: {
        config: `name: "loose" backend: "onnxruntime" max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ] output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]`,
        versions: { 1: scaleModel(7) },
      },

      // x → scale2 → mid → scale3 → y, so y = 6x.
      chain: ensemble('chain', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [
        step('scale2', { INPUT0: 'x' }, { OUTPUT0: 'mid' }),
        step('scale3', { INPUT0: 'mid' }, { OUTPUT0: 'y' }),
      ]),
      // x feeds scale2 and scale3 in parallel; add_sub combines: sum = 5x, diff = -x.
      fan_out: ensemble(
        'fan_out',
        `${vec4('x', 'input')} output [ { name: "sum" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "diff" data_type: TYPE_FP32 dims: [ 4 ] } ]`,
        [
          step('add_sub', { INPUT0: 'doubled', INPUT1: 'tripled' }, { OUTPUT0: 'sum', OUTPUT1: 'diff' }),
          step('scale2', { INPUT0: 'x' }, { OUTPUT0: 'doubled' }),
          step('scale3', { INPUT0: 'x' }, { OUTPUT0: 'tripled' }),
        ],
      ),
      // Only this ensemble uses scale5, which the test unloads.
      via_scale5: ensemble('via_scale5', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [
        step('scale3', { INPUT0: 'x' }, { OUTPUT0: 'mid' }),
        step('scale5', { INPUT0: 'mid' }, { OUTPUT0: 'y' }),
      ]),
      // Used only by the statistics test below, so its counts start at zero.
      counted: ensemble('counted', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [step('scale3', { INPUT0: 'x' }, { OUTPUT0: 'y' })]),
      // solo runs scale7 (only it does) and scale3 (chain and others too): for unload_dependents.
      scale7: { config: scaleConfig('scale7'), versions: { 1: scaleModel(7) } },
      solo: ensemble('solo', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [
        step('scale7', { INPUT0: 'x' }, { OUTPUT0: 'mid' }),
        step('scale3', { INPUT0: 'mid' }, { OUTPUT0: 'y' }),
      ]),
      fragile: ensemble('fragile', 'input [ { name: "x" data_type: TYPE_FP32 dims: [ -1 ] } ] output [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]', [
        step('loose', { INPUT0: 'x' }, { OUTPUT0: 'y' }),
      ]),

      // Must not load.
      unmapped_output: ensemble(
        'unmapped_output',
        `${vec4('x', 'input')} output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "extra" data_type: TYPE_FP32 dims: [ 4 ] } ]`,
        [step('scale2', { INPUT0: 'x' }, { OUTPUT0: 'y' })],
      ),
      unknown_model: ensemble('unknown_model', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [
        step('scale2', { INPUT0: 'x' }, { OUTPUT0: 'mid' }),
        step('ghost', { INPUT0: 'mid' }, { OUTPUT0: 'y' }),
      ]),
      // A composing model whose version directory has no model.onnx: it fails to load.
      broken: { config: scaleConfig('broken'), versions: { 1: null } },
      needs_broken: ensemble('needs_broken', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [step('broken', { INPUT0: 'x' }, { OUTPUT0: 'y' })]),
      // Cycles: loading a composing model must not wait on the ensemble that asked for it.
      loop_self: ensemble('loop_self', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [step('loop_self', { x: 'x' }, { y: 'y' })]),
      cycle_a: ensemble('cycle_a', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [step('cycle_b', { x: 'x' }, { y: 'y' })]),
      cycle_b: ensemble('cycle_b', `${vec4('x', 'input')} ${vec4('y', 'output')}`, [step('cycle_a', { x: 'x' }, { y: 'y' })]),
    },
    { modelControlMode: 'explicit', loadModels: ['*'] },
  );
}, { timeout: 60_000 });
after(() => t.close());

// ---------------------------------------------------------------------------------------------

/** One of a model's inference_stats durations (always present in a snapshot). */
const duration = (s: ModelStatistics, field: keyof InferStatistics) => s.inferenceStats![field]!;

async function statsOf(model: string): Promise<ModelStatistics> {
  const res = await t.call('modelStatistics', { name: model, version: '' });
  return res.modelStats[0]!;
}

const outputsByName = (res: ModelInferResponse) =>
  new Map(res.outputs.map((o, i) => [o.name, { shape: o.shape.map(Number), values: readF32(res.rawOutputContents[i]!) }]));

/** One FP32 request with a single input of shape [rows, values.length / rows]. */
const infer = (model: string, input: string, values: number[], rows = 1) =>
  t.call(
    'modelInfer',
    inferRequest({
      modelName: model,
      inputs: [{ name: input, datatype: 'FP32', shape: [BigInt(rows), BigInt(values.length / rows)], parameters: {}, contents: undefined }],
      rawInputContents: [f32(values)],
    }),
  );

const rejectsWith = (p: Promise<unknown>, code: status, pattern: RegExp) =>
  assert.rejects(p, (err: ServiceError) => {
    assert.equal(err.code, code, err.details);
    assert.match(err.details, pattern);
    return true;
  });

// ---------------------------------------------------------------------------------------------

describe('ensemble results', () => {
  it('chains steps: x → ×2 → ×3', async () => {
    const res = await infer('chain', 'x', [1, 2, 3, 4, -1, 0.5, 10, 0], 2);
    assert.equal(res.modelName, 'chain');
    assert.equal(res.modelVersion, '1');
    assert.deepEqual([...outputsByName(res)], [['y', { shape: [2, 4], values: [6, 12, 18, 24, -6, 3, 60, 0] }]]);
  });

  it('fans one input out to parallel steps and combines them', async () => {
    const res = await infer('fan_out', 'x', [1, 2, 3, 4]);
    const out = outputsByName(res);
    assert.deepEqual(out.get('sum'), { shape: [1, 4], values: [5, 10, 15, 20] });
    assert.deepEqual(out.get('diff'), { shape: [1, 4], values: [-1, -2, -3, -4] });
  });

  it('returns only the requested ensemble output', async () => {
    const res = await t.call(
      'modelInfer',
      inferRequest({
        modelName: 'fan_out',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined }],
        outputs: [{ name: 'diff', parameters: {} }],
        rawInputContents: [f32([2, 2, 2, 2])],
      }),
    );
    assert.deepEqual([...outputsByName(res)], [['diff', { shape: [1, 4], values: [-2, -2, -2, -2] }]]);
  });
});

describe('ensemble statistics and batching', () => {
  it("counts the ensemble's requests in every composing model", async () => {
    const before = await Promise.all(['chain', 'scale2', 'scale3'].map(statsOf));
    await Promise.all([infer('chain', 'x', [1, 1, 1, 1]), infer('chain', 'x', [1, 1, 1, 1, 2, 2, 2, 2], 2)]);
    const after = await Promise.all(['chain', 'scale2', 'scale3'].map(statsOf));
    const delta = (i: number) => ({
      inferences: after[i]!.inferenceCount - before[i]!.inferenceCount,
      successes: duration(after[i]!, 'success').count - duration(before[i]!, 'success').count,
    });
    // Two requests, three batch elements, through each step.
    assert.deepEqual(delta(0), { inferences: 3n, successes: 2n });
    assert.deepEqual(delta(1), { inferences: 3n, successes: 2n });
    assert.deepEqual(delta(2), { inferences: 3n, successes: 2n });
  });

  // Triton's ensemble scheduler counts each ensemble request as one success, one queue wait, one
  // execution of its batch size (batch_stats too); checked side by side by conformance/.
  it('counts executions, queue waits and batch sizes for the ensemble itself, as Triton does', async () => {
    await infer('counted', 'x', [1, 1, 1, 1]);
    await infer('counted', 'x', [1, 1, 1, 1, 2, 2, 2, 2], 2);
    await infer('counted', 'x', [3, 3, 3, 3]);
    const s = await statsOf('counted');
    assert.equal(s.inferenceCount, 4n);
    assert.equal(s.executionCount, 3n);
    for (const field of ['success', 'queue', 'computeInput', 'computeInfer', 'computeOutput'] as const) {
      assert.equal(duration(s, field).count, 3n, field);
    }
    assert.equal(duration(s, 'fail').count, 0n);
    assert.ok(duration(s, 'success').ns > 0n && duration(s, 'computeInfer').ns > 0n);
    assert.deepEqual(
      s.batchStats.map((b) => [b.batchSize, b.computeInfer!.count]),
      [
        [1n, 2n],
        [2n, 1n],
      ],
    );
  });

  it('carries sequence_id, sequence_start and sequence_end back in every ensemble response', async () => {
    const request = (parameters: ModelInferRequest['parameters']) =>
      t.call(
        'modelInfer',
        inferRequest({
          modelName: 'chain',
          parameters,
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1n, 4n], parameters: {}, contents: undefined }],
          rawInputContents: [f32([1, 1, 1, 1])],
        }),
      );
    // The decoded parameters, without the oneof members that are not set.
    const set = (parameters: ModelInferResponse['parameters']) =>
      Object.fromEntries(
        Object.entries(parameters).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined))]),
      );
    assert.deepEqual(set((await request({})).parameters), {
      sequence_id: { int64Param: 0n },
      sequence_start: { boolParam: false },
      sequence_end: { boolParam: false },
    });
    assert.deepEqual(set((await request({ sequence_id: { stringParam: 'abc' }, sequence_end: { boolParam: true } })).parameters), {
      sequence_id: { stringParam: 'abc' },
      sequence_start: { boolParam: false },
      sequence_end: { boolParam: true },
    });
    // A model that is not an ensemble adds none.
    assert.deepEqual((await infer('scale3', 'INPUT0', [1, 1, 1, 1])).parameters, {});
  });

  it("batches the ensemble's step with direct requests to the composing model", async () => {
    const before = await statsOf('scale2');
    const [viaEnsemble, direct] = await Promise.all([infer('chain', 'x', [1, 2, 3, 4]), infer('scale2', 'INPUT0', [5, 6, 7, 8])]);
    assert.deepEqual(outputsByName(viaEnsemble).get('y')!.values, [6, 12, 18, 24]);
    assert.deepEqual(outputsByName(direct).get('OUTPUT0')!.values, [10, 12, 14, 16]);
    const after = await statsOf('scale2');
    assert.equal(after.executionCount - before.executionCount, 1n, 'both requests should share one execution');
    assert.equal(after.inferenceCount - before.inferenceCount, 2n);
    const pairs = (s: ModelStatistics) => Number(s.batchStats.find((b) => b.batchSize === 2n)?.computeInfer?.count ?? 0n);
    assert.equal(pairs(after) - pairs(before), 1);
  });
});

describe('failing ensembles', () => {
  it('fails the request naming the step whose model errored', async () => {
    const req = infer('fragile', 'x', [1, 2, 3]);
    await rejectsWith(req, status.INTERNAL, /in ensemble 'fragile', step 0 \('loose'\) failed: .+/);
    const s = await statsOf('fragile');
    // Twice, as Triton counts a failed ensemble request (see ensemble-model; checked on
    // tritonserver 2.51 by cancellation.test.ts, whose cancelled ensemble request fails a step).
    assert.equal(duration(s, 'fail').count, 2n);
    assert.equal(duration(await statsOf('loose'), 'fail').count, 1n);
    // The same ensemble serves requests its composing model can run.
    assert.deepEqual(outputsByName(await infer('fragile', 'x', [1, 2, 3, 4])).get('y')!.values, [7, 14, 21, 28]);
  });

  it('rejects an ensemble output no step produces, and keeps serving the rest', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const entry = index.models.find((m) => m.name === 'unmapped_output');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry!.reason, /ensemble output 'extra' for ensemble 'unmapped_output' is not used/);
    await rejectsWith(
      t.call('repositoryModelLoad', { repositoryName: '', modelName: 'unmapped_output', parameters: {} }),
      status.INVALID_ARGUMENT,
      /ensemble output 'extra' for ensemble 'unmapped_output' is not used/,
    );
    await rejectsWith(infer('unmapped_output', 'x', [1, 2, 3, 4]), status.NOT_FOUND, /unmapped_output/);
    assert.deepEqual(outputsByName(await infer('chain', 'x', [1, 1, 1, 1])).get('y')!.values, [6, 6, 6, 6]);
  });

  it('rejects an ensemble naming a model the repository lacks', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const entry = index.models.find((m) => m.name === 'unknown_model');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry!.reason, /ensemble 'unknown_model' contains models that are not available: ghost/);
    await rejectsWith(
      t.call('repositoryModelLoad', { repositoryName: '', modelName: 'unknown_model', parameters: {} }),
      status.INVALID_ARGUMENT,
      /ensemble 'unknown_model' contains models that are not available: ghost/,
    );
    // Its composing model that does exist still serves.
    assert.deepEqual(outputsByName(await infer('scale2', 'INPUT0', [1, 1, 1, 1])).get('OUTPUT0')!.values, [2, 2, 2, 2]);
  });

  it('rejects an ensemble whose composing model fails to load, naming both', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    const entry = index.models.find((m) => m.name === 'needs_broken');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry!.reason, /^ensemble 'needs_broken' depends on 'broken' which has no loaded version\. Model 'broken' loading failed with error: .+/);
  });

  it('rejects ensembles that depend on themselves instead of hanging the load', async () => {
    const index = await t.call('repositoryIndex', { repositoryName: '', ready: false });
    for (const name of ['loop_self', 'cycle_a', 'cycle_b']) {
      const entry = index.models.find((m) => m.name === name);
      assert.equal(entry?.state, 'UNAVAILABLE', name);
      assert.match(entry!.reason, /circular dependency/, name);
    }
    assert.match(index.models.find((m) => m.name === 'loop_self')!.reason, /^ensemble 'loop_self' has a circular dependency on 'loop_self'$/);
    await rejectsWith(
      t.call('repositoryModelLoad', { repositoryName: '', modelName: 'cycle_a', parameters: {} }),
      status.INVALID_ARGUMENT,
      /circular dependency/,
    );
  });

  // Triton's dependency graph (side by side in conformance/): unloading a composing model unloads
  // the ensembles that run it, which load again with it, unless unload_dependents removed them.
  it('unloads the ensembles that run an unloaded model, and loads them again with it', async () => {
    assert.deepEqual(outputsByName(await infer('via_scale5', 'x', [1, 1, 1, 1])).get('y')!.values, [15, 15, 15, 15]);
    await t.call('repositoryModelUnload', { repositoryName: '', modelName: 'scale5', parameters: {} });
    const state = async (name: string) => {
      const rows = (await t.call('repositoryIndex', { repositoryName: '', ready: false })).models.filter((m) => m.name === name);
      return rows.map((m) => `${m.version}:${m.state}:${m.reason}`);
    };
    assert.deepEqual(await state('via_scale5'), ['1:UNAVAILABLE:unloaded']);
    assert.deepEqual(await t.call('modelReady', { name: 'via_scale5', version: '' }), { ready: false });
    await rejectsWith(infer('via_scale5', 'x', [1, 1, 1, 1]), status.NOT_FOUND, /^Request for unknown model: 'via_scale5' has no available versions$/);
    // Other ensembles keep serving.
    assert.deepEqual(outputsByName(await infer('chain', 'x', [1, 1, 1, 1])).get('y')!.values, [6, 6, 6, 6]);
    await t.call('repositoryModelLoad', { repositoryName: '', modelName: 'scale5', parameters: {} });
    assert.deepEqual(await state('via_scale5'), ['1:READY:']);
    assert.deepEqual(outputsByName(await infer('via_scale5', 'x', [1, 1, 1, 1])).get('y')!.values, [15, 15, 15, 15]);
  });

  it('unload_dependents of an ensemble also unloads the composing models loaded only for it', async () => {
    const unload = (modelName: string, dependents: boolean) =>
      t.call('repositoryModelUnload', { repositoryName: '', modelName, parameters: { unload_dependents: { boolParam: dependents } } });
    const load = (modelName: string) => t.call('repositoryModelLoad', { repositoryName: '', modelName, parameters: {} });
    const ready = async (name: string) => (await t.call('modelReady', { name, version: '' })).ready;
    // Without it, the composing models stay.
    await unload('solo', false);
    assert.deepEqual([await ready('solo'), await ready('scale7'), await ready('scale3')], [false, true, true]);
    // scale7 was named at start-up; unloaded and loaded again by solo's load, it is only solo's step.
    await unload('scale7', false);
    await load('solo');
    assert.deepEqual(outputsByName(await infer('solo', 'x', [1, 1, 1, 1])).get('y')!.values, [21, 21, 21, 21]);
    await unload('solo', true);
    // scale3 was named at start-up (and chain runs it): it stays.
    assert.deepEqual([await ready('solo'), await ready('scale7'), await ready('scale3')], [false, false, true]);
    await load('solo');
    assert.deepEqual(outputsByName(await infer('solo', 'x', [1, 1, 1, 1])).get('y')!.values, [21, 21, 21, 21]);
  });
});
