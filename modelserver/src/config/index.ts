/**
 * @module config
 * Model configuration: parse config.pbtxt with protoc, pick the file, normalise and validate like Triton.
 */
export { ModelConfigError } from './model-config-error.js';
export { parseModelConfigText } from './parse-config.js';
export { loadModelConfig } from './load-config.js';
export type { LoadModelConfigOptions, LoadedModelConfig } from './load-config.js';
export { normaliseModelConfig } from './normalise-config.js';
export type { NormaliseOptions } from './normalise-config.js';
export { validateModelConfig } from './validate-config.js';
export { validateEnsembleAgainst } from './validate-ensemble.js';
export {
  ENSEMBLE_PLATFORM,
  KNOWN_BACKEND_PLATFORMS,
  ONNXRUNTIME_BACKEND,
  ONNXRUNTIME_DEFAULT_FILENAME,
  ONNXRUNTIME_PLATFORM,
} from './platforms.js';
