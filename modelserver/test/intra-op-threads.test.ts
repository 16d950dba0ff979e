/**
 * The `intra_op_thread_count` parameter of Triton's onnxruntime backend, read from config.pbtxt,
 * and the cores shared out between a model's instances when it is not set.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configuredThreads, intraOpThreadsOf } from '../src/backend/session-options.js';
import { normaliseModelConfig, parseModelConfigText } from '../src/config/index.js';

const config = (param: string) =>
  parseModelConfigText(`name: "m"\nbackend: "onnxruntime"\nmax_batch_size: 4\n${param}`, 'config.pbtxt');

describe('intra_op_thread_count', () => {
  it('a positive count is used as given', () => {
    assert.equal(configuredThreads(config('parameters [ { key: "intra_op_thread_count" value: { string_value: "1" } } ]')), 1);
    assert.equal(configuredThreads(config('parameters [ { key: "intra_op_thread_count" value: { string_value: "3" } } ]')), 3);
  });
  it('0, unset or not a whole number leaves the server to share the cores out', () => {
    assert.equal(configuredThreads(config('parameters [ { key: "intra_op_thread_count" value: { string_value: "0" } } ]')), undefined);
    assert.equal(configuredThreads(config('parameters [ { key: "intra_op_thread_count" value: { string_value: "two" } } ]')), undefined);
    assert.equal(configuredThreads(config('')), undefined);
  });
  it('without a count, each instance of the model gets an equal share of the cores, at least one', () => {
    const served = (groups: string, param = '') => normaliseModelConfig(config(`${groups}\n${param}`), 'm');
    assert.equal(intraOpThreadsOf(served('instance_group [ { kind: KIND_CPU count: 1 } ]'), 8), 8);
    assert.equal(intraOpThreadsOf(served('instance_group [ { kind: KIND_CPU count: 2 }, { kind: KIND_CPU count: 1 } ]'), 8), 2);
    assert.equal(intraOpThreadsOf(served('instance_group [ { kind: KIND_CPU count: 4 } ]'), 2), 1);
    const configured = 'parameters [ { key: "intra_op_thread_count" value: { string_value: "1" } } ]';
    assert.equal(intraOpThreadsOf(served('instance_group [ { kind: KIND_CPU count: 1 } ]', configured), 8), 1);
  });
});
