/**
 * @module config/normalise-config.test
 * The defaults Triton fills before ModelConfig answers (kserve-v2-grpc.md §4.3, §4.5).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelInstanceGroup_Kind } from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { normaliseModelConfig } from './normalise-config.js';
import { parseModelConfigText } from './parse-config.js';

const parse = (text: string) => parseModelConfigText(text, 'test.pbtxt');
const IO = `
  input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }
  output { name: "y" data_type: TYPE_FP32 dims: [ 3 ] }
`;
const { KIND_AUTO, KIND_CPU, KIND_GPU } = ModelInstanceGroup_Kind;

describe('normaliseModelConfig', () => {
  it('produces the whole config Triton would serve for a minimal ONNX model', () => {
    const raw = parse(`platform: "onnxruntime_onnx" max_batch_size: 4 dynamic_batching { } ${IO}`);
    const expected = parse(`
      name: "m"
      platform: "onnxruntime_onnx"
      backend: "onnxruntime"
      default_model_filename: "model.onnx"
      version_policy { latest { num_versions: 1 } }
      max_batch_size: 4
      dynamic_batching { preferred_batch_size: [ 4 ] }
      optimization { input_pinned_memory { enable: true } output_pinned_memory { enable: true } }
      instance_group { name: "m" kind: KIND_CPU count: 2 }
      ${IO}
    `);
    assert.deepEqual(normaliseModelConfig(raw, 'm'), expected);
  });

  it('does not modify its input', () => {
    const raw = parse(`backend: "onnxruntime" dynamic_batching { } max_batch_size: 2 ${IO}`);
    const before = structuredClone(raw);
    const out = normaliseModelConfig(raw, 'm');
    assert.deepEqual(raw, before);
    assert.notEqual(out, raw);
    assert.notEqual(out.dynamicBatching, raw.dynamicBatching);
  });

  describe('name', () => {
    it('fills an empty name from the directory and accepts an equal one', () => {
      assert.equal(normaliseModelConfig(parse('backend: "onnxruntime"'), 'dir').name, 'dir');
      assert.equal(normaliseModelConfig(parse('name: "dir" backend: "onnxruntime"'), 'dir').name, 'dir');
    });

    it('rejects a name that differs from the directory', () => {
      assert.throws(() => normaliseModelConfig(parse('name: "other" backend: "onnxruntime"'), 'dir'), {
        name: 'ModelConfigError',
        file: 'dir/config.pbtxt',
        line: 0,
        column: 0,
        reason: "model name 'other' in the configuration does not match the model directory name 'dir'",
      });
      assert.throws(
        () => normaliseModelConfig(parse('name: "other"'), 'dir', 0, { file: '/r/dir/configs/cpu.pbtxt' }),
        (error: unknown) => error instanceof ModelConfigError && error.file === '/r/dir/configs/cpu.pbtxt',
      );
    });
  });

  describe('platform and backend', () => {
    it('pairs onnxruntime_onnx with onnxruntime in both directions', () => {
      const fromPlatform = normaliseModelConfig(parse('platform: "onnxruntime_onnx"'), 'm');
      assert.equal(fromPlatform.backend, 'onnxruntime');
      assert.equal(fromPlatform.defaultModelFilename, 'model.onnx');
      const fromBackend = normaliseModelConfig(parse('backend: "onnxruntime"'), 'm');
      assert.equal(fromBackend.platform, 'onnxruntime_onnx');
      assert.equal(fromBackend.defaultModelFilename, 'model.onnx');
    });

    it('infers onnxruntime from default_model_filename "model.onnx" and keeps a custom file name', () => {
      const inferred = normaliseModelConfig(parse('default_model_filename: "model.onnx"'), 'm');
      assert.equal(inferred.backend, 'onnxruntime');
      assert.equal(inferred.platform, 'onnxruntime_onnx');
      const custom = normaliseModelConfig(parse('backend: "onnxruntime" default_model_filename: "encoder.onnx"'), 'm');
      assert.equal(custom.defaultModelFilename, 'encoder.onnx');
    });

    it('leaves other backends alone', () => {
      const python = normaliseModelConfig(parse('backend: "python"'), 'm');
      assert.equal(python.platform, '');
      assert.equal(python.defaultModelFilename, '');
    });
  });

  describe('ensembles', () => {
    it('keeps platform "ensemble" with an empty backend and adds no instance group or optimization', () => {
      const raw = parse(`
        platform: "ensemble" max_batch_size: 2
        ensemble_scheduling { step {
          model_name: "a" input_map { key: "x" value: "x" } output_map { key: "y" value: "y" }
        } }
        ${IO}
      `);
      const out = normaliseModelConfig(raw, 'ens', 2);
      assert.equal(out.platform, 'ensemble');
      assert.equal(out.backend, '');
      assert.equal(out.defaultModelFilename, '');
      assert.deepEqual(out.instanceGroup, []);
      assert.equal(out.optimization, undefined);
      assert.deepEqual(out.versionPolicy?.latest, { numVersions: 1 });
      // Triton's ModelConfig of an ensemble carries model_transaction_policy { decoupled: false }.
      assert.deepEqual(out.modelTransactionPolicy, { decoupled: false });
      assert.equal(normaliseModelConfig(parse('backend: "onnxruntime"'), 'm').modelTransactionPolicy, undefined);
    });
  });

  describe('version policy and batching defaults', () => {
    it('defaults version_policy to latest 1 and keeps one that is set', () => {
      assert.deepEqual(normaliseModelConfig(parse('backend: "onnxruntime"'), 'm').versionPolicy, {
        latest: { numVersions: 1 },
        all: undefined,
        specific: undefined,
      });
      const all = normaliseModelConfig(parse('backend: "onnxruntime" version_policy { all { } }'), 'm');
      assert.deepEqual(all.versionPolicy?.all, {});
      assert.equal(all.versionPolicy?.latest, undefined);
    });

    it('gives dynamic_batching preferred_batch_size [max_batch_size] only when batching and unset', () => {
      const batching = (text: string) => normaliseModelConfig(parse(`backend: "onnxruntime" ${text}`), 'm');
      assert.deepEqual(batching('max_batch_size: 8 dynamic_batching { }').dynamicBatching?.preferredBatchSize, [8]);
      assert.deepEqual(batching('max_batch_size: 0 dynamic_batching { }').dynamicBatching?.preferredBatchSize, []);
      assert.deepEqual(
        batching('max_batch_size: 8 dynamic_batching { preferred_batch_size: [2, 4] }').dynamicBatching
          ?.preferredBatchSize,
        [2, 4],
      );
      assert.equal(batching('max_batch_size: 8').dynamicBatching, undefined);
    });

    it('defaults sequence batching idle time to 1 s and oldest preferred sizes to max_batch_size', () => {
      const sequence = normaliseModelConfig(
        parse('backend: "onnxruntime" max_batch_size: 4 sequence_batching { oldest { max_candidate_sequences: 2 } }'),
        'm',
      ).sequenceBatching;
      assert.equal(sequence?.maxSequenceIdleMicroseconds, 1_000_000n);
      assert.deepEqual(sequence?.oldest?.preferredBatchSize, [4]);
      const kept = normaliseModelConfig(
        parse('backend: "onnxruntime" sequence_batching { max_sequence_idle_microseconds: 5 }'),
        'm',
      ).sequenceBatching;
      assert.equal(kept?.maxSequenceIdleMicroseconds, 5n);
    });
  });

  describe('optimization', () => {
    it('enables pinned input and output memory unless the file says otherwise', () => {
      const out = normaliseModelConfig(
        parse('backend: "onnxruntime" optimization { graph { level: 1 } input_pinned_memory { enable: false } }'),
        'm',
      );
      assert.deepEqual(out.optimization?.graph, { level: 1 });
      assert.deepEqual(out.optimization?.inputPinnedMemory, { enable: false });
      assert.deepEqual(out.optimization?.outputPinnedMemory, { enable: true });
    });
  });

  describe('instance groups', () => {
    const groups = (text: string, gpuCount?: number, backend = 'onnxruntime') =>
      normaliseModelConfig(parse(`backend: "${backend}" ${text}`), 'm', gpuCount).instanceGroup;

    it('creates one CPU group named after the model, 2 instances for onnxruntime, when there are no GPUs', () => {
      assert.deepEqual(
        groups('').map(({ name, kind, count, gpus }) => ({ name, kind, count, gpus })),
        [{ name: 'm', kind: KIND_CPU, count: 2, gpus: [] }],
      );
    });

    it('uses 1 CPU instance for backends that do not opt into 2', () => {
      assert.equal(groups('', 0, 'python')[0]?.count, 1);
    });

    it('resolves KIND_AUTO to KIND_GPU on every GPU when GPUs exist', () => {
      const [group] = groups('', 2);
      assert.equal(group?.kind, KIND_GPU);
      assert.equal(group?.count, 1);
      assert.deepEqual(group?.gpus, [0, 1]);
    });

    it('resolves KIND_AUTO to KIND_CPU when a listed GPU does not exist', () => {
      const [group] = groups('instance_group { kind: KIND_AUTO gpus: [ 3 ] }', 2);
      assert.equal(group?.kind, KIND_CPU);
      assert.equal(group?.count, 2);
      assert.equal(groups('instance_group { kind: KIND_AUTO gpus: [ 1 ] }', 2)[0]?.kind, KIND_GPU);
    });

    it('keeps KIND_GPU with empty gpus on a machine without GPUs (CPU fallback is the backend’s job)', () => {
      const [group] = groups('instance_group { kind: KIND_GPU }', 0);
      assert.equal(group?.kind, KIND_GPU);
      assert.deepEqual(group?.gpus, []);
      assert.equal(group?.count, 1);
      assert.deepEqual(groups('instance_group { kind: KIND_GPU gpus: [ 1 ] }', 0)[0]?.gpus, [1]);
    });

    it('fills KIND_GPU gpus with all GPUs when omitted and keeps a listed set', () => {
      assert.deepEqual(groups('instance_group { kind: KIND_GPU }', 3)[0]?.gpus, [0, 1, 2]);
      assert.deepEqual(groups('instance_group { kind: KIND_GPU gpus: [ 2 ] }', 3)[0]?.gpus, [2]);
    });

    it('names unnamed groups <model>_<index>, keeps names and counts that are set', () => {
      const out = groups(`
        instance_group [
          { kind: KIND_CPU },
          { name: "mine" kind: KIND_CPU count: 3 },
          { kind: KIND_CPU count: -1 }
        ]
      `);
      assert.deepEqual(
        out.map(({ name, count }) => ({ name, count })),
        [
          { name: 'm_0', count: 2 },
          { name: 'mine', count: 3 },
          { name: 'm_2', count: 2 },
        ],
      );
      assert.ok(out.every((g) => g.kind === KIND_CPU));
    });

    it('leaves KIND_AUTO nowhere in the result', () => {
      const out = groups('instance_group [ { kind: KIND_AUTO }, { kind: KIND_AUTO } ]');
      assert.ok(out.every((g) => g.kind !== KIND_AUTO));
    });
  });

  it('rejects a GPU count that is not a non-negative integer', () => {
    assert.throws(() => normaliseModelConfig(parse(''), 'm', -1), RangeError);
    assert.throws(() => normaliseModelConfig(parse(''), 'm', 1.5), RangeError);
  });
});
