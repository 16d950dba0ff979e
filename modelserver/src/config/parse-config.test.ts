/**
 * @module config/parse-config.test
 * config.pbtxt syntax (kserve-v2-grpc.md §3.7) and protoc's diagnostics for malformed files.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DataType,
  ModelInput_Format,
  ModelInstanceGroup_Kind,
  ModelQueuePolicy_TimeoutAction,
} from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { parseModelConfigText } from './parse-config.js';

const FILE = 'models/m/config.pbtxt';
const parse = (text: string) => parseModelConfigText(text, FILE);

describe('parseModelConfigText: syntax Triton accepts', () => {
  it('parses scalars, enums by name and int64 dims as bigint', () => {
    const config = parse(`
      name: "m"
      platform: "onnxruntime_onnx"
      max_batch_size: 8
      input { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, -1, -1 ] }
      output { name: "y" data_type: TYPE_STRING dims: [ -1 ] label_filename: "labels.txt" }
      instance_group { kind: KIND_GPU count: 2 gpus: [ 0, 1 ] }
    `);
    assert.equal(config.name, 'm');
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.equal(config.maxBatchSize, 8);
    assert.equal(config.input[0]?.dataType, DataType.TYPE_FP32);
    assert.equal(config.input[0]?.format, ModelInput_Format.FORMAT_NCHW);
    assert.deepEqual(config.input[0]?.dims, [3n, -1n, -1n]);
    assert.equal(config.output[0]?.dataType, DataType.TYPE_STRING);
    assert.equal(config.output[0]?.labelFilename, 'labels.txt');
    assert.equal(config.instanceGroup[0]?.kind, ModelInstanceGroup_Kind.KIND_GPU);
    assert.equal(config.instanceGroup[0]?.count, 2);
    assert.deepEqual(config.instanceGroup[0]?.gpus, [0, 1]);
  });

  it('reads repeated fields written as repeated entries and as list syntax alike', () => {
    const repeated = parse(`
      input { name: "a" data_type: TYPE_FP32 dims: 1 dims: 2 }
      input { name: "b" data_type: TYPE_INT64 dims: 3 }
    `);
    const listed = parse(`
      input [
        { name: "a" data_type: TYPE_FP32 dims: [ 1, 2 ] },
        { name: "b" data_type: TYPE_INT64 dims: [ 3 ] }
      ]
    `);
    assert.deepEqual(listed, repeated);
    assert.deepEqual(repeated.input.map((i) => i.name), ['a', 'b']);
    assert.deepEqual(repeated.input[0]?.dims, [1n, 2n]);
  });

  it('treats `field: { }` and `field { }` the same', () => {
    const withColon = parse('dynamic_batching: { max_queue_delay_microseconds: 100 } output: [ { name: "o" } ]');
    const without = parse('dynamic_batching { max_queue_delay_microseconds: 100 } output [ { name: "o" } ]');
    assert.deepEqual(withColon, without);
    assert.equal(without.dynamicBatching?.maxQueueDelayMicroseconds, 100n);
  });

  it('keeps an empty message present: `dynamic_batching { }`, `reshape: { shape: [ ] }`', () => {
    const config = parse('dynamic_batching { } input { name: "x" dims: [1] reshape: { shape: [ ] } }');
    assert.notEqual(config.dynamicBatching, undefined);
    assert.deepEqual(config.dynamicBatching?.preferredBatchSize, []);
    assert.deepEqual(config.input[0]?.reshape, { shape: [] });
    assert.equal(parse('input { name: "x" }').input[0]?.reshape, undefined);
  });

  it('ignores # comments, whole-line and trailing', () => {
    const config = parse(`
      # a whole-line comment with "quotes" and { braces
      name: "m" # trailing comment
      # max_batch_size: 99
      max_batch_size: 4#no space before it
    `);
    assert.equal(config.name, 'm');
    assert.equal(config.maxBatchSize, 4);
  });

  it('accepts single-quoted strings and joins adjacent string literals', () => {
    assert.equal(parse("name: 'single'").name, 'single');
    assert.equal(parse(`backend: 'onnx' "runtime"`).backend, 'onnxruntime');
  });

  it('accepts `;` and `,` as optional field separators', () => {
    const config = parse('name: "m"; max_batch_size: 2, backend: "onnxruntime";');
    assert.equal(config.name, 'm');
    assert.equal(config.maxBatchSize, 2);
    assert.equal(config.backend, 'onnxruntime');
  });

  it('accepts every boolean spelling of the C++ parser', () => {
    const spellings = ['true', 'True', 't', '1', 'false', 'False', 'f', '0'];
    const config = parse(spellings.map((b, i) => `input { name: "i${i}" optional: ${b} }`).join('\n'));
    assert.deepEqual(
      config.input.map((i) => i.optional),
      [true, true, true, true, false, false, false, false],
    );
  });

  it('reads maps of parameters written as key/value entries, in both syntaxes', () => {
    const config = parse(`
      parameters { key: "mean" value { string_value: "0.5,0.5,0.5" } }
      parameters: [ { key: "eos_token_id", value: { string_value: '2' } } ]
      parameters [ { key: "empty" value { } } ]
    `);
    assert.deepEqual(config.parameters, {
      mean: { stringValue: '0.5,0.5,0.5' },
      eos_token_id: { stringValue: '2' },
      empty: { stringValue: '' },
    });
  });

  it('reads oneof members written directly: version_policy { all { } } / latest / specific', () => {
    const all = parse('version_policy { all { } }').versionPolicy;
    assert.deepEqual(all?.all, {});
    assert.equal(all?.latest, undefined);
    assert.equal(all?.specific, undefined);
    const latest = parse('version_policy: { latest: { num_versions: 2 } }').versionPolicy?.latest;
    assert.deepEqual(latest, { numVersions: 2 });
    assert.deepEqual(parse('version_policy { specific { versions: [1, 3] } }').versionPolicy?.specific, {
      versions: [1n, 3n],
    });
    assert.equal(parse('name: "m"').versionPolicy, undefined);
  });

  it('reads dynamic_batching with queue policies and a priority map keyed by uint64', () => {
    const batching = parse(`
      dynamic_batching {
        preferred_batch_size: [ 2, 4 ]
        max_queue_delay_microseconds: 100
        default_queue_policy { max_queue_size: 4 }
        priority_levels: 2
        default_priority_level: 1
        priority_queue_policy { key: 2 value { timeout_action: DELAY default_timeout_microseconds: 5000 } }
      }
    `).dynamicBatching;
    assert.deepEqual(batching?.preferredBatchSize, [2, 4]);
    assert.equal(batching?.maxQueueDelayMicroseconds, 100n);
    assert.equal(batching?.defaultQueuePolicy?.maxQueueSize, 4);
    assert.equal(batching?.defaultQueuePolicy?.timeoutAction, ModelQueuePolicy_TimeoutAction.REJECT);
    assert.equal(batching?.priorityLevels, 2n);
    const policy = batching?.priorityQueuePolicy.get(2n);
    assert.equal(policy?.timeoutAction, ModelQueuePolicy_TimeoutAction.DELAY);
    assert.equal(policy?.defaultTimeoutMicroseconds, 5000n);
  });

  it('reads model_warmup with an inputs map and each input_data_type member', () => {
    const warmup = parse(`
      model_warmup [ {
        name: "sample"
        batch_size: 1
        inputs { key: "image" value { data_type: TYPE_FP32 dims: [ 3, 4, 4 ] zero_data: true } }
        inputs: { key: "ids", value: { data_type: TYPE_INT64, dims: [ 5 ], random_data: true } }
        inputs [ { key: "text" value { data_type: TYPE_STRING dims: [ 1 ] input_data_file: "text_data" } } ]
      } ]
    `).modelWarmup;
    assert.equal(warmup.length, 1);
    assert.equal(warmup[0]?.name, 'sample');
    const inputs = warmup[0]?.inputs ?? {};
    assert.deepEqual(Object.keys(inputs).sort(), ['ids', 'image', 'text']);
    assert.equal(inputs.image?.zeroData, true);
    assert.deepEqual(inputs.image?.dims, [3n, 4n, 4n]);
    assert.equal(inputs.ids?.randomData, true);
    assert.equal(inputs.ids?.zeroData, undefined);
    assert.equal(inputs.text?.inputDataFile, 'text_data');
  });

  it('reads ensemble steps with input_map/output_map', () => {
    const config = parse(`
      platform: "ensemble"
      ensemble_scheduling { step [
        { model_name: "pre" model_version: -1
          input_map { key: "RAW" value: "image" } output_map { key: "OUT" value: "pixels" } }
      ] }
    `);
    const step = config.ensembleScheduling?.step[0];
    assert.equal(step?.modelName, 'pre');
    assert.equal(step?.modelVersion, -1n);
    assert.deepEqual(step?.inputMap, { RAW: 'image' });
    assert.deepEqual(step?.outputMap, { OUT: 'pixels' });
    assert.equal(config.dynamicBatching, undefined);
  });

  it('returns an all-default config for an empty file', () => {
    const config = parse('');
    assert.equal(config.name, '');
    assert.equal(config.maxBatchSize, 0);
    assert.deepEqual(config.input, []);
  });

  it('keeps UTF-8 text intact', () => {
    assert.equal(parse('name: "modèle"').name, 'modèle');
  });
});

describe('parseModelConfigText: malformed files fail like Triton', () => {
  const expectError = (text: string, line: number, column: number, reason: string) =>
    assert.throws(
      () => parse(text),
      (error: unknown) => {
        assert.ok(error instanceof ModelConfigError);
        assert.equal(error.name, 'ModelConfigError');
        assert.equal(error.file, FILE);
        assert.equal(error.line, line);
        assert.equal(error.column, column);
        assert.equal(error.reason, reason);
        assert.equal(error.message, `${FILE}:${line}:${column}: ${reason}`);
        return true;
      },
    );

  it('rejects an unknown field', () => {
    expectError(
      'name: "m"\nmax_batch_size: 1\n  bogus_field: 3\n',
      3,
      14,
      'Message type "inference.ModelConfig" has no field named "bogus_field".',
    );
  });

  it('rejects an unknown field inside a nested message', () => {
    expectError(
      'input {\n  name: "x"\n  shape: [1]\n}\n',
      3,
      8,
      'Message type "inference.ModelInput" has no field named "shape".',
    );
  });

  it('rejects an unknown enum name (reported at the token after it, as protoc does)', () => {
    expectError(
      'input {\n  name: "x"\n  data_type: TYPE_FP33\n}\n',
      4,
      1,
      'Unknown enumeration value of "TYPE_FP33" for field "data_type".',
    );
  });

  it('rejects a truncated file', () => {
    expectError('name: "m"\ninput {\n  name: "x"\n', 4, 1, 'Expected identifier, got: ');
  });

  it('rejects an unterminated list', () => {
    expectError('input { name: "x" dims: [1, 2 }\n', 1, 31, 'Expected ",", found "}".');
  });

  it('rejects a string where an integer belongs and a number where a string belongs', () => {
    expectError('name: "m"\nmax_batch_size: "eight"\n', 2, 17, 'Expected integer, got: "eight"');
    expectError('name: 5\n', 1, 7, 'Expected string, got: 5');
  });

  it('rejects an int32 out of range and a negative unsigned value', () => {
    expectError('max_batch_size: 99999999999\n', 1, 17, 'Integer out of range (99999999999)');
    expectError('version_policy { latest { num_versions: -1 } }\n', 1, 41, 'Expected integer, got: -');
  });

  it('rejects an invalid boolean', () => {
    expectError('input { optional: yes }\n', 1, 23, 'Invalid value for boolean field "optional". Value: "yes".');
  });

  it('rejects two members of one oneof', () => {
    expectError(
      'dynamic_batching { }\nsequence_batching { }\n',
      2,
      19,
      'Field "sequence_batching" is specified along with field "dynamic_batching", ' +
        'another member of oneof "scheduling_choice".',
    );
  });

  it('rejects a non-repeated field given twice', () => {
    expectError(
      'max_batch_size: 2\nmax_batch_size: 3\n',
      2,
      15,
      'Non-repeated field "max_batch_size" is specified multiple times.',
    );
  });

  it('counts columns in bytes, like Triton logs them', () => {
    // "é" is two bytes in UTF-8, so the column is one more than the character count.
    expectError('name: "é" bogus: 1', 1, 17, 'Message type "inference.ModelConfig" has no field named "bogus".');
  });
});
