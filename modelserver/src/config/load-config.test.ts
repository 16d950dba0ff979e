/**
 * @module config/load-config.test
 * Choosing config.pbtxt or configs/<name>.pbtxt (kserve-v2-grpc.md §4.2) on real directories.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModelConfig } from './load-config.js';
import { ModelConfigError } from './model-config-error.js';

describe('loadModelConfig', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'load-config-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const modelDir = (name: string, files: Record<string, string>): string => {
    const dir = join(root, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  it('reads config.pbtxt when no config name is given, even if configs/ exists', async () => {
    const dir = modelDir('plain', {
      'config.pbtxt': 'max_batch_size: 1',
      'configs/cpu.pbtxt': 'max_batch_size: 2',
    });
    const { config, file } = await loadModelConfig(dir, {});
    assert.equal(file, join(dir, 'config.pbtxt'));
    assert.equal(config.maxBatchSize, 1);
  });

  it('prefers configs/<name>.pbtxt when it exists', async () => {
    const dir = modelDir('custom', {
      'config.pbtxt': 'max_batch_size: 1',
      'configs/cpu.pbtxt': 'max_batch_size: 2',
    });
    const { config, file } = await loadModelConfig(dir, { configName: 'cpu' });
    assert.equal(file, join(dir, 'configs', 'cpu.pbtxt'));
    assert.equal(config.maxBatchSize, 2);
  });

  it('falls back to config.pbtxt when configs/<name>.pbtxt is missing', async () => {
    const dir = modelDir('fallback', {
      'config.pbtxt': 'max_batch_size: 1',
      'configs/gpu.pbtxt': 'max_batch_size: 2',
    });
    const { config, file } = await loadModelConfig(dir, { configName: 'cpu' });
    assert.equal(file, join(dir, 'config.pbtxt'));
    assert.equal(config.maxBatchSize, 1);
  });

  it('treats an empty config name as none', async () => {
    const dir = modelDir('empty-name', { 'config.pbtxt': 'max_batch_size: 3', 'configs/.pbtxt': 'max_batch_size: 4' });
    assert.equal((await loadModelConfig(dir, { configName: '' })).config.maxBatchSize, 3);
  });

  it('rejects a config name with a space before touching the disk', async () => {
    const dir = modelDir('spaced', { 'config.pbtxt': 'max_batch_size: 1', 'configs/my cfg.pbtxt': '' });
    await assert.rejects(loadModelConfig(dir, { configName: 'my cfg' }), {
      name: 'RangeError',
      message: "model config name 'my cfg' must not contain spaces",
    });
  });

  it('fails with ModelConfigError when config.pbtxt is missing', async () => {
    const dir = modelDir('missing', { '1/model.onnx': '' });
    await assert.rejects(loadModelConfig(dir, {}), (error: unknown) => {
      assert.ok(error instanceof ModelConfigError);
      assert.equal(error.file, join(dir, 'config.pbtxt'));
      assert.equal(error.line, 0);
      assert.match(error.reason, /not found/);
      return true;
    });
    await assert.rejects(loadModelConfig(dir, { configName: 'cpu' }), ModelConfigError);
  });

  it('reports parse errors against the file that was chosen', async () => {
    const dir = modelDir('broken', { 'config.pbtxt': 'name: "x"', 'configs/cpu.pbtxt': '\nbogus: 1' });
    await assert.rejects(loadModelConfig(dir, { configName: 'cpu' }), {
      file: join(dir, 'configs', 'cpu.pbtxt'),
      line: 2,
      column: 6,
      reason: 'Message type "inference.ModelConfig" has no field named "bogus".',
    });
  });
});
