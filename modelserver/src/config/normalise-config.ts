/**
 * @module config/normalise-config
 * Fills in the defaults Triton adds before serving a config through ModelConfig (kserve-v2-grpc.md §4.3, §4.5).
 */
import {
  ModelConfig,
  ModelInstanceGroup,
  ModelInstanceGroup_Kind,
  ModelOptimizationPolicy,
  ModelVersionPolicy,
} from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import {
  ENSEMBLE_PLATFORM,
  ONNXRUNTIME_BACKEND,
  ONNXRUNTIME_DEFAULT_FILENAME,
  ONNXRUNTIME_PLATFORM,
} from './platforms.js';

// Triton's SEQUENCE_IDLE_DEFAULT_MICROSECONDS.
const SEQUENCE_IDLE_DEFAULT_US = 1_000_000n;
// Backends that opt into 2 CPU instances per group (Triton's SetDefaultInstanceCount): their
// sessions are cheap enough that a second instance overlaps requests instead of adding overhead.
const TWO_CPU_INSTANCE_BACKENDS = new Set([ONNXRUNTIME_BACKEND, 'tensorflow']);

/** Options of {@link normaliseModelConfig} beyond the model name and GPU count. */
export interface NormaliseOptions {
  /** Path reported in errors; defaults to `<modelName>/config.pbtxt`. */
  file?: string;
}

/**
 * Returns a new config the way Triton's ModelConfig RPC reports it: `name` filled (a different
 * name is an error), ONNX Runtime platform/backend/default_model_filename paired, version_policy
 * defaulted to latest 1, preferred batch sizes and sequence idle time defaulted, pinned-memory
 * flags set on non-ensembles, and instance groups resolved. The input is not modified.
 *
 * Product rule that departs from Triton: this server targets machines without GPUs, so a
 * KIND_GPU group with `gpuCount` 0 is kept as KIND_GPU with empty `gpus` (the backend then falls
 * back to CPU and warns) instead of failing the load. KIND_AUTO still resolves to KIND_CPU there.
 *
 * Not done (needs the model files): guessing the backend when both platform and backend are
 * empty, and ONNX Runtime's input/output auto-complete.
 *
 * @param config the parsed config.pbtxt
 * @param modelName the model's directory name
 * @param gpuCount GPUs usable by the server (device ids 0..gpuCount-1)
 * @throws ModelConfigError when `name` is set and differs from `modelName`
 * @throws RangeError when `gpuCount` is not a non-negative integer
 * @example
 * const served = normaliseModelConfig(parseModelConfigText(text, file), 'captioner');
 * served.instanceGroup[0]; // { name: 'captioner', kind: KIND_CPU, count: 2, ... }
 */
export function normaliseModelConfig(
  config: ModelConfig,
  modelName: string,
  gpuCount = 0,
  options: NormaliseOptions = {},
): ModelConfig {
  if (!Number.isInteger(gpuCount) || gpuCount < 0) {
    throw new RangeError(`gpuCount must be a non-negative integer, got ${gpuCount}`);
  }
  const file = options.file ?? `${modelName}/config.pbtxt`;
  // structuredClone copies bigint fields and Map-valued maps, so the caller's object stays untouched.
  const out = structuredClone(config);
  fillName(out, modelName, file);
  fillBackendFields(out);
  fillVersionPolicy(out);
  fillBatchingDefaults(out);
  // Triton keys both of these on ensemble_scheduling, not on the platform string.
  if (out.ensembleScheduling === undefined) {
    fillPinnedMemory(out);
    resolveInstanceGroups(out, gpuCount);
  } else {
    // Triton's ensemble normalisation writes an explicit (non-decoupled) transaction policy.
    out.modelTransactionPolicy ??= { decoupled: false };
  }
  return out;
}

function fillName(config: ModelConfig, modelName: string, file: string): void {
  if (config.name === '') {
    config.name = modelName;
  } else if (config.name !== modelName) {
    throw new ModelConfigError(
      file,
      0,
      0,
      `model name '${config.name}' in the configuration does not match the model directory name '${modelName}'`,
    );
  }
}

function fillBackendFields(config: ModelConfig): void {
  // Ensembles keep platform "ensemble" and an empty backend; validation rejects a backend there.
  if (config.platform === ENSEMBLE_PLATFORM) return;
  if (
    config.backend === '' &&
    (config.platform === ONNXRUNTIME_PLATFORM || config.defaultModelFilename === ONNXRUNTIME_DEFAULT_FILENAME)
  ) {
    config.backend = ONNXRUNTIME_BACKEND;
  }
  if (config.backend === ONNXRUNTIME_BACKEND) {
    if (config.platform === '') config.platform = ONNXRUNTIME_PLATFORM;
    if (config.defaultModelFilename === '') config.defaultModelFilename = ONNXRUNTIME_DEFAULT_FILENAME;
  }
}

function fillVersionPolicy(config: ModelConfig): void {
  if (config.versionPolicy !== undefined) return;
  const policy = ModelVersionPolicy.decode(new Uint8Array(0));
  policy.latest = { numVersions: 1 };
  config.versionPolicy = policy;
}

function fillBatchingDefaults(config: ModelConfig): void {
  const dynamic = config.dynamicBatching;
  if (dynamic !== undefined && dynamic.preferredBatchSize.length === 0 && config.maxBatchSize > 0) {
    dynamic.preferredBatchSize = [config.maxBatchSize];
  }
  const sequence = config.sequenceBatching;
  if (sequence !== undefined) {
    if (sequence.maxSequenceIdleMicroseconds === 0n) {
      sequence.maxSequenceIdleMicroseconds = SEQUENCE_IDLE_DEFAULT_US;
    }
    const oldest = sequence.oldest;
    if (oldest !== undefined && oldest.preferredBatchSize.length === 0 && config.maxBatchSize > 0) {
      oldest.preferredBatchSize = [config.maxBatchSize];
    }
  }
}

function fillPinnedMemory(config: ModelConfig): void {
  const optimization = config.optimization ?? ModelOptimizationPolicy.decode(new Uint8Array(0));
  optimization.inputPinnedMemory ??= { enable: true };
  optimization.outputPinnedMemory ??= { enable: true };
  config.optimization = optimization;
}

function resolveInstanceGroups(config: ModelConfig, gpuCount: number): void {
  if (config.instanceGroup.length === 0) {
    // Triton names the group it creates after the model itself; only groups written without a
    // name get the `<model>_<index>` form below.
    const group = ModelInstanceGroup.decode(new Uint8Array(0));
    group.name = config.name;
    config.instanceGroup.push(group);
  }
  config.instanceGroup.forEach((group, index) => {
    if (group.name === '') group.name = `${config.name}_${index}`;
    if (group.kind === ModelInstanceGroup_Kind.KIND_AUTO) {
      const allListedExist = group.gpus.every((id) => id >= 0 && id < gpuCount);
      group.kind = gpuCount > 0 && allListedExist ? ModelInstanceGroup_Kind.KIND_GPU : ModelInstanceGroup_Kind.KIND_CPU;
    }
    if (group.count < 1) {
      const twoOnCpu = group.kind === ModelInstanceGroup_Kind.KIND_CPU && TWO_CPU_INSTANCE_BACKENDS.has(config.backend);
      group.count = twoOnCpu ? 2 : 1;
    }
    // With gpuCount 0 this leaves `gpus` empty: the product rule above, not an oversight.
    if (group.kind === ModelInstanceGroup_Kind.KIND_GPU && group.gpus.length === 0) {
      group.gpus = Array.from({ length: gpuCount }, (_, id) => id);
    }
  });
}
