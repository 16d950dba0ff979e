/**
 * The `intra_op_thread_count` parameter of Triton's onnxruntime backend, read from config.pbtxt.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configuredThreads } from '../src/backend/create-instances.js';
import { parseModelConfigText } from '../src/config/index.js';

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
});
