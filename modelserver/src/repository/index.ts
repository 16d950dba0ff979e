/**
 * @module repository
 * Triton model repository layout: model names, version directories, version policy, model file paths.
 */
export { listModelNames, listVersionDirs, modelFilePath, selectVersions } from './scan-repository.js';
