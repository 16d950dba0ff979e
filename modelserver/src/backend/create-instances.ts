/**
 * @module backend/create-instances
 * Turns a model's `instance_group` list into running ONNX Runtime instances, dividing the
 * machine's cores between them so all are used and none are oversubscribed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type ModelConfig, ModelInstanceGroup_Kind } from '../../../proto/gen/model_config.js';
import { checkSignature } from './check-signature.js';
import type { ModelInstance } from './model-instance.js';
import { OnnxInstance } from './onnx-instance.js';
import { instancesInGroup, intraOpThreadsOf } from './session-options.js';

export interface CreateInstancesOptions {
  /** Cores to divide between this model's instances (default: all of this machine's). */
  readonly cores?: number;
  /** Called once per model when KIND_GPU has to run on CPU. */
  readonly warn: (message: string) => void;
}

/** True when this onnxruntime-node build can run the CUDA execution provider. */
export function cudaAvailable(): boolean {
  const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  if (!cuda) return false;
  if (cuda.bundled) return true;
  // Linux x64 lists 'cuda' (bundled: false) even when its install step skipped the provider
  // library, and then every CUDA session fails to load; look for the library next to the binding.
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
  const bin = join(ortDist, '..', 'bin', 'napi-v6', process.platform, process.arch);
  return ['libonnxruntime_providers_cuda.so', 'onnxruntime_providers_cuda.dll'].some((f) => existsSync(join(bin, f)));
}

/**
 * Starts every instance of `config` (normalised) on `modelPath`, checks the model's inputs and
 * outputs against the config, and returns the instances. If any fails, all are closed.
 */
export async function createInstances(
  config: ModelConfig,
  modelPath: string,
  options: CreateInstancesOptions,
): Promise<ModelInstance[]> {
  const groups = config.instanceGroup;
  const intraOpThreads = intraOpThreadsOf(config, options.cores);
  const cuda = cudaAvailable();
  if (!cuda && groups.some((g) => g.kind === ModelInstanceGroup_Kind.KIND_GPU)) {
    options.warn(
      `model '${config.name}': instance group of kind KIND_GPU but no CUDA execution provider is ` +
        `available; running on CPU (real Triton would refuse to load this model)`,
    );
  }
  const starts: Promise<OnnxInstance>[] = [];
  for (const g of groups) {
    const onGpu = g.kind === ModelInstanceGroup_Kind.KIND_GPU && cuda;
    for (let i = 0; i < instancesInGroup(g.kind, g.count, g.gpus); i++) {
      starts.push(
        OnnxInstance.start(`${g.name}_${i}`, {
          modelPath,
          intraOpThreads,
          executionProviders: onGpu ? ['cuda', 'cpu'] : ['cpu'],
        }),
      );
    }
  }
  const settled = await Promise.allSettled(starts);
  const instances = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const fallback = instances.find((i) => i.cpuFallback !== undefined);
  if (fallback) {
    options.warn(`model '${config.name}': the CUDA execution provider failed (${fallback.cpuFallback}); running on CPU`);
  }
  try {
    if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    if (instances[0]) checkSignature(config, instances[0].signature);
  } catch (err) {
    await Promise.all(instances.map((i) => i.close()));
    throw err;
  }
  return instances;
}
