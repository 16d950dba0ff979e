/**
 * @module config/validate-config.test
 * Each rule of validateModelConfig, with Triton's reasons.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigError } from './model-config-error.js';
import { normaliseModelConfig } from './normalise-config.js';
import { parseModelConfigText } from './parse-config.js';
import { validateModelConfig } from './validate-config.js';

const HEAD = 'name: "m" platform: "onnxruntime_onnx" backend: "onnxruntime"';
const X = 'input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }';
const Y = 'output { name: "y" data_type: TYPE_FP32 dims: [ 3 ] }';

/** A valid batching ONNX config with `extra` appended (or replacing the I/O when it brings its own). */
const config = (extra: string, { head = HEAD, mbs = 4, io = true } = {}) =>
  parseModelConfigText(`${head} max_batch_size: ${mbs} ${io ? `${X} ${Y}` : ''} ${extra}`, 'test.pbtxt');

const rejects = (text: string, reason: string, options?: Parameters<typeof config>[1]) =>
  assert.throws(() => validateModelConfig(config(text, options)), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError, String(error));
    assert.equal(error.reason, reason);
    assert.equal(error.line, 0);
    assert.equal(error.column, 0);
    return true;
  });
const accepts = (text: string, options?: Parameters<typeof config>[1]) =>
  assert.doesNotThrow(() => validateModelConfig(config(text, options)));

describe('validateModelConfig', () => {
  it('accepts a valid config, raw and normalised', () => {
    accepts('dynamic_batching { max_queue_delay_microseconds: 100 }');
    assert.doesNotThrow(() => validateModelConfig(normaliseModelConfig(config('dynamic_batching { }'), 'm')));
  });

  it('reports the given file with line and column 0', () => {
    assert.throws(() => validateModelConfig(config('', { mbs: -1 }), 'models/m/config.pbtxt'), {
      file: 'models/m/config.pbtxt',
      message: "models/m/config.pbtxt:0:0: 'max_batch_size' must be non-negative value for m",
    });
  });

  it('rejects a negative max_batch_size', () => {
    rejects('', "'max_batch_size' must be non-negative value for m", { mbs: -1 });
  });

  describe('platform and backend', () => {
    it('requires one of them', () => {
      rejects('', "must specify 'platform' or 'backend' for 'm'", { head: 'name: "m"' });
      accepts('', { head: 'name: "m" backend: "onnxruntime"' });
      accepts('', { head: 'name: "m" platform: "onnxruntime_onnx"' });
    });

    it('rejects a known backend with a platform of another backend, allows custom backends', () => {
      rejects('', "unexpected 'platform' and 'backend' pair, got:tensorrt_plan, onnxruntime", {
        head: 'name: "m" platform: "tensorrt_plan" backend: "onnxruntime"',
      });
      accepts('', { head: 'name: "m" platform: "anything" backend: "my_custom"' });
    });

    it('rejects a backend on an ensemble', () => {
      rejects('', "Ensemble model 'm' must have platform type 'ensemble' and empty backend type", {
        head: 'name: "m" platform: "ensemble" backend: "onnxruntime"',
      });
    });
  });

  describe('inputs and outputs', () => {
    const rejectsIo = (text: string, reason: string, mbs = 4) => rejects(text, reason, { io: false, mbs });
    const acceptsIo = (text: string, mbs = 4) => accepts(text, { io: false, mbs });

    it('requires names', () => {
      rejectsIo(`input { data_type: TYPE_FP32 dims: [1] } ${Y}`, "model input must specify 'name' for m");
      rejectsIo(`${X} output { data_type: TYPE_FP32 dims: [1] }`, "model output must specify 'name' for m");
    });

    it('requires a known data_type', () => {
      rejectsIo(`input { name: "x" dims: [1] } ${Y}`, "model input 'x' must specify 'data_type' for m");
      rejectsIo(
        `${X} output { name: "y" data_type: TYPE_INVALID dims: [1] }`,
        "model output 'y' must specify 'data_type' for m",
      );
      rejectsIo(`input { name: "x" data_type: 99 dims: [1] } ${Y}`, "model input 'x' has unknown data_type 99 for m");
    });

    it('requires non-empty dims of -1 or >= 1', () => {
      rejectsIo(`input { name: "x" data_type: TYPE_FP32 } ${Y}`, "model input 'x' must specify 'dims' for m");
      const bad = "model input 'x' dimension must be integer >= 1, or -1 to indicate a variable-size dimension for m";
      rejectsIo(`input { name: "x" data_type: TYPE_FP32 dims: [ 3, 0 ] } ${Y}`, bad);
      rejectsIo(`input { name: "x" data_type: TYPE_FP32 dims: [ -2 ] } ${Y}`, bad);
      rejectsIo(
        `${X} output { name: "y" data_type: TYPE_FP32 dims: [ 0 ] }`,
        "model output 'y' dimension must be integer >= 1, or -1 to indicate a variable-size dimension for m",
      );
      acceptsIo(`input { name: "x" data_type: TYPE_FP32 dims: [ -1, 1 ] } ${Y}`);
    });

    describe('reshape (§3.2 element-count rule)', () => {
      const withReshape = (dims: string, shape: string) =>
        `input { name: "x" data_type: TYPE_FP32 dims: [ ${dims} ] reshape { shape: [ ${shape} ] } } ${Y}`;
      const different = "model input 'x' has different size for dims and reshape for m";

      it('accepts equal element counts and matching runs between -1 dims', () => {
        acceptsIo(withReshape('2, 3', '6'));
        acceptsIo(withReshape('2, 3', '3, 2'));
        acceptsIo(withReshape('2, 4, -1, 6', '8, -1, 1, 6'));
        acceptsIo(withReshape('-1', '-1'));
      });

      it('rejects different element counts', () => {
        rejectsIo(withReshape('2, 3', '5'), different);
        rejectsIo(withReshape('-1, 4', '2, 2'), different);
        rejectsIo(withReshape('2, -1, 6', '4, -1, 3'), different);
      });

      it('rejects a different number of -1 dims', () => {
        rejectsIo(
          withReshape('2, -1, 6', '2, -1, -1, 6'),
          "model input 'x' has different number of variable-size dimensions for dims and reshape for m",
        );
      });

      it('allows an empty reshape only for one-element dims of a batching model', () => {
        acceptsIo(withReshape('1', ''));
        rejectsIo(withReshape('2', ''), different);
        rejectsIo(
          withReshape('1', ''),
          "model input 'x' cannot have empty reshape for non-batching model as scalar tensors are not supported for m",
          0,
        );
      });

      it('rejects a reshape dim of 0', () => {
        rejectsIo(
          withReshape('2', '2, 0'),
          "model input 'x' reshape dimensions must be integer >= 1, or -1 to indicate a variable-size dimension for m",
        );
      });

      it('applies to outputs too', () => {
        rejectsIo(
          `${X} output { name: "y" data_type: TYPE_FP32 dims: [ 4 ] reshape { shape: [ 5 ] } }`,
          "model output 'y' has different size for dims and reshape for m",
        );
      });
    });

    it('requires exactly 3 dims for FORMAT_NHWC/FORMAT_NCHW', () => {
      rejectsIo(
        `input { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 224 ] } ${Y}`,
        'model input NHWC/NCHW require 3 dims for m',
      );
      rejectsIo(
        `input { name: "x" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 1, 3, 224, 224 ] } ${Y}`,
        'model input NHWC/NCHW require 3 dims for m',
      );
      acceptsIo(`input { name: "x" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 224, 224, 3 ] } ${Y}`);
    });

    it('rejects TensorRT-only tensor flags elsewhere', () => {
      rejectsIo(
        `input { name: "x" data_type: TYPE_INT32 dims: [1] is_shape_tensor: true } ${Y}`,
        'shape tensors are only supported for TensorRT platform for m',
      );
    });

    it('rejects duplicate input or output names, allows an input and an output to share one', () => {
      rejectsIo(`${X} ${X} ${Y}`, "model input 'x' is specified more than once for m");
      rejectsIo(`${X} ${Y} ${Y}`, "model output 'y' is specified more than once for m");
      acceptsIo(`${X} output { name: "x" data_type: TYPE_FP32 dims: [3] }`);
    });

    it('keeps label_filename inside the model directory', () => {
      // Text format needs a backslash written as `\\`.
      const label = (path: string) => {
        const quoted = path.replaceAll('\\', '\\\\');
        return `${X} output { name: "y" data_type: TYPE_FP32 dims: [3] label_filename: '${quoted}' }`;
      };
      const escaping = ['../labels.txt', 'sub/../../labels.txt', '/etc/labels.txt', 'C:\\labels.txt', '..\\labels.txt'];
      for (const path of escaping) {
        rejectsIo(
          label(path),
          `model output 'y' label_filename '${path}' must be a relative path inside the model directory for m`,
        );
      }
      acceptsIo(label('labels.txt'));
      acceptsIo(label('labels/en..txt'));
    });
  });

  describe('dynamic batching', () => {
    it('requires preferred sizes in 1..max_batch_size', () => {
      const positive = 'dynamic batching preferred size must be positive for m';
      const atMostMax = 'dynamic batching preferred size must be <= max batch size for m';
      rejects('dynamic_batching { preferred_batch_size: [ 0 ] }', positive);
      rejects('dynamic_batching { preferred_batch_size: [ 2, 8 ] }', atMostMax);
      accepts('dynamic_batching { preferred_batch_size: [ 1, 4 ] }');
    });

    it('allows dynamic_batching on a non-batching model unless it names preferred sizes', () => {
      accepts('dynamic_batching { }', { mbs: 0 });
      rejects(
        'dynamic_batching { preferred_batch_size: 1 }',
        'dynamic batching preferred size must be <= max batch size for m',
        { mbs: 0 },
      );
    });

    it('checks priority levels', () => {
      const defaultLevel = 'default priority level must be in range [1, 2] for m';
      rejects('dynamic_batching { priority_levels: 2 }', defaultLevel);
      rejects('dynamic_batching { priority_levels: 2 default_priority_level: 3 }', defaultLevel);
      rejects(
        'dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value { } } }',
        'priority queue policy must have priority level in range [1, 2] for m',
      );
      accepts(
        'dynamic_batching { priority_levels: 2 default_priority_level: 2 priority_queue_policy { key: 1 value { } } }',
      );
    });

    it('forbids several priorities and DELAY timeouts with preserve_ordering', () => {
      rejects(
        'dynamic_batching { preserve_ordering: true priority_levels: 2 default_priority_level: 1 }',
        "Only one priority level is allowed when 'preserve_ordering' is true for m",
      );
      rejects(
        'dynamic_batching { preserve_ordering: true ' +
          'default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 10 } }',
        "Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for m",
      );
      accepts('dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY } }');
    });
  });

  it('checks sequence batching oldest preferred sizes', () => {
    rejects(
      'sequence_batching { oldest { preferred_batch_size: [ 5 ] } }',
      'sequence batching preferred batch size must be <= max batch size for m',
    );
  });

  describe('ensemble platform', () => {
    it('requires ensemble_scheduling for platform "ensemble"', () => {
      rejects('', 'ensemble scheduling must be set for ensemble m whose platform is ensemble', {
        head: 'name: "m" platform: "ensemble"',
      });
    });

    it('rejects ensemble_scheduling on another platform', () => {
      rejects(
        'ensemble_scheduling { step { model_name: "a" input_map { key: "x" value: "x" } ' +
          'output_map { key: "y" value: "y" } } }',
        "ensemble scheduling cannot be set for model 'm' whose platform is not ensemble",
      );
    });
  });

  describe('instance groups', () => {
    it('rejects GPUs on KIND_CPU and KIND_MODEL groups and unknown kinds', () => {
      rejects(
        'instance_group { name: "g" kind: KIND_CPU gpus: [ 0 ] }',
        'instance group g of model m has kind KIND_CPU but specifies one or more GPUs',
      );
      rejects(
        'instance_group { name: "g" kind: KIND_MODEL gpus: [ 0 ] }',
        'instance group g of model m has kind KIND_MODEL but specifies one or more GPUs',
      );
      rejects('instance_group { name: "g" kind: 9 }', 'instance group g of model m has unexpected kind 9');
    });

    it('accepts KIND_GPU without GPUs (the CPU-fallback product rule)', () => {
      accepts('instance_group { name: "g" kind: KIND_GPU }');
      const normalised = normaliseModelConfig(config('instance_group { kind: KIND_GPU }'), 'm', 0);
      assert.doesNotThrow(() => validateModelConfig(normalised));
    });

    it('rejects TensorRT profiles elsewhere', () => {
      rejects(
        'instance_group { name: "g" kind: KIND_CPU profile: "0" }',
        // Triton's message really lacks the space before "specifies".
        'instance group g of model m and platform onnxruntime_onnxspecifies profile field ' +
          'which is only supported for TensorRT models',
      );
    });
  });

  describe('model_warmup', () => {
    const sample = (batch: number, input = 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] zero_data: true }') =>
      `model_warmup { name: "w" batch_size: ${batch} inputs { ${input} } }`;

    it('requires batch_size >= 1, and exactly 1 without batching', () => {
      rejects(sample(0), "model_warmup 'w' must have batch_size >= 1 for m");
      rejects(sample(2), "model_warmup 'w' must have batch_size 1 because m does not support batching", { mbs: 0 });
      accepts(sample(1), { mbs: 0 });
      accepts(sample(3));
    });

    it('requires fully specified dims and a data source', () => {
      rejects(
        sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ -1 ] zero_data: true }'),
        "warmup setting expects all variable-size dimensions are specified for input 'x'",
      );
      rejects(
        sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] }'),
        "warmup setting expects input 'x' to have input_data_type set",
      );
      accepts(sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] zero_data: false }'));
      accepts(sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] random_data: true }'));
    });

    it('keeps input_data_file inside the model directory', () => {
      rejects(
        sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] input_data_file: "../../secret" }'),
        "warmup setting input 'x' input_data_file '../../secret' must be a relative path inside the warmup directory",
      );
      accepts(sample(1, 'key: "x" value { data_type: TYPE_FP32 dims: [ 3 ] input_data_file: "x_data" }'));
    });
  });
});
