/**
 * @module config/validate-config
 * Rejects model configs Triton would refuse to load, with Triton's reasons (core ValidateModelConfig).
 */
import {
  ModelInstanceGroup_Kind,
  ModelQueuePolicy_TimeoutAction,
  type ModelConfig,
  type ModelDynamicBatching,
} from '../../../proto/gen/model_config.js';
import { checkSupported } from './check-supported.js';
import { ModelConfigError } from './model-config-error.js';
import { ENSEMBLE_PLATFORM, KNOWN_BACKEND_PLATFORMS } from './platforms.js';
import { checkEnsembleScheduling } from './validate-ensemble.js';
import { validateSequenceBatching } from './validate-sequence.js';
import { checkModelIo, escapesModelDir, type FailFn } from './validate-io.js';

const TENSORRT_PLATFORM = 'tensorrt_plan';
const KNOWN_KINDS = new Set<number>([
  ModelInstanceGroup_Kind.KIND_AUTO,
  ModelInstanceGroup_Kind.KIND_GPU,
  ModelInstanceGroup_Kind.KIND_CPU,
  ModelInstanceGroup_Kind.KIND_MODEL,
]);

/**
 * Throws for the first problem Triton would refuse the model for, checking only this one config
 * (cross-model ensemble checks are {@link validateEnsembleAgainst}). Works on a raw or a
 * normalised config; Triton validates the normalised one, and so should the loader.
 *
 * Checked: max_batch_size ≥ 0; platform/backend pairing; inputs and outputs (names, data types,
 * dims, reshape, format, duplicates, label files inside the model dir); dynamic and sequence
 * batching sizes and priorities; ensemble rules; instance group kinds and GPU lists; warmup
 * samples (batch_size, fully specified dims, a data source, files inside the model dir).
 * A dynamic_batching block with max_batch_size 0 is allowed (Triton allows it; it has no effect).
 * Last, fields Triton accepts but this server cannot serve as Triton does fail with an
 * UNSUPPORTED reason naming them ({@link checkSupported}).
 *
 * @param file path reported in errors (line and column are 0)
 * @throws ModelConfigError with a Triton-like reason
 * @example
 * validateModelConfig(normaliseModelConfig(config, 'captioner'), 'models/captioner/config.pbtxt');
 */
export function validateModelConfig(config: ModelConfig, file = 'config.pbtxt'): void {
  const fail: FailFn = (reason) => new ModelConfigError(file, 0, 0, reason);
  const name = config.name;
  checkPlatform(config, fail);
  if (config.maxBatchSize < 0) {
    throw fail(`'max_batch_size' must be non-negative value for ${name}`);
  }
  checkModelIo(config, fail);
  if (config.dynamicBatching !== undefined) checkDynamicBatching(config, config.dynamicBatching, fail);
  if (config.sequenceBatching !== undefined) validateSequenceBatching(config, config.sequenceBatching, fail);
  const oldest = config.sequenceBatching?.oldest;
  if (oldest !== undefined) {
    checkPreferredSizes(oldest.preferredBatchSize, config, 'sequence batching preferred batch size', fail);
  }
  checkResponseCache(config, fail);
  if (config.ensembleScheduling !== undefined) {
    checkEnsembleScheduling(config, fail);
  } else if (config.platform === ENSEMBLE_PLATFORM) {
    throw fail(`ensemble scheduling must be set for ensemble ${name} whose platform is ${ENSEMBLE_PLATFORM}`);
  }
  checkInstanceGroups(config, fail);
  checkWarmup(config, fail);
  checkSupported(config, fail);
}

function checkResponseCache(config: ModelConfig, fail: FailFn): void {
  if (!config.responseCache?.enable) return;
  if (config.sequenceBatching !== undefined) {
    throw fail(
      `Response Cache does not currently support model ${config.name} with sequence batching scheduler. ` +
        'Please disable the response cache.',
    );
  }
  if (config.modelTransactionPolicy?.decoupled) {
    throw fail(
      `Response Cache does not currently support model ${config.name} with 'decoupled' transaction policy. ` +
        'Please disable the response cache.',
    );
  }
}

function checkPlatform(config: ModelConfig, fail: FailFn): void {
  const { name, platform, backend } = config;
  if (platform === ENSEMBLE_PLATFORM && backend !== '') {
    throw fail(`Ensemble model '${name}' must have platform type '${platform}' and empty backend type`);
  }
  if (platform === '' && backend === '') {
    throw fail(`must specify 'platform' or 'backend' for '${name}'`);
  }
  // An empty platform is left to normalisation; a custom (unknown) backend may use any platform.
  const platforms = KNOWN_BACKEND_PLATFORMS.get(backend);
  if (platforms !== undefined && platform !== '' && !platforms.includes(platform)) {
    throw fail(`unexpected 'platform' and 'backend' pair, got:${platform}, ${backend}`);
  }
}

function checkDynamicBatching(config: ModelConfig, batching: ModelDynamicBatching, fail: FailFn): void {
  const name = config.name;
  checkPreferredSizes(batching.preferredBatchSize, config, 'dynamic batching preferred size', fail);
  const levels = batching.priorityLevels;
  if (levels !== 0n) {
    if (batching.defaultPriorityLevel === 0n || batching.defaultPriorityLevel > levels) {
      throw fail(`default priority level must be in range [1, ${levels}] for ${name}`);
    }
    for (const level of batching.priorityQueuePolicy.keys()) {
      if (level === 0n || level > levels) {
        throw fail(`priority queue policy must have priority level in range [1, ${levels}] for ${name}`);
      }
    }
  }
  if (batching.preserveOrdering) {
    if (levels > 1n) {
      throw fail(`Only one priority level is allowed when 'preserve_ordering' is true for ${name}`);
    }
    // Delaying a timed-out request would let later requests overtake it.
    const policies = [batching.defaultQueuePolicy, ...batching.priorityQueuePolicy.values()];
    const delays = policies.some(
      (p) =>
        p !== undefined &&
        p.defaultTimeoutMicroseconds !== 0n &&
        p.timeoutAction === ModelQueuePolicy_TimeoutAction.DELAY,
    );
    if (delays) {
      throw fail(`Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for ${name}`);
    }
  }
}

function checkPreferredSizes(sizes: number[], config: ModelConfig, what: string, fail: FailFn): void {
  for (const size of sizes) {
    if (size <= 0) throw fail(`${what} must be positive for ${config.name}`);
    if (size > config.maxBatchSize) throw fail(`${what} must be <= max batch size for ${config.name}`);
  }
}

function checkInstanceGroups(config: ModelConfig, fail: FailFn): void {
  for (const group of config.instanceGroup) {
    const label = `instance group ${group.name} of model ${config.name}`;
    if (!KNOWN_KINDS.has(group.kind)) throw fail(`${label} has unexpected kind ${group.kind}`);
    if (group.kind === ModelInstanceGroup_Kind.KIND_CPU && group.gpus.length > 0) {
      throw fail(`${label} has kind KIND_CPU but specifies one or more GPUs`);
    }
    if (group.kind === ModelInstanceGroup_Kind.KIND_MODEL && group.gpus.length > 0) {
      throw fail(`${label} has kind KIND_MODEL but specifies one or more GPUs`);
    }
    if (group.profile.length > 0 && config.platform !== TENSORRT_PLATFORM) {
      throw fail(
        `${label} and platform ${config.platform}specifies profile field which is only supported for TensorRT models`,
      );
    }
  }
}

function checkWarmup(config: ModelConfig, fail: FailFn): void {
  for (const sample of config.modelWarmup) {
    const label = `model_warmup '${sample.name}'`;
    if (sample.batchSize < 1) throw fail(`${label} must have batch_size >= 1 for ${config.name}`);
    if (config.maxBatchSize === 0 && sample.batchSize !== 1) {
      throw fail(`${label} must have batch_size 1 because ${config.name} does not support batching`);
    }
    for (const [input, spec] of Object.entries(sample.inputs)) {
      if (spec.dims.includes(-1n)) {
        throw fail(`warmup setting expects all variable-size dimensions are specified for input '${input}'`);
      }
      const file = spec.inputDataFile;
      if (spec.zeroData === undefined && spec.randomData === undefined && file === undefined) {
        throw fail(`warmup setting expects input '${input}' to have input_data_type set`);
      }
      if (file !== undefined && escapesModelDir(file)) {
        throw fail(
          `warmup setting input '${input}' input_data_file '${file}' must be a relative path ` +
            'inside the warmup directory',
        );
      }
    }
  }
}
