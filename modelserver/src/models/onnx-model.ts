/**
 * @module models/onnx-model
 * Loads one version of an `onnxruntime_onnx` model: its instances, the scheduler its config
 * asks for (sequence batcher, dynamic batcher or default), its label files, and its warmup.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { createInstances } from '../backend/create-instances.js';
import { DefaultScheduler } from '../scheduler/default-scheduler.js';
import { DynamicBatcher } from '../scheduler/dynamic-batcher.js';
import { type BatchContext, reshapesOf } from '../scheduler/execute-batch.js';
import { SequenceBatcher } from '../scheduler/sequence-batcher.js';
import { SequenceTensors } from '../scheduler/sequence-tensors.js';
import type { Scheduler } from '../scheduler/types.js';
import { ModelStats } from '../stats/model-stats.js';
import { recordingOutcome, type ServedModel } from './served-model.js';
import { warmUp } from './warmup.js';

/** Reads every output's `label_filename` (relative to the model directory). */
export async function readLabels(config: ModelConfig, modelDir: string): Promise<Map<string, string[]>> {
  const labels = new Map<string, string[]>();
  for (const o of config.output) {
    if (!o.labelFilename) continue;
    const text = await readFile(join(modelDir, o.labelFilename), 'utf8');
    labels.set(o.name, text.split(/\r?\n/).filter((line, i, all) => line !== '' || i < all.length - 1));
  }
  return labels;
}

export interface LoadOnnxOptions {
  readonly cores?: number;
  readonly warn: (message: string) => void;
}

/** Loads `modelPath` as version `version` of the model configured by `config` (normalised). */
export async function loadOnnxModel(
  config: ModelConfig,
  modelDir: string,
  modelPath: string,
  version: number,
  options: LoadOnnxOptions,
): Promise<ServedModel> {
  const labels = await readLabels(config, modelDir);
  const instances = await createInstances(config, modelPath, options);
  try {
    await warmUp(config, modelDir, instances);
  } catch (err) {
    await Promise.all(instances.map((i) => i.close()));
    throw err;
  }
  const stats = new ModelStats(config.name, String(version));
  const ctx: BatchContext = {
    batching: config.maxBatchSize > 0,
    inputReshapes: reshapesOf(config.input),
    outputReshapes: reshapesOf(config.output),
    stats,
  };
  const scheduler: Scheduler = config.sequenceBatching
    ? new SequenceBatcher(instances, config, await SequenceTensors.load(config, modelDir), ctx, { warn: options.warn })
    : config.dynamicBatching
      ? new DynamicBatcher(instances, config.maxBatchSize, config.dynamicBatching, ctx)
      : new DefaultScheduler(instances, ctx);
  return {
    name: config.name,
    version,
    config,
    labels,
    stats,
    infer: recordingOutcome(stats, (job) => scheduler.infer(job)),
    async unload() {
      await scheduler.drain();
      await Promise.all(instances.map((i) => i.close()));
    },
  };
}
