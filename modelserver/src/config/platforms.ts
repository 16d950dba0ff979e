/**
 * @module config/platforms
 * Platform, backend and file names Triton pairs (core constants.h, kserve-v2-grpc.md §4.1).
 */

/** `platform` Triton reports for ONNX models (KServe's list says "onnx_onnxv1"; Triton does not). */
export const ONNXRUNTIME_PLATFORM = 'onnxruntime_onnx';
/** `backend` of ONNX models. */
export const ONNXRUNTIME_BACKEND = 'onnxruntime';
/** Model file (or directory holding a file of the same name) when default_model_filename is empty. */
export const ONNXRUNTIME_DEFAULT_FILENAME = 'model.onnx';
/** `platform` of ensembles, whose `backend` stays empty. */
export const ENSEMBLE_PLATFORM = 'ensemble';

/**
 * Backends Triton knows, with the platforms each accepts; a known backend with another platform is
 * rejected, while an unknown (custom) backend may carry any platform.
 */
export const KNOWN_BACKEND_PLATFORMS: ReadonlyMap<string, readonly string[]> = new Map([
  [ONNXRUNTIME_BACKEND, [ONNXRUNTIME_PLATFORM]],
  ['tensorrt', ['tensorrt_plan']],
  ['pytorch', ['pytorch_libtorch', 'libtorch']],
  ['tensorflow', ['tensorflow_savedmodel', 'tensorflow_graphdef']],
]);
