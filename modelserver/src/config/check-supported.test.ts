/**
 * @module config/check-supported.test
 * Fields this server cannot serve as Triton does fail validation with an UNSUPPORTED reason
 * naming them; the harmless ones, and Triton's own response_cache rules, are kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigError } from './model-config-error.js';
import { normaliseModelConfig } from './normalise-config.js';
import { parseModelConfigText } from './parse-config.js';
import { validateModelConfig } from './validate-config.js';

const IO = `input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }
output { name: "y" data_type: TYPE_FP32 dims: [ 3 ] }`;

/** Validates a normalised batching ONNX config with `extra` appended, as the loader does. */
const validate = (extra: string, io = IO) =>
  validateModelConfig(
    normaliseModelConfig(parseModelConfigText(`name: "m" backend: "onnxruntime" max_batch_size: 4 ${io} ${extra}`, 'm/config.pbtxt'), 'm'),
    'm/config.pbtxt',
  );

/** The reason validation gives, or undefined when the config passes. */
function reasonOf(extra: string, io?: string): string | undefined {
  try {
    validate(extra, io);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ModelConfigError, String(error));
    return error.reason;
  }
}

describe('checkSupported', () => {
  it('refuses each unsupported field, naming it', () => {
    const cases: Array<[string, RegExp, string?]> = [
      ['sequence_batching { iterative_sequence: true }', /'sequence_batching \{ iterative_sequence: true \}'/],
      ['model_transaction_policy { decoupled: true }', /'model_transaction_policy \{ decoupled: true \}'/],
      [
        '',
        /'allow_ragged_batch' on input 'x'/,
        `input { name: "x" data_type: TYPE_FP32 dims: [ -1 ] allow_ragged_batch: true }
         output { name: "y" data_type: TYPE_FP32 dims: [ -1 ] }`,
      ],
      [
        'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "count" data_type: TYPE_FP32 source_input: "x" } ]',
        /'batch_input' \('count'\)/,
      ],
      ['batch_output [ { target_name: "y" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "x" } ]', /'batch_output' \('y'\)/],
      [
        'optimization { execution_accelerators { cpu_execution_accelerator [ { name: "openvino" } ] } }',
        /'optimization\.execution_accelerators\.cpu_execution_accelerator' \('openvino'\)/,
      ],
      [
        `instance_group [ { kind: KIND_GPU } ]
         optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }`,
        /'optimization\.execution_accelerators\.gpu_execution_accelerator' \('tensorrt'\) with a KIND_GPU instance group/,
      ],
    ];
    for (const [extra, field, io] of cases) {
      const reason = reasonOf(extra, io);
      assert.ok(reason?.startsWith("UNSUPPORTED: model 'm' sets "), `${extra}: ${reason}`);
      assert.match(reason!, field);
    }
  });

  it('names every unsupported field of a config at once', () => {
    const reason = reasonOf(`sequence_batching { iterative_sequence: true }
      batch_output [ { target_name: "y" kind: BATCH_SCATTER_WITH_INPUT_SHAPE source_input: "x" } ]`);
    assert.match(reason ?? '', /'sequence_batching \{ iterative_sequence: true \}'.*; 'batch_output'/);
  });

  it('accepts the fields that keep Triton semantics here', () => {
    for (const extra of [
      'response_cache { enable: true }',
      'model_transaction_policy { decoupled: false }',
      `optimization {
        graph { level: 1 } priority: PRIORITY_MAX cuda { graphs: true busy_wait_events: true }
        input_pinned_memory { enable: false } output_pinned_memory { enable: false }
        gather_kernel_buffer_threshold: 4 eager_batching: true
      }`,
      // On CPU instances the onnxruntime backend applies no GPU accelerator, in Triton too.
      'instance_group [ { kind: KIND_CPU } ] optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }',
    ]) {
      assert.equal(reasonOf(extra), undefined, extra);
    }
  });

  it("gives Triton's reasons for a response cache with sequence batching or decoupled", () => {
    assert.equal(
      reasonOf('sequence_batching { } response_cache { enable: true }'),
      'Response Cache does not currently support model m with sequence batching scheduler. Please disable the response cache.',
    );
    assert.equal(
      reasonOf('model_transaction_policy { decoupled: true } response_cache { enable: true }'),
      "Response Cache does not currently support model m with 'decoupled' transaction policy. Please disable the response cache.",
    );
  });
});
