/**
 * @module config/validate-ensemble.test
 * Ensemble rules (kserve-v2-grpc.md §4.7): one config's data flow, and agreement with composing models.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { normaliseModelConfig } from './normalise-config.js';
import { parseModelConfigText } from './parse-config.js';
import { validateModelConfig } from './validate-config.js';
import { validateEnsembleAgainst } from './validate-ensemble.js';

const parse = (text: string) => parseModelConfigText(text, 'test.pbtxt');

/** One `step { ... }` with its maps, composing-model tensor name → ensemble tensor name. */
const step = (model: string, inputs: Record<string, string>, outputs: Record<string, string>) => {
  const entries = (field: string, map: Record<string, string>) =>
    Object.entries(map).map(([k, v]) => `${field} { key: "${k}" value: "${v}" }`);
  const maps = [...entries('input_map', inputs), ...entries('output_map', outputs)];
  return `step { model_name: "${model}" ${maps.join(' ')} }`;
};
const tensor = (kind: 'input' | 'output', name: string, type = 'TYPE_FP32', dims = '3') =>
  `${kind} { name: "${name}" data_type: ${type} dims: [ ${dims} ] }`;
/** A composing ONNX model with one input and one output. */
const composing = (name: string, mbs: number, input: string, output: string) =>
  parse(`name: "${name}" backend: "onnxruntime" max_batch_size: ${mbs} ${input} ${output}`);

// image -> pre(RAW -> PIXELS) -> pixels -> enc(IN -> OUT) -> features
const PRE = step('pre', { RAW: 'image' }, { PIXELS: 'pixels' });
const ENC = step('enc', { IN: 'pixels' }, { OUT: 'features' });
const PIPELINE = `${PRE} ${ENC}`;
const IO = `${tensor('input', 'image')} ${tensor('output', 'features')}`;
const ensemble = (steps: string, { io = IO, extra = '', mbs = 4 } = {}) =>
  parse(`name: "e" platform: "ensemble" max_batch_size: ${mbs} ${io} ensemble_scheduling { ${steps} } ${extra}`);

const rejects = (config: ModelConfig, reason: string) =>
  assert.throws(() => validateModelConfig(config), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError, String(error));
    assert.equal(error.reason, reason);
    return true;
  });

describe('ensemble checks within one config', () => {
  it('accepts a connected pipeline, raw and normalised', () => {
    assert.doesNotThrow(() => validateModelConfig(ensemble(PIPELINE)));
    assert.doesNotThrow(() => validateModelConfig(normaliseModelConfig(ensemble(PIPELINE), 'e', 2)));
  });

  it('requires at least one step', () => {
    rejects(ensemble(''), "must specify 'step' for ensemble 'e'");
  });

  it('forbids instance_group, optimization and model_warmup', () => {
    rejects(
      ensemble(PIPELINE, { extra: 'instance_group { kind: KIND_CPU }' }),
      "instance group should not be specified for ensemble 'e'",
    );
    rejects(ensemble(PIPELINE, { extra: 'optimization { }' }), "optimization should not be specified for ensemble 'e'");
    rejects(
      ensemble(PIPELINE, { extra: 'model_warmup { name: "w" batch_size: 1 }' }),
      "model_warmup can not be specified for ensemble 'e'",
    );
  });

  it('requires model_name, input_map and output_map in every step', () => {
    const nameless = 'step { input_map { key: "a" value: "image" } output_map { key: "b" value: "c" } }';
    rejects(ensemble(`${PIPELINE} ${nameless}`), "must specify 'model_name' in step 2 of ensemble 'e'");
    rejects(ensemble(step('pre', {}, { OUT: 'features' })), "must specify 'input_map' in step 0 of ensemble 'e'");
    rejects(ensemble(step('pre', { IN: 'image' }, {})), "must specify 'output_map' in step 0 of ensemble 'e'");
  });

  it('requires every ensemble input to be used', () => {
    rejects(
      ensemble(PIPELINE, { io: `${IO} ${tensor('input', 'extra')}` }),
      "ensemble input 'extra' for ensemble 'e' is not used",
    );
  });

  it('requires every ensemble output to be produced', () => {
    rejects(
      ensemble(PIPELINE, { io: `${IO} ${tensor('output', 'logits')}` }),
      "ensemble output 'logits' for ensemble 'e' is not used",
    );
  });

  it('allows each ensemble tensor to be produced only once', () => {
    rejects(
      ensemble(`${PIPELINE} ${step('other', { X: 'image' }, { Y: 'pixels' })}`),
      "ensemble tensor 'pixels' can appear in an output map only once for ensemble 'e' step 2",
    );
  });

  it('requires intermediate tensors to be consumed', () => {
    rejects(
      ensemble(`${step('pre', { RAW: 'image' }, { PIXELS: 'pixels', SIZE: 'dangling' })} ${ENC}`),
      "ensemble tensor 'dangling' is unused in ensemble 'e'",
    );
  });

  it('names the unconnected tensor when an output cannot be written', () => {
    rejects(
      ensemble(`${PRE} ${step('enc', { IN: 'pixels', MASK: 'ghost' }, { OUT: 'features' })}`),
      "output 'features' for ensemble 'e' is not written: " +
        "at least one of its depending tensors, 'ghost', is not connected",
    );
  });

  it('lets one tensor feed several steps', () => {
    const aux = step('aux', { IN: 'pixels', IMG: 'image' }, { OUT: 'extra' });
    const config = ensemble(`${PIPELINE} ${aux}`, { io: `${IO} ${tensor('output', 'extra')}` });
    assert.doesNotThrow(() => validateModelConfig(config));
  });
});

describe('validateEnsembleAgainst', () => {
  const models: Record<string, ModelConfig> = {
    pre: composing('pre', 8, tensor('input', 'RAW'), tensor('output', 'PIXELS')),
    enc: composing('enc', 4, tensor('input', 'IN'), tensor('output', 'OUT')),
  };
  const lookup =
    (overrides: Record<string, ModelConfig | undefined> = {}) =>
    (name: string) =>
      name in overrides ? overrides[name] : models[name];
  const rejectsWith = (config: ModelConfig, getConfig: (name: string) => ModelConfig | undefined, reason: string) =>
    assert.throws(() => validateEnsembleAgainst(config, getConfig, 'models/e/config.pbtxt'), (error: unknown) => {
      assert.ok(error instanceof ModelConfigError, String(error));
      assert.equal(error.file, 'models/e/config.pbtxt');
      assert.equal(error.reason, reason);
      return true;
    });

  it('accepts composing models that agree', () => {
    assert.doesNotThrow(() => validateEnsembleAgainst(ensemble(PIPELINE), lookup()));
  });

  it('ignores configs without ensemble_scheduling', () => {
    let called = false;
    validateEnsembleAgainst(models.pre!, () => {
      called = true;
      return undefined;
    });
    assert.equal(called, false);
  });

  it('lists composing models that do not exist', () => {
    rejectsWith(
      ensemble(PIPELINE),
      lookup({ pre: undefined, enc: undefined }),
      "ensemble 'e' contains models that are not available: pre, enc",
    );
  });

  it('requires batching composing models to allow the ensemble max_batch_size', () => {
    rejectsWith(
      ensemble(PIPELINE, { mbs: 6 }),
      lookup(),
      'ensemble e allows maximum batch size 6, but it contains model enc which only allows maximum batch size to be 4',
    );
  });

  it('accepts a non-batching composing model whose shape includes the batch dim', () => {
    const batchDim = (kind: 'input' | 'output', name: string) => tensor(kind, name, 'TYPE_FP32', '-1, 3');
    const flat = composing('enc', 0, batchDim('input', 'IN'), batchDim('output', 'OUT'));
    assert.doesNotThrow(() => validateEnsembleAgainst(ensemble(PIPELINE, { mbs: 6 }), lookup({ enc: flat })));
  });

  it('rejects maps to inputs or from outputs the composing model lacks', () => {
    rejectsWith(
      ensemble(`${step('pre', { RAW: 'image', EXTRA: 'image' }, { PIXELS: 'pixels' })} ${ENC}`),
      lookup(),
      'in ensemble e, ensemble tensor image is mapping to non-existing input EXTRA in model pre',
    );
    rejectsWith(
      ensemble(`${PRE} ${step('enc', { IN: 'pixels' }, { OUT: 'features', NOPE: 'x' })}`),
      lookup(),
      'in ensemble e, ensemble tensor x is mapped from non-existing output NOPE in model enc',
    );
  });

  it('requires every non-optional composing input to be mapped', () => {
    const twoInputs = (optional: boolean) =>
      composing(
        'enc',
        4,
        `${tensor('input', 'IN')} input { name: "MASK" data_type: TYPE_BOOL dims: [ 3 ] optional: ${optional} }`,
        tensor('output', 'OUT'),
      );
    rejectsWith(
      ensemble(PIPELINE),
      lookup({ enc: twoInputs(false) }),
      'in ensemble e, input MASK in model enc is not mapped to any ensemble tensors',
    );
    assert.doesNotThrow(() => validateEnsembleAgainst(ensemble(PIPELINE), lookup({ enc: twoInputs(true) })));
  });

  it('requires connected tensors to agree in data type', () => {
    const int64 = composing('enc', 4, tensor('input', 'IN', 'TYPE_INT64'), tensor('output', 'OUT'));
    rejectsWith(
      ensemble(PIPELINE),
      lookup({ enc: int64 }),
      'in ensemble e, ensemble tensor pixels: inconsistent data type: ' +
        'TYPE_FP32 is inferred from model pre while TYPE_INT64 is inferred from model enc',
    );
  });

  it('requires connected tensors to agree in shape, -1 matching anything', () => {
    const wide = composing('enc', 4, tensor('input', 'IN', 'TYPE_FP32', '4'), tensor('output', 'OUT'));
    rejectsWith(
      ensemble(PIPELINE),
      lookup({ enc: wide }),
      'in ensemble e, ensemble tensor pixels: inconsistent shape: ' +
        '[-1,3] is inferred from model pre while [-1,4] is inferred from model enc',
    );
    const variable = composing('enc', 4, tensor('input', 'IN', 'TYPE_FP32', '-1'), tensor('output', 'OUT'));
    assert.doesNotThrow(() => validateEnsembleAgainst(ensemble(PIPELINE), lookup({ enc: variable })));
  });

  it('compares the ensemble side after its reshape', () => {
    const reshapedInput = 'input { name: "image" data_type: TYPE_FP32 dims: [ 3 ] reshape { shape: [ 1, 3 ] } }';
    rejectsWith(
      ensemble(PIPELINE, { io: `${reshapedInput} ${tensor('output', 'features')}` }),
      lookup(),
      'in ensemble e, ensemble tensor image: inconsistent shape: ' +
        '[-1,1,3] is inferred from model e while [-1,3] is inferred from model pre',
    );
  });
});
