/**
 * @module repository/scan-repository.test
 * Repository layout rules (kserve-v2-grpc.md §4.1) on real temporary directories.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listModelNames, listVersionDirs, modelFilePath, selectVersions } from './scan-repository.js';

describe('scan-repository', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'scan-repository-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const makeDirs = (base: string, names: string[]): string => {
    for (const name of names) mkdirSync(join(base, name), { recursive: true });
    return base;
  };

  describe('listModelNames', () => {
    it('lists subdirectories sorted, following symlinks and skipping files', () => {
      const repo = makeDirs(join(root, 'repo'), ['zeta', 'alpha', 'Beta', 'm.1']);
      writeFileSync(join(repo, 'README.md'), 'not a model');
      symlinkSync(join(repo, 'alpha'), join(repo, 'linked'));
      symlinkSync(join(repo, 'missing-target'), join(repo, 'broken'));
      assert.deepEqual(listModelNames(repo), ['Beta', 'alpha', 'linked', 'm.1', 'zeta']);
    });

    it('throws for a repository that does not exist', () => {
      assert.throws(() => listModelNames(join(root, 'nope')), { code: 'ENOENT' });
    });
  });

  describe('listVersionDirs', () => {
    it('keeps numeric directories in ascending numeric order', () => {
      const model = makeDirs(join(root, 'numeric'), ['10', '2', '1', '0']);
      assert.deepEqual(listVersionDirs(model), [0, 1, 2, 10]);
    });

    it('ignores leading zeros, reserved and non-numeric names, and files', () => {
      const ignored = ['007', '00', 'warmup', 'initial_state', 'configs', 'v1', '1abc', '-1', '1.5', '9'.repeat(20)];
      const model = makeDirs(join(root, 'mixed'), ['3', ...ignored]);
      writeFileSync(join(model, '4'), 'a file named like a version');
      writeFileSync(join(model, 'config.pbtxt'), '');
      assert.deepEqual(listVersionDirs(model), [3]);
    });

    it('returns nothing for a model without version directories', () => {
      assert.deepEqual(listVersionDirs(makeDirs(join(root, 'empty'), ['configs'])), []);
    });
  });

  describe('selectVersions', () => {
    const available = [3, 1, 10, 2];

    it('defaults to the latest version', () => {
      assert.deepEqual(selectVersions(undefined, available), [10]);
      assert.deepEqual(selectVersions(undefined, []), []);
    });

    it('takes the n highest for latest', () => {
      assert.deepEqual(selectVersions({ latest: { numVersions: 2 } }, available), [3, 10]);
      assert.deepEqual(selectVersions({ latest: { numVersions: 9 } }, available), [1, 2, 3, 10]);
      assert.deepEqual(selectVersions({ latest: { numVersions: 0 } }, available), []);
    });

    it('takes every version for all, and for a policy with no choice set', () => {
      assert.deepEqual(selectVersions({ all: {} }, available), [1, 2, 3, 10]);
      assert.deepEqual(selectVersions({}, available), [1, 2, 3, 10]);
    });

    it('takes the listed versions that exist for specific', () => {
      assert.deepEqual(selectVersions({ specific: { versions: [10n, 4n, 1n] } }, available), [1, 10]);
      assert.deepEqual(selectVersions({ specific: { versions: [] } }, available), []);
    });
  });

  describe('modelFilePath', () => {
    it('returns <model>/<version>/<file> for a file', () => {
      const model = join(root, 'file-model');
      mkdirSync(join(model, '1'), { recursive: true });
      writeFileSync(join(model, '1', 'model.onnx'), 'onnx');
      assert.equal(modelFilePath(model, 1, 'model.onnx'), join(model, '1', 'model.onnx'));
      assert.equal(modelFilePath(model, 1, ''), join(model, '1', 'model.onnx'));
    });

    it('looks for model.onnx inside a directory named like the model file', () => {
      const model = join(root, 'dir-model');
      mkdirSync(join(model, '2', 'model.onnx'), { recursive: true });
      writeFileSync(join(model, '2', 'model.onnx', 'model.onnx'), 'onnx');
      writeFileSync(join(model, '2', 'model.onnx', 'weights.bin'), 'data');
      assert.equal(modelFilePath(model, 2, 'model.onnx'), join(model, '2', 'model.onnx', 'model.onnx'));
      mkdirSync(join(model, '3', 'encoder.onnx'), { recursive: true });
      writeFileSync(join(model, '3', 'encoder.onnx', 'model.onnx'), 'onnx');
      assert.equal(modelFilePath(model, 3, 'encoder.onnx'), join(model, '3', 'encoder.onnx', 'model.onnx'));
    });

    it('fails when the file is missing, also inside a model directory', () => {
      const model = join(root, 'missing-model');
      mkdirSync(join(model, '1', 'model.onnx'), { recursive: true });
      mkdirSync(join(model, '2'), { recursive: true });
      assert.throws(() => modelFilePath(model, 1, 'model.onnx'), {
        message: `unable to find '${join(model, '1', 'model.onnx', 'model.onnx')}' for model '${model}' version 1`,
      });
      assert.throws(() => modelFilePath(model, 2, 'custom.onnx'), /unable to find/);
    });
  });
});
