/**
 * @module repository/scan-repository
 * Reads a Triton model repository's layout: model dirs, version dirs, versions to serve, model files (§4.1).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelVersionPolicy } from '../../../proto/gen/model_config.js';

// Always a file named model.onnx inside a model.onnx directory (onnxruntime_backend LoadModel),
// whatever default_model_filename says: the layout for models with external weight files.
const ONNX_FILE_IN_DIR = 'model.onnx';
const DEFAULT_MODEL_FILENAME = 'model.onnx';
// Subdirectories with a meaning of their own; never versions.
const RESERVED_DIRS = new Set(['warmup', 'initial_state', 'configs']);

/**
 * Names of the models in a repository: its subdirectories (symlinks followed), sorted by code
 * unit like Triton's std::set. Files at the top level are ignored.
 *
 * @example
 * listModelNames('/models'); // ['captioner', 'encoder']
 */
export function listModelNames(repoDir: string): string[] {
  return subdirectories(repoDir).sort();
}

/**
 * Version numbers present in a model directory, ascending. Only all-digit directory names count;
 * a name with a leading "0" is ignored unless it is "0" itself (version 0), as in Triton.
 * `warmup`, `initial_state`, `configs` and any other name are skipped.
 *
 * Triton parses names with std::stoll, which would also read "1abc" as version 1 and "-1" as -1;
 * those are ignored here on purpose.
 *
 * @example
 * listVersionDirs('/models/captioner'); // [1, 2, 10]  (from dirs 1, 2, 10, 007, warmup)
 */
export function listVersionDirs(modelDir: string): number[] {
  const versions: number[] = [];
  for (const name of subdirectories(modelDir)) {
    if (RESERVED_DIRS.has(name)) continue;
    if (!/^\d+$/.test(name)) continue;
    if (name.length > 1 && name.startsWith('0')) continue;
    const version = Number(name);
    // Beyond 2^53 a number no longer names one directory; Triton's int64 would overflow later.
    if (!Number.isSafeInteger(version)) continue;
    versions.push(version);
  }
  return versions.sort((a, b) => a - b);
}

/**
 * The versions to serve under a version policy, ascending: `latest { num_versions: n }` → the n
 * highest; `specific { versions }` → the listed ones that exist (a missing one is skipped, as Triton
 * logs and skips it); `all`, or a policy with no choice set → all; no policy → latest 1.
 *
 * @param available version numbers found on disk, in any order
 * @example
 * selectVersions({ latest: { numVersions: 2 } }, [1, 3, 2]); // [2, 3]
 */
export function selectVersions(policy: ModelVersionPolicy | undefined, available: number[]): number[] {
  const ascending = [...new Set(available)].sort((a, b) => a - b);
  if (policy === undefined) return ascending.slice(-1);
  if (policy.specific !== undefined) {
    const wanted = new Set(policy.specific.versions.map(Number));
    return ascending.filter((v) => wanted.has(v));
  }
  if (policy.latest !== undefined) {
    const count = policy.latest.numVersions;
    return count === 0 ? [] : ascending.slice(-count);
  }
  return ascending;
}

/**
 * Path of the model file for one version: `<modelDir>/<version>/<defaultModelFilename>`, or, when
 * that path is a directory, the `model.onnx` inside it (ONNX models with external data).
 * An empty `defaultModelFilename` means `model.onnx`.
 *
 * @throws Error like Triton's "unable to find '<path>'" when the resolved file does not exist
 * @example
 * modelFilePath('/models/captioner', 1, 'model.onnx');
 * // '/models/captioner/1/model.onnx', or '/models/captioner/1/model.onnx/model.onnx' for a directory
 */
export function modelFilePath(modelDir: string, version: number, defaultModelFilename: string): string {
  const fileName = defaultModelFilename === '' ? DEFAULT_MODEL_FILENAME : defaultModelFilename;
  let path = join(modelDir, String(version), fileName);
  if (isDirectory(path)) path = join(path, ONNX_FILE_IN_DIR);
  if (!isFile(path)) throw new Error(`unable to find '${path}' for model '${modelDir}' version ${version}`);
  return path;
}

function subdirectories(dir: string): string[] {
  return readdirSync(dir).filter((name) => isDirectory(join(dir, name)));
}

// statSync follows symlinks, so a linked model or version directory counts like Triton's stat().
function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
